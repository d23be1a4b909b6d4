"""mmlavit.analysis.study: runs through stand-in train/test tools (no training): read back instead of
trained again, superseded when the command changes, a test after its training, one lock for threads and
processes, the job order with ``needs``, busy runs deferred, ``collect`` that never trains, and tools/configs
found under ROOT while work dirs are relative to the current directory."""
import glob
import json
import os
import os.path as osp
import subprocess
import sys
import threading
import time

import pytest

from mmlavit.analysis import study as st

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))

# A stand-in for tools/train.py: logs its calls, writes one scalars.json and a checkpoint, then sleeps for
# the config's "sleep" (a JSON file here).
FAKE_TRAIN = '''import json, os, sys, time
wd = sys.argv[sys.argv.index("--work-dir") + 1]
os.makedirs(os.path.join(wd, "20260101_000000", "vis_data"), exist_ok=True)
with open(os.path.join(os.path.dirname(os.path.abspath(wd)), "calls.log"), "a") as f:
    f.write(f"start {os.path.basename(wd)} {time.time()}\\n")
cfg = json.load(open(sys.argv[1])) if sys.argv[1].endswith(".json") else {}
time.sleep(cfg.get("sleep", 0))
with open(os.path.join(wd, "20260101_000000", "vis_data", "scalars.json"), "w") as f:
    f.write(json.dumps({"loss": 1.0, "step": 1}) + "\\n")
    f.write(json.dumps({"accuracy/top1": cfg.get("acc", 50.0), "step": 2}) + "\\n")
open(os.path.join(wd, "epoch_1.pth"), "w").close()
with open(os.path.join(os.path.dirname(os.path.abspath(wd)), "calls.log"), "a") as f:
    f.write(f"end {os.path.basename(wd)} {time.time()}\\n")
'''
# A stand-in for tools/test.py: mmengine's test dump, <work_dir>/<time>/<time>.json.
FAKE_TEST = '''import json, os, sys
wd = sys.argv[sys.argv.index("--work-dir") + 1]
os.makedirs(os.path.join(wd, "20260101_000001"), exist_ok=True)
with open(os.path.join(wd, "20260101_000001", "20260101_000001.json"), "w") as f:
    json.dump({"accuracy/top1": 42.0, "checkpoint": os.path.basename(sys.argv[2])}, f)
'''


@pytest.fixture()
def tools(tmp_path):
    (tmp_path / 'fake_train.py').write_text(FAKE_TRAIN)
    (tmp_path / 'fake_test.py').write_text(FAKE_TEST)
    return str(tmp_path / 'fake_train.py'), str(tmp_path / 'fake_test.py')


def _cfg(tmp_path, name='cfg.json', **kw):
    p = tmp_path / name
    p.write_text(json.dumps(kw))
    return str(p)


def _calls(log):
    return [line.split()[:2] for line in open(log)] if osp.isfile(log) else []


def test_read_back_supersede_and_test_after_training(tmp_path, tools):
    train, test = tools
    cfg = _cfg(tmp_path, acc=61.0)
    wd = str(tmp_path / 'runs' / 'a')
    run = st.Run(cfg, wd, ['x=1'], seed=0, tool=train, test=st.Test('epoch_*.pth', osp.join(wd, 'test'),
                                                                    ('y=2',), tool=test))
    res = st.Study().run([run])[wd]
    assert res.last('accuracy/top1') == 61.0 and res.seconds > 0
    assert res.test == {'accuracy/top1': 42.0, 'checkpoint': 'epoch_1.pth'}
    marker = json.load(open(osp.join(wd, 'run.json')))
    assert marker['args'][-3:] == ['--cfg-options', 'x=1', 'randomness.seed=0']
    assert marker['config_digest'] == st.config_digest(cfg)  # mmengine reads JSON configs too
    assert json.load(open(osp.join(wd, 'test', 'run.json')))['args'][-2:] == ['--cfg-options', 'y=2']
    log = str(tmp_path / 'runs' / 'calls.log')
    assert st.Study().run([run])[wd].test == res.test and len(_calls(log)) == 2  # read back, not trained
    again = st.Run(cfg, wd, ['x=1'], seed=1, tool=train, test=run.test)  # another command: trained again
    assert st.Study().run([again])[wd] is not None and len(_calls(log)) == 4
    old, = glob.glob(wd + '.superseded-*')  # the earlier finished run is kept, with its test
    assert osp.isfile(osp.join(old, 'run.json')) and st.read_test(osp.join(old, 'test')) is not None
    assert st.Study(reuse=False).run([again])[wd] is not None and len(_calls(log)) == 6  # --retrain


