"""The study CLIs in tools/analysis_tools/ are thin: run as scripts (one interpreter, runpy) they import only
the package, and ``--collect`` writes their tables from finished runs without training (a missing run is
listed, not trained)."""
import ast
import json
import os.path as osp
import subprocess
import sys

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
SCRIPTS = ('distill_study', 'distill_sweep', 'fewshot_study', 'ablate_lavit', 'print_metrics')

RUN = '''import json, runpy, sys
codes = {}
for script, argv in json.loads(sys.argv[1]):
    sys.argv = [script, *argv]
    try:
        runpy.run_path(script, run_name='__main__')
    except SystemExit as e:
        codes[script.rsplit('/', 1)[-1]] = e.code
print(json.dumps(codes))
'''


def test_collect_through_the_scripts(tmp_path, fake_run):
    out = str(tmp_path / 'study')
    root = osp.join(out, 'font-glyphs100')
    fake_run(osp.join(root, 'teacher_resnet32_e30'), val=80.0, test=78.5)
    fake_run(osp.join(root, 'teacher_resnet32_e30-resnet8x0.25_e30', 'kd_s0'), val=70.0, test=69.0)

    def script(name):
        return osp.join(ROOT, 'tools', 'analysis_tools', f'{name}.py')
    glyphs = ['--data', 'font-glyphs100', '--seeds', '0', '--out-dir', out, '--collect']
    calls = [(script('distill_study'), [*glyphs, '--methods', 'KD']),
             (script('distill_study'), [*glyphs, '--protocol', 'fair']),
             (script('distill_sweep'), [*glyphs, '--sweeps', 'batch']),
             (script('fewshot_study'), ['--out-dir', str(tmp_path / 'fs'), '--collect']),
             (script('ablate_lavit'), ['--variants', '0', '--seeds', '0', '--collect', '--out-dir',
                                       str(tmp_path / 'abl')]),
             (script('print_metrics'), [osp.join(root, 'teacher_resnet32_e30')])]
    res = subprocess.run([sys.executable, '-c', RUN, json.dumps(calls)], cwd=str(tmp_path),
                         capture_output=True, text=True, timeout=600)
    assert res.returncode == 0, res.stderr[-3000:]
    assert json.loads(res.stdout.strip().splitlines()[-1]) == {osp.basename(c[0]): 0 for c in calls}
    assert '| KD | 69.00 ± 0.00 (n = 1) | 69.0 |' in open(osp.join(out, 'font-glyphs100_kd.md')).read()
    fair = open(osp.join(out, 'font-glyphs100_fair.md')).read()
    assert '| KD | 69.00 ± 0.00 (n = 1) |' in fair  # published
    assert '| KD | tuning not finished (0 of 8 settings) |' in fair
    assert '| CLKD | batch_size 32 | not run |' in open(osp.join(out, 'font-glyphs100_sweep.md')).read()
    assert 'run(s) not finished' in open(osp.join(out, 'font-glyphs100_sweep.md')).read()
    assert '| method |' in open(tmp_path / 'fs' / 'synth_1shot.md').read()
    assert '| not finished |' in open(tmp_path / 'abl' / 'ablation.md').read()
    assert 'accuracy/top1: 80.0' in res.stdout  # print_metrics: the last validation record
    assert not (tmp_path / 'abl' / 'defaults_s0').exists()  # nothing trained


def test_scripts_import_only_the_package():
    """No script imports another file of tools/ or edits the import path: standard modules and mmlavit."""
    for name in SCRIPTS + ('distill_gradients',):
        tree = ast.parse(open(osp.join(ROOT, 'tools', 'analysis_tools', f'{name}.py')).read())
        modules = {a.name.split('.')[0] for n in ast.walk(tree) if isinstance(n, ast.Import) for a in n.names}
        modules |= {n.module.split('.')[0] for n in ast.walk(tree) if isinstance(n, ast.ImportFrom)}
        allowed = {'argparse', 'itertools', 'os', 'sys', 'torch', 'mmengine', 'mmlavit'}
        assert modules <= allowed, (name, modules)
        assert not [n for n in ast.walk(tree) if isinstance(n, ast.Attribute) and n.attr == 'path'
                    and isinstance(n.value, ast.Name) and n.value.id == 'sys'], name
