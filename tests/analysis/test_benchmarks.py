"""The benchmark suites of mmlavit.analysis on their small paths (tiny inputs, one round): every measurement
is made and reported; no timing is asserted. The whole-model suite is in test_bench_models.py."""
import os.path as osp

import pytest

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))


def test_benchmark_backbones_side_by_side(tmp_path):
    """One interleaved run: LaViT-T, its twin and mmdet's PVTv2-b1 on small inputs; the table carries the
    matmul peak, the peak share, the training step and the ratio lines; the layer table every stage."""
    from mmlavit.analysis.bench_backbones import main
    assert main(['--models', 'LaViT-T', 'LaViT-T twin', 'LaViT-T scores', 'mmdet PVTv2-b1', '--shapes', '64',
                 '--train-shapes', '64', '--repeats', '1', '--warmup', '0', '--threads', '1',
                 '--out-dir', str(tmp_path)]) == 0
    table = (tmp_path / 'benchmark_backbones.md').read_text()
    assert 'fp32 matmul peak measured in this run' in table and 'GFLOP/s' in table
    rows = [line for line in table.splitlines() if line.startswith('| LaViT-T | ')]
    assert len(rows) == 1 and rows[0].count('%') == 1 and '—' not in rows[0]  # timed fwd+bwd and saved bytes
    assert '| LaViT-T over its all-attention twin |' in table and '| LaViT-T over mmdet PVTv2-b1 |' in table
    assert '**LaViT-T over the fastest PVTv2-b1** | ' in table and '(mmdet)' in table
    assert "| LaViT-T with our chain (la_chain='scores') over the default (the paper's) | " in table
    layers = (tmp_path / 'va_vs_la_layers.md').read_text()
    assert sum(line.startswith('| 64×64') for line in layers.splitlines()) == 4
    with pytest.raises(SystemExit, match='unknown model'):
        main(['--models', 'PVTv9', '--out-dir', str(tmp_path)])


def test_benchmark_backbones_sweep(tmp_path):
    import json

    from mmlavit.analysis.bench_backbones import main
    assert main(['--models', 'LaViT-T', 'mmdet PVTv2-b1', '--sweep', '64', '64x96', '--repeats', '1',
                 '--warmup', '0', '--threads', '1', '--out-dir', str(tmp_path)]) == 0
    res = json.load(open(tmp_path / 'sweep.json'))
    assert [(r['model'], r['shape']) for r in res['rows']] == [
        ('LaViT-T', [64, 64]), ('mmdet PVTv2-b1', [64, 64]),
        ('LaViT-T', [64, 96]), ('mmdet PVTv2-b1', [64, 96])]
    assert all(r['fwd'] > 0 for r in res['rows']) and 'threads' in res['machine']


def test_benchmark_gpu_cpu_smoke(tmp_path):
    """The GPU suite's --device cpu --quick path: fp32, bf16 autocast and torch.compile (the eager backend:
    dynamo's graph capture; AOT autograd's capture of LaViT is test_lavit.py's compile test), each with a
    training step whose loss and gradients must be finite and whose peak memory is reported."""
    from mmlavit.analysis.bench_gpu import main
    assert main(['--device', 'cpu', '--quick', '--models', 'LaViT-T', '--shapes', '64', '--modes', 'fp32',
                 'amp-bf16', 'compile', '--out-dir', str(tmp_path)]) == 0
    table = (tmp_path / 'benchmark_gpu.md').read_text()
    for mode in ('fp32', 'amp-bf16', 'compile'):
        assert f'| LaViT-T | 64×64 | 1 | {mode} |' in table
    assert table.count('| True |') == 3 and 'RSS growth' in table and 'compile backend eager' in table


def test_benchmark_distill_uses_the_committed_method_configs(tmp_path):
    from mmlavit.analysis.bench_distill import main, methods
    blocks = methods(32, 64)
    trg = blocks['TRG (+KD)']['losses']['loss_trg']
    assert (trg['student_dim'], trg['teacher_dim'], trg['patch_size']) == (32, 64, 4)  # from methods/trg.py
    assert blocks['CLKD']['losses']['loss_clkd']['loss_weight'] == 4.0
    assert main(['--teacher', 'resnet14', '--student', 'resnet8', '--batch', '4', '--repeats', '1',
                 '--warmup', '0', '--device', 'cpu', '--out-dir', str(tmp_path)]) == 0
    table = (tmp_path / 'benchmark_distill.md').read_text()
    for name in ('student alone', 'KD', 'DKD', 'CLKD', 'TRG (+KD)'):
        assert f'| {name} |' in table
    assert '| student alone | ' in table and '| 1.00 |' in table  # the student's ratio over itself