def test_collect_never_trains(tmp_path, tools):
    train, test = tools
    cfg = _cfg(tmp_path)
    done = st.Run(cfg, str(tmp_path / 'done'), tool=train)
    st.Study().run([done])
    missing = st.Run(cfg, str(tmp_path / 'missing'), tool=train)
    untested = st.Run(cfg, str(tmp_path / 'done'), tool=train,
                      test=st.Test('epoch_1.pth', str(tmp_path / 'done' / 'test'), tool=test))
    assert st.collect(untested) is None  # trained, but its test did not run
    out = st.Study(collect=True).run([done, missing])
    assert out[done.work_dir].last('accuracy/top1') == 50.0 and out[missing.work_dir] is None
    assert not osp.exists(missing.work_dir)


def test_jobs_honour_needs_and_failures_are_reported(tmp_path, tools):
    train, _ = tools
    slow = _cfg(tmp_path, 'slow.json', sleep=0.5)
    fast = _cfg(tmp_path)
    runs = tmp_path / 'runs'
    teacher = st.Run(slow, str(runs / 'teacher'), tool=train)
    student = st.Run(fast, str(runs / 'student'), tool=train, needs=(teacher.work_dir,))
    other = st.Run(fast, str(runs / 'other'), tool=train)
    broken = st.Run(str(tmp_path / 'nope.json'), str(runs / 'broken'), tool=train)
    after_broken = st.Run(fast, str(runs / 'after'), tool=train, needs=(broken.work_dir,))
    s = st.Study(jobs=2)
    out = s.run([teacher, student, other, broken, after_broken])
    calls = _calls(str(runs / 'calls.log'))
    assert calls.index(['start', 'student']) > calls.index(['end', 'teacher'])
    assert calls.index(['start', 'other']) < calls.index(['end', 'teacher'])  # two at once
    assert out[student.work_dir] is not None and out[broken.work_dir] is None
    assert 'failed (exit 1)' in s.failed[broken.work_dir] and 'nope.json' in s.failed[broken.work_dir]
    assert 'did not finish' in s.failed[after_broken.work_dir]
    with pytest.raises(ValueError, match='not listed before it'):
        st.Study().run([student, teacher])


def test_one_lock_for_threads_and_processes(tmp_path):
    lock = str(tmp_path / 'x.lock')
    code = ('import fcntl, sys\n'  # another process's flock on the same file (no mmlavit import: fast)
            'f = open(sys.argv[1], "a")\n'
            'try:\n    fcntl.flock(f, fcntl.LOCK_EX | fcntl.LOCK_NB); print(True)\n'
            'except BlockingIOError:\n    print(False)\n')
    with st.flock(lock) as held:
        assert held
        seen = []
        t = threading.Thread(target=lambda: seen.append(st.flock(lock, blocking=False).__enter__()))
        t.start()
        t.join()
        assert seen == [False]  # another thread of this process
        out = subprocess.run([sys.executable, '-c', code, lock], capture_output=True, text=True, check=True)
        assert out.stdout.strip() == 'False'  # another process
    out = subprocess.run([sys.executable, '-c', code, lock], capture_output=True, text=True, check=True)
    assert out.stdout.strip() == 'True'


