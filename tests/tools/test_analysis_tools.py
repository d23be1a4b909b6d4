"""The study tools of tools/analysis_tools (the benchmark and attention tools: tests/analysis/)."""
import glob
import importlib.util
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def _load(name):
    path = osp.join(ROOT, 'tools', 'analysis_tools', f'{name}.py')
    spec = importlib.util.spec_from_file_location(name, path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


def test_study_runs_are_read_back_not_retrained(tmp_path):
    """experiments.train records each finished run; with reuse=True the same command is read back, a changed
    one (another seed) trains again after moving the earlier run aside."""
    from experiments import train
    tool = tmp_path / 'fake_train.py'
    tool.write_text(
        'import json, os, sys\n'
        'wd = sys.argv[sys.argv.index("--work-dir") + 1]\n'
        'os.makedirs(os.path.join(wd, "r", "vis_data"), exist_ok=True)\n'
        'with open(os.path.join(wd, "calls"), "a") as f: f.write("x")\n'
        'with open(os.path.join(wd, "r", "vis_data", "scalars.json"), "w") as f:\n'
        '    f.write(json.dumps({"accuracy/top1": 50.0}) + "\\n")\n')
    wd = str(tmp_path / 'run')
    recs, t = train('cfg.py', wd, seed=0, tool=str(tool))
    assert recs == [{'accuracy/top1': 50.0}] and t > 0
    assert train('cfg.py', wd, seed=0, tool=str(tool), reuse=True) == (recs, t)
    assert open(osp.join(wd, 'calls')).read() == 'x'  # not run again
    train('cfg.py', wd, seed=1, tool=str(tool), reuse=True)  # another command: trained again
    assert open(osp.join(wd, 'calls')).read() == 'x'
    old, = glob.glob(wd + '.superseded-*')  # the earlier finished run is kept, not overwritten
    assert open(osp.join(old, 'calls')).read() == 'x' and osp.isfile(osp.join(old, 'run.json'))


def test_distill_gradients_rejects_a_config_without_distiller():
    mod = _load('distill_gradients')
    with pytest.raises(SystemExit, match='not SingleTeacherDistiller'):
        mod.main([osp.join(ROOT, 'configs', 'distill', 'baselines', 'resnet8_synth-cls100.py')])