def test_benchmark_fewshot_relates_gp_to_its_base(tmp_path):
    from mmlavit.analysis.bench_fewshot import main
    assert main(['--methods', 'MAML', 'GP-MAML', 'ANIL', '--img-size', '16', '--channels', '8', '--queries',
                 '1', '--meta-batch', '1', '--repeats', '1', '--warmup', '0', '--device', 'cpu',
                 '--out-dir', str(tmp_path)]) == 0
    lines = (tmp_path / 'benchmark_fewshot.md').read_text().splitlines()
    gp = next(x for x in lines if x.startswith('| GP-MAML |'))
    assert gp.endswith('× |') and next(x for x in lines if x.startswith('| MAML |')).endswith('| — |')


def test_get_flops_table(capsys):
    from mmlavit.analysis.flops import main, markdown, rows
    lavit, twin = rows(['tiny'], (224, 224))
    assert twin['flops'] > lavit['flops']  # the QKᵀ of the replaced layers is counted
    table = markdown([lavit, twin], (224, 224))
    assert '| LaViT-T | 10.8' in table and 'all-attention twin' in table and '10.9 / 1.6' in table
    assert main(['--config', 'mmlavit::lavit/lavit-t_8xb128_in1k.py', '--shape', '64']) == 0
    assert 'backbone + 1000-class head: 10.8' in capsys.readouterr().out


def test_benchmark_page_writes_only_its_own_section(tmp_path):
    """A new page gets the markers; a page with them keeps its hand-written text; one without them is
    refused untouched; the section carries each tool's table, or says that it was not run."""
    from mmlavit.analysis.bench_page import BEGIN, END, main
    work = tmp_path / 'work_dirs'
    (work / 'bench_distill').mkdir(parents=True)
    (work / 'bench_distill' / 'benchmark_distill.md').write_text('| training step | ms |\n| KD | 1.0 |\n')
    page = tmp_path / 'docs' / 'page.md'
    args = ['--work-dirs', str(work), '--out', str(page), '--img-dir', str(tmp_path / 'img'),
            '--notes', str(tmp_path / 'none.md')]
    assert main(args) == 0
    text = page.read_text()
    assert text.startswith('# Benchmarks') and BEGIN in text and END in text
    assert '| KD | 1.0 |' in text and 'not run' in text  # the other tools' outputs are missing
    page.write_text('# Mine\n\nhand-written\n\n' + text[text.index(BEGIN):] + '\n## Appended later\n')
    (work / 'bench_distill' / 'benchmark_distill.md').write_text('| KD | 2.0 |\n')
    assert main(args) == 0
    text = page.read_text()
    assert text.startswith('# Mine\n\nhand-written\n\n') and text.endswith(END + '\n\n## Appended later\n')
    assert '| KD | 2.0 |' in text and '| KD | 1.0 |' not in text
    page.write_text('# All hand-written\n')
    with pytest.raises(SystemExit, match='no generated section'):
        main(args)
    assert page.read_text() == '# All hand-written\n'


SCRIPTS = {'benchmark_backbones': 'bench_backbones.main', 'benchmark_models': 'bench_models.main',
           'benchmark_gpu': 'bench_gpu.main', 'benchmark_onnx': 'bench_onnx.main',
           'benchmark_distill': 'bench_distill.main', 'benchmark_fewshot': 'bench_fewshot.main',
           'make_benchmark_page': 'bench_page.main', 'get_flops': 'flops.main',
           'attention_saturation': 'attention.saturation_main', 'vis_attention': 'attention.vis_main'}


@pytest.mark.parametrize('script', sorted(SCRIPTS))
def test_scripts_are_thin_clis_over_the_package(script):
    """Each script imports its entry point from mmlavit.analysis and sys, and uses sys only to exit with what
    the entry point returns (no import path edits, nothing of tools/)."""
    import importlib
    text = open(osp.join(ROOT, 'tools', 'analysis_tools', f'{script}.py')).read()
    module, func = SCRIPTS[script].split('.')
    imports = [line for line in text.splitlines() if line.startswith(('import ', 'from '))]
    assert imports == ['import sys', f'from mmlavit.analysis.{module} import {func}'], imports
    assert text.count('sys.') == 1 and f'sys.exit({func}())' in text
    assert callable(getattr(importlib.import_module(f'mmlavit.analysis.{module}'), func))