def test_a_run_held_elsewhere_is_deferred_then_read_back(tmp_path, tools):
    """Another process trains run a (its lock is held): the study trains b first, then waits for a."""
    train, _ = tools
    cfg = _cfg(tmp_path)
    a = st.Run(cfg, str(tmp_path / 'runs' / 'a'), tool=train)
    b = st.Run(cfg, str(tmp_path / 'runs' / 'b'), tool=train)
    holder = st.flock(a.work_dir + '.lock')
    holder.__enter__()
    out = {}
    t = threading.Thread(target=lambda: out.update(st.Study().run([a, b])))
    t.start()
    for _ in range(600):
        if osp.isfile(osp.join(b.work_dir, 'run.json')):
            break
        time.sleep(0.05)
    assert osp.isfile(osp.join(b.work_dir, 'run.json')) and not osp.exists(a.work_dir)
    holder.__exit__(None, None, None)
    t.join()
    assert out[a.work_dir] is not None and out[b.work_dir] is not None


def test_tools_and_configs_under_root_work_dirs_here(tmp_path, monkeypatch):
    """Tools and configs are found under ROOT (this checkout, or mmlavit/.mim when installed) but runs, and
    their work dirs, are in the caller's current directory."""
    assert st.ROOT == ROOT
    wheel = tmp_path / 'site-packages' / 'mmlavit'  # an installed package: tools and configs under .mim
    for d in (wheel / '.mim' / 'tools', wheel / '.mim' / 'configs'):
        d.mkdir(parents=True)
    (wheel / '.mim' / 'tools' / 'train.py').write_text('')
    assert st._root(str(wheel)) == str(wheel / '.mim')
    tool = tmp_path / 'fake_train.py'
    tool.write_text('import json, os, sys\n'
                    'wd = sys.argv[sys.argv.index("--work-dir") + 1]\n'
                    'os.makedirs(os.path.join(wd, "r", "vis_data"))\n'
                    'call = dict(cwd=os.getcwd(), config=sys.argv[1])\n'
                    'json.dump(call, open(os.path.join(wd, "c.json"), "w"))\n'
                    'open(os.path.join(wd, "r", "vis_data", "scalars.json"), "w").write(\'{"a": 1}\\n\')\n')
    here = tmp_path / 'elsewhere'
    here.mkdir()
    monkeypatch.chdir(here)
    cfg = 'configs/lavit/lavit-t_synth-cls.py'
    assert st.repo_path(cfg) == osp.join(ROOT, cfg)
    run = st.Run('configs/lavit/lavit-t_synth-cls.py', 'work_dirs/run', tool=str(tool))
    res = st.Study().run([run])['work_dirs/run']
    call = json.load(open(here / 'work_dirs' / 'run' / 'c.json'))
    assert res.scalars == [{'a': 1}] and call['cwd'] == str(here)
    assert call['config'] == osp.join(ROOT, 'configs/lavit/lavit-t_synth-cls.py')
    assert json.load(open(here / 'work_dirs' / 'run' / 'run.json'))['config_digest']  # a real config
    assert not osp.exists(osp.join(ROOT, 'work_dirs', 'run', 'c.json'))


def test_readers(tmp_path):
    wd = tmp_path / 'w'
    for ts, acc in (('20260101_000000', 1.0), ('20260102_000000', 2.0)):
        os.makedirs(wd / ts / 'vis_data')
        (wd / ts / 'vis_data' / 'scalars.json').write_text(
            json.dumps({'lr': 0.1, 'loss': 3.0}) + '\n' + json.dumps({'accuracy/top1': acc}) + '\n')
        (wd / ts / f'{ts}.json').write_text(json.dumps({'accuracy/top1': acc + 10}))
    (wd / 'other.json').write_text('{}')
    assert [r.get('accuracy/top1') for r in st.read_scalars(str(wd))] == [None, 1.0, None, 2.0]
    assert st.read_test(str(wd)) == {'accuracy/top1': 12.0}  # the newest test dump
    assert st.last_val_metrics(str(wd)) == {'accuracy/top1': 2.0}  # the newest run's last val record
    assert st.read_test(str(tmp_path)) is None
    with pytest.raises(FileNotFoundError, match='did training run there'):
        st.last_val_metrics(str(tmp_path))
