#!/usr/bin/env bash
# Idempotent set-up of the project's virtual environment (.venv/ at the repository root).
#
# Encodes the verified recipe (see README "Installation"): every pip call below is constrained by
# requirements/constraints.txt (the exact versions of the verified stack), so a dependency that pins old
# versions (openmim -> opendatalab -> openxlab once downgraded setuptools and torch) cannot move them:
#   torch==2.13.0 (CUDA build, runs on CPU; the local +cpu wheel breaks torchvision ops) + torchvision==0.28.0
#   setuptools>=77.0.3,<82 (mmengine / mmcv's build import pkg_resources)
#   mmcv==2.1.0 with ops: from ../shared/wheels when present, else built from source (~30 min on 2 cores)
#   mmengine==0.10.7, mmdet==3.3.0, mmsegmentation==1.2.2 (+ ftfy, regex), mmpretrain==1.2.0
#   openmim (mim), timm==1.0.31 (benchmarks only, never imported by mmlavit), flake8, isort, pytest
#   onnx, onnxruntime, onnxscript (the `deploy` extra: tools/deployment, tests/deployment)
#   pip install -e . (mmlavit itself, with mmlavit-startup.pth: `mmlavit::` bases and mim, see below)
# and ends by comparing `pip freeze` with the constraints. A second run finds the stamp file and does nothing.
set -euo pipefail

ROOT="$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)"
VENV="${MMLAVIT_VENV:-$ROOT/.venv}"
PY="${PYTHON:-python3.11}"
command -v "$PY" >/dev/null 2>&1 || PY=python3
STAMP="$VENV/.mmlavit-installed"
# The stamp records the recipe; changing this string forces a re-install of the dependencies.
CONSTRAINTS="$ROOT/requirements/constraints.txt"
RECIPE="constraints $(sha1sum "$CONSTRAINTS" | cut -c1-12) startup-pth r5"

if [[ -f "$STAMP" && "$(cat "$STAMP")" == "$RECIPE" ]]; then
    echo "[install] $VENV is up to date (delete $STAMP to force a re-install)."
    exit 0
fi

t0=$(date +%s)
echo "[install] creating the environment in $VENV with $($PY --version 2>&1)"
[[ -x "$VENV/bin/python" ]] || "$PY" -m venv "$VENV"
VPY="$VENV/bin/python"
PIP=(pip_install)
pip_install() {  # pip install, without the machine-config "Location ... is ignored" noise
    "$VPY" -m pip install --disable-pip-version-check --progress-bar off -c "$CONSTRAINTS" "$@" \
        2> >(grep -v "is ignored: it is neither" >&2)
}

"${PIP[@]}" -q --upgrade pip  # pip itself is not in the constraints
"${PIP[@]}" -q "setuptools>=77.0.3,<82" wheel ninja

echo "[install] torch 2.13.0 (CUDA build, runs on the CPU) + torchvision 0.28.0 — a large download the first time"
"${PIP[@]}" -q "torch==2.13.0,!=2.13.0+cpu" "torchvision==0.28.0"

WHEELS="${MMCV_WHEELS:-$ROOT/../shared/wheels}"
MMCV_SRC=()
if "$VPY" -c "import mmcv.ops, mmcv; assert mmcv.__version__ == '2.1.0'" >/dev/null 2>&1; then
    echo "[install] mmcv 2.1.0 with ops already present"
elif compgen -G "$WHEELS/mmcv-2.1.0-*.whl" >/dev/null; then
    echo "[install] mmcv 2.1.0 with ops: prebuilt wheel from $WHEELS"
    MMCV_SRC=(--find-links "$WHEELS")
else
    echo "[install] no prebuilt mmcv wheel in $WHEELS: building mmcv 2.1.0 with ops from source."
    echo "[install] this takes about 30 minutes on 2 cores (pip caches the result); a dot a minute follows."
    ( while sleep 60; do printf '.'; done ) & ticker=$!
    trap 'kill $ticker 2>/dev/null || true' EXIT
    MMCV_WITH_OPS=1 MAX_JOBS="${MAX_JOBS:-2}" "${PIP[@]}" -q --no-build-isolation --no-deps "mmcv==2.1.0"
    kill $ticker 2>/dev/null || true; echo
fi

echo "[install] mmcv, mmengine, mmdet, mmsegmentation, mmpretrain and the test tools"
"${PIP[@]}" -q "${MMCV_SRC[@]}" "mmcv==2.1.0" "mmengine==0.10.7" "mmdet==3.3.0" "mmsegmentation==1.2.2" \
    "mmpretrain==1.2.0" ftfy regex "setuptools>=77.0.3,<82" "torch==2.13.0,!=2.13.0+cpu" "torchvision==0.28.0" \
    pycocotools scipy matplotlib scikit-learn pytest pytest-xdist openmim "timm==1.0.31" flake8 isort \
    "onnx==1.23.2" "onnxruntime==1.32.0" "onnxscript==0.7.2"

echo "[install] mmlavit (editable)"
"${PIP[@]}" -q --no-deps --no-build-isolation -e "$ROOT"
# The install puts mmlavit-startup.pth into site-packages (recorded, so `pip uninstall mmlavit` removes it):
# it makes `mmlavit::` bases parse under the upstream tools and points mmengine's and mim's package look-up
# at the source package, so mim finds .mim/ without a link. Recipes before r5 made a link
# site-packages/mmlavit -> the source package, which pip did not record: remove it.
SITE="$("$VPY" -c "import sysconfig; print(sysconfig.get_paths()['purelib'])")"
if [[ -L "$SITE/mmlavit" ]]; then rm "$SITE/mmlavit"; fi

"$VPY" - <<'PY'
import torch, torchvision, mmcv, mmcv.ops, mmengine, mmdet, mmseg, mmpretrain, mmlavit
from torchvision.ops import nms  # the local +cpu torch wheel breaks this import
print(f"[install] torch {torch.__version__}, torchvision {torchvision.__version__}, mmcv {mmcv.__version__}, "
      f"mmengine {mmengine.__version__}, mmdet {mmdet.__version__}, mmseg {mmseg.__version__}, "
      f"mmpretrain {mmpretrain.__version__}, mmlavit {mmlavit.__version__}")
PY
"$VPY" - "$CONSTRAINTS" <<'PY'
import subprocess, sys
pinned = dict(l.strip().split('==', 1) for l in open(sys.argv[1]) if '==' in l and not l.startswith('#'))
frozen = subprocess.run([sys.executable, '-m', 'pip', 'freeze', '--all'], capture_output=True, text=True).stdout
have = dict(l.split('==', 1) for l in frozen.splitlines() if '==' in l)
norm = lambda n: n.lower().replace('_', '-')
have = {norm(k): v for k, v in have.items()}
bad = [f'{k}: {have.get(norm(k))} (constraint {v})' for k, v in pinned.items()
       if norm(k) in have and have[norm(k)] != v]
if bad:
    sys.exit('[install] pip freeze differs from requirements/constraints.txt:\n  ' + '\n  '.join(bad))
print(f'[install] pip freeze matches requirements/constraints.txt ({len(pinned)} pins)')
PY
echo "$RECIPE" > "$STAMP"
echo "[install] done in $(( $(date +%s) - t0 )) s"
