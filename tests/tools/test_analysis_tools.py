"""The analysis tools run and produce their tables/plots."""
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


def test_get_flops_table(capsys):
    mod = _load('get_flops')
    assert mod.main(['--archs', 'tiny']) == 0
    out = capsys.readouterr().out
    assert '| LaViT-T | 10.8' in out and 'all-attention twin' in out and '10.9 / 1.6' in out
    rows = mod.rows(['tiny'], (224, 224))
    lavit, twin = rows
    assert twin['flops'] > lavit['flops']  # the QKᵀ of the replaced layers is counted


def test_saturation_report_and_attention_vis(cls_root, tmp_path, capsys):
    cfg = osp.join(ROOT, 'configs', 'lavit', 'lavit-t_synth-cls.py')
    twin = osp.join(ROOT, 'configs', 'lavit', 'lavit-t-allattn_synth-cls.py')
    mod = _load('attention_saturation')
    assert mod.main(['--model', 'LaViT', cfg, 'none', '--model', 'twin', twin, 'none', '--num-images', '4',
                     '--data-root', cls_root, '--out-dir', str(tmp_path)]) == 0
    table = (tmp_path / 'saturation.md').read_text()
    assert '| LaViT | 2 | 2 | LA |' in table and '| twin | 2 | 2 | VA |' in table
    assert (tmp_path / 'saturation.png').stat().st_size > 1000
    img = sorted(glob.glob(osp.join(cls_root, 'val', '*', '*.png')))[0]
    vis = _load('vis_attention')
    out = tmp_path / 'attn.png'
    # the untrained config model; an empty checkpoint argument is not allowed, so save one first
    import torch

    from model_analysis import build_model
    _, model = build_model(cfg)
    torch.save({'state_dict': model.state_dict()}, tmp_path / 'm.pth')
    assert vis.main([cfg, str(tmp_path / 'm.pth'), img, '--layers', '0', '1', '--out', str(out)]) == 0
    assert out.stat().st_size > 1000


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


def test_benchmark_distill_uses_the_committed_method_configs(tmp_path):
    mod = _load('benchmark_distill')
    blocks = mod.methods(32, 64)
    trg = blocks['TRG (+KD)']['losses']['loss_trg']
    assert (trg['student_dim'], trg['teacher_dim'], trg['patch_size']) == (32, 64, 4)  # from methods/trg.py
    assert blocks['CLKD']['losses']['loss_clkd']['loss_weight'] == 4.0
    assert mod.main(['--teacher', 'resnet14', '--student', 'resnet8', '--batch', '4', '--repeats', '1',
                     '--warmup', '0', '--device', 'cpu', '--out-dir', str(tmp_path)]) == 0
    table = (tmp_path / 'benchmark_distill.md').read_text()
    for name in ('student alone', 'KD', 'DKD', 'CLKD', 'TRG (+KD)'):
        assert f'| {name} |' in table


def test_distill_gradients_rejects_a_config_without_distiller():
    mod = _load('distill_gradients')
    with pytest.raises(SystemExit, match='not SingleTeacherDistiller'):
        mod.main([osp.join(ROOT, 'configs', 'distill', 'baselines', 'resnet8_synth-cls100.py')])


def test_build_model_normalises_as_the_runner_does():
    """The config's top-level data_preprocessor (mean/std, BGR->RGB) is the model's, as in training."""
    import torch

    from model_analysis import build_model
    _, model = build_model(osp.join(ROOT, 'configs', 'lavit', 'lavit-t_synth-cls.py'))
    pre = model.data_preprocessor
    assert torch.allclose(pre.mean.view(-1), torch.tensor([123.675, 116.28, 103.53]))
    assert torch.allclose(pre.std.view(-1), torch.tensor([58.395, 57.12, 57.375])) and pre.to_rgb


def test_benchmark_backbones_side_by_side(tmp_path):
    """One interleaved run: LaViT-T, its twin and mmdet's PVTv2-b1 on small inputs; the table carries the
    matmul peak, the peak share, the training step and the ratio lines; the layer table every stage."""
    mod = _load('benchmark_backbones')
    assert mod.main(['--models', 'LaViT-T', 'LaViT-T twin', 'LaViT-T scores', 'mmdet PVTv2-b1',
                     '--shapes', '64',
                     '--train-shapes', '64', '--repeats', '1', '--warmup', '0',
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
        mod.main(['--models', 'PVTv9', '--out-dir', str(tmp_path)])


def test_saved_activation_bytes_counts_each_storage_once_and_no_weights():
    """``exp`` saves its output, which ``a * a`` saves twice more, and the linear layer saves its input and
    its weight: 2 activations of 10×100 fp32 remain once storages count once and weights not at all."""
    import torch

    from experiments import saved_activation_bytes
    lin = torch.nn.Linear(100, 100)
    x = torch.randn(10, 100, requires_grad=True)

    def f():
        a = lin(x).exp()
        return a * a
    assert saved_activation_bytes(f, lin.parameters()) == 2 * 10 * 100 * 4
    assert saved_activation_bytes(f) == 2 * 10 * 100 * 4 + 100 * 100 * 4


def test_benchmark_gpu_cpu_smoke(tmp_path):
    """The GPU script's --device cpu --quick path: fp32, bf16 autocast and torch.compile (aot_eager), each
    with a training step whose loss and gradients must be finite."""
    mod = _load('benchmark_gpu')
    assert mod.main(['--device', 'cpu', '--quick', '--models', 'LaViT-T', '--shapes', '64', '--modes', 'fp32',
                     'amp-bf16', 'compile', '--out-dir', str(tmp_path)]) == 0
    table = (tmp_path / 'benchmark_gpu.md').read_text()
    for mode in ('fp32', 'amp-bf16', 'compile'):
        assert f'| LaViT-T | 64×64 | 1 | {mode} |' in table
    assert table.count('| True |') == 3
