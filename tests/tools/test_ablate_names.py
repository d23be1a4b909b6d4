"""tools/analysis_tools/ablate_lavit.py names each run's work dir after its options (stable across processes,
unlike hash()), so that a finished run is read back."""
import subprocess
import sys

import ablate_lavit


def test_variant_work_dirs_are_stable_readable_and_distinct(tmp_path):
    dirs = [ablate_lavit.variant_dir(opts, 1, 'w') for opts in ablate_lavit.VARIANTS.values()]
    assert len(set(dirs)) == len(dirs)
    assert dirs[0] == 'w/defaults_s1' and 'w/la_chain-scores_s1' in dirs and 'w/dp_loss_weight-0.0_s1' in dirs
    # the same in another process (hash() of a str is salted per process)
    code = ('import sys; sys.path.insert(0, "tools/analysis_tools"); import ablate_lavit as a; '
            'print([a.variant_dir(o, 1, "w") for o in a.VARIANTS.values()])')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(dirs)
