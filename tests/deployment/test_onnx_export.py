"""ONNX export of LaViT (both torch.onnx exporters, dynamic height and width), ONNX Runtime parity, the
deployment tool on one small config per task, and the forms LaViT takes while exporting equal to the eager
ones (values and gradients)."""
import importlib.util
import os.path as osp

import pytest
import torch
import torch.nn.functional as F

from mmlavit.models import LaViT
from mmlavit.models.backbones import lavit, lavit_attention, lavit_layers
from mmlavit.models.backbones import lavit_ops as ops

ROOT = osp.dirname(osp.dirname(osp.dirname(osp.abspath(__file__))))
# small: two heads from stage 1 on, one VA and one LA layer per stage, 4×4 pooled keys
ARCH = dict(embed_dims=(16, 32, 48, 64), depths=(2, 2, 2, 2), num_heads=(1, 2, 3, 4), mlp_ratios=(2, 2, 2, 2),
            sr_ratios=(4, 2, 1, 1), num_va=(1, 1, 1, 1))
# three stages for the dynamo export with dynamic sizes (its time grows with the layers; docs/notes.md, "The
# test suite"): every form a fourth stage would trace is here too (sr > 1 and sr = 1, the stage transitions'
# residual downsampling, the output projection folded into the values in the early stages and not in the last)
ARCH3 = dict(embed_dims=(16, 32, 64), depths=(2, 2, 2), num_heads=(1, 2, 4), mlp_ratios=(2, 2, 2),
             sr_ratios=(4, 2, 1), num_va=(1, 1, 1))
TOL = 1e-4  # of the largest output value, fp32


def _small(arch=ARCH, **kw):
    torch.manual_seed(0)
    m = LaViT(arch, out_indices=tuple(range(len(arch['depths']))), la_key_grid=4, drop_path_rate=0., **kw)
    m.init_weights()
    for p in m.parameters():  # away from the identity initialisation of Θ/Ψ and the residual scale
        p.data.add_(0.05 * torch.randn_like(p))
    return m.eval()


def _rel(ref, got):
    return max(((r - g).abs().max() / r.abs().max()).item() for r, g in zip(ref, got))


def _ort(path):
    ort = pytest.importorskip('onnxruntime')
    return ort.InferenceSession(str(path), providers=['CPUExecutionProvider'])


def _check_ort(model, path, sizes, batch=2):
    sess = _ort(path)
    for hw in sizes:
        x = torch.randn(batch, 3, *hw)
        with torch.no_grad():
            ref = model(x)
        got = [torch.from_numpy(o) for o in sess.run(None, {sess.get_inputs()[0].name: x.numpy()})]
        assert [tuple(g.shape) for g in got] == [tuple(r.shape) for r in ref]
        assert _rel(ref, got) <= TOL, hw


# ------------------------------------------------------------------- export forms equal the eager ones
def _set_exporting(monkeypatch, value: bool):
    """Every LaViT module that asks whether an export is under way is told ``value``."""
    mods = [m for m in (ops, lavit_layers, lavit_attention, lavit) if hasattr(m, '_exporting')]
    assert ops in mods and lavit_layers in mods
    for m in mods:
        monkeypatch.setattr(m, '_exporting', lambda: value)


@pytest.fixture
def exporting(monkeypatch):
    """Run the export forms in eager mode (what the exporters trace)."""
    _set_exporting(monkeypatch, True)


@pytest.mark.parametrize('la_chain', ['softmax', 'scores'])
@pytest.mark.parametrize('la_transform', ['pooled', 'conv'])
def test_export_forms_equal_eager_values_and_gradients(la_chain, la_transform, monkeypatch):
    model = _small(la_chain=la_chain, la_transform=la_transform)
    for hw in [(64, 64), (72, 104)]:  # key grids equal to / different from the 4×4 pooled grid
        x = torch.randn(2, 3, *hw)
        results = []
        for export_forms in (False, True):
            _set_exporting(monkeypatch, export_forms)
            model.zero_grad()
            xi = x.clone().requires_grad_()
            outs = model(xi)
            sum((o * torch.linspace(-1, 1, o.numel()).reshape(o.shape)).sum() for o in outs).backward()
            grads = [p.grad.clone() for p in model.parameters() if p.grad is not None]
            results.append((outs, xi.grad, grads))
        (o0, gx0, gp0), (o1, gx1, gp1) = results
        assert _rel(o0, o1) < 1e-5
        torch.testing.assert_close(gx1, gx0, rtol=1e-4, atol=1e-6)
        assert len(gp0) == len(gp1)
        for a, b in zip(gp0, gp1):
            torch.testing.assert_close(b, a, rtol=1e-4, atol=1e-5)


@pytest.mark.parametrize('h', [1, 3])
def test_query_conv_export_form_equals_the_channels_last_form(h, exporting):
    scores = torch.randn(2, h, 5 * 7, 6, requires_grad=True)
    weight = torch.randn(h, 1, 3, 3, requires_grad=True)
    got = ops.query_conv(scores, weight, (5, 7))
    # reference: the per-head k×k cross-correlation of each key's column, one image per (batch, key)
    img = scores.permute(0, 3, 1, 2).reshape(2 * 6, h, 5, 7)
    ref = F.conv2d(img, weight, padding=1, groups=h).reshape(2, 6, h, 35).permute(0, 2, 3, 1)
    torch.testing.assert_close(got, ref)
    g = torch.randn_like(ref)
    ga = torch.autograd.grad(got, (scores, weight), g)
    gb = torch.autograd.grad(ref, (scores, weight), g)
    for a, b in zip(ga, gb):
        torch.testing.assert_close(a, b)


@pytest.mark.parametrize('hw,grid', [((10, 15), (7, 7)), ((3, 5), (4, 4)), ((8, 8), (4, 4))])
def test_pooling_export_forms_equal_adaptive_pooling(hw, grid, exporting):
    t = torch.randn(2, 3, 11, hw[0] * hw[1], dtype=torch.float64)
    ref = F.adaptive_avg_pool2d(t.reshape(6, 11, *hw), grid).reshape(2, 3, 11, -1)
    torch.testing.assert_close(ops.pool_keys(t, hw, grid), ref)
    rows = t.transpose(-1, -2)  # (..., M, r)
    torch.testing.assert_close(ops.pool_rows(rows, hw, grid), ref.transpose(-1, -2))


def test_pool_matrix_is_bitwise_pool_rows_of_the_identity():
    for hw, grid in [((10, 15), (7, 7)), ((7, 7), (7, 7)), ((3, 5), (4, 4))]:
        ref = torch.ones(1)
        eye = torch.eye(hw[0] * hw[1])
        assert torch.equal(ops._pool_matrix(hw, grid, ref), ops.pool_rows(eye, hw, grid))


def test_key_grid_is_the_spatial_reduction_conv_output():
    for r in (2, 4, 8):
        attn = lavit_attention.LaViTAttention(8, 1, sr_ratio=r)
        for s in range(r, 70):
            assert attn.key_hw((s, s + 1)) == tuple(attn.sr(torch.zeros(1, 8, s, s + 1)).shape[2:])


# ---------------------------------------------------------------------------------- ONNX Runtime
def test_backbone_dynamo_export_dynamic_size(tmp_path):
    pytest.importorskip('onnxscript')
    model = _small(ARCH3, la_chain='softmax', la_transform='pooled')
    dim = torch.export.Dim
    path = tmp_path / 'lavit.onnx'
    torch.onnx.export(model, (torch.randn(2, 3, 64, 64), ), str(path), dynamo=True, verbose=False,
                      input_names=['x'], dynamic_shapes={'x': {2: dim('h', min=32), 3: dim('w', min=32)}})
    _check_ort(model, path, [(64, 64), (96, 160)])


def test_backbone_torchscript_export_dynamic_size(tmp_path):
    pytest.importorskip('onnx')
    model = _small(la_chain='scores', la_transform='conv')
    path = tmp_path / 'lavit.onnx'
    with pytest.warns(Warning):  # the TorchScript exporter is deprecated; TracerWarnings of shape checks
        torch.onnx.export(model, (torch.randn(2, 3, 64, 64), ), str(path), dynamo=False, input_names=['x'],
                          dynamic_axes={'x': {2: 'h', 3: 'w'}})
    _check_ort(model, path, [(64, 64), (96, 160)])


def test_full_transform_exports_at_its_size_only(tmp_path):
    pytest.importorskip('onnx')
    torch.manual_seed(0)
    model = LaViT(ARCH, out_indices=(3, ), la_transform='full', img_size=64).eval()
    dim = torch.export.Dim
    with pytest.raises(ValueError, match="la_transform='full'.*dynamic input size"):  # what torch.onnx traces
        torch.export.export(model, (torch.randn(1, 3, 64, 64), ), strict=False,
                            dynamic_shapes=({2: dim('h', min=32), 3: dim('w', min=32)}, ))
    path = tmp_path / 'full.onnx'
    with pytest.warns(Warning):
        torch.onnx.export(model, (torch.randn(1, 3, 64, 64), ), str(path), dynamo=False, input_names=['x'])
    _check_ort(model, path, [(64, 64)], batch=1)
    sess = _ort(path)
    with pytest.raises(Exception, match='invalid dimensions'):
        sess.run(None, {'x': torch.randn(1, 3, 96, 96).numpy()})


# ------------------------------------------------------------------------------- the deployment tool
def _tool():
    path = osp.join(ROOT, 'tools', 'deployment', 'pytorch2onnx.py')
    spec = importlib.util.spec_from_file_location('pytorch2onnx', path)
    mod = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mod)
    return mod


@pytest.mark.parametrize('config,outputs', [
    ('lavit-t_synth-cls.py', 'cls_score'),
    ('retinanet_lavit-t_fpn_synth-coco.py', 'cls_score_0, cls_score_1'),
    ('fpn_lavit-t_synth-ade20k.py', 'seg_logits'),
])
def test_tool_exports_and_verifies_each_task(config, outputs, tmp_path, capsys):
    pytest.importorskip('onnxruntime')
    tool = _tool()
    ckpt = 'none'
    if 'cls' in config:  # a checkpoint the tool loads (weights away from the initialisation)
        _, model, _ = tool.build_model(osp.join(ROOT, 'configs', 'lavit', config), 'none')
        ckpt = str(tmp_path / 'model.pth')
        torch.save({'state_dict': {k: v + 0.01 * torch.randn_like(v) if v.is_floating_point() else v
                                   for k, v in model.state_dict().items()}}, ckpt)
    out = tmp_path / 'model.onnx'
    rc = tool.main([osp.join(ROOT, 'configs', 'lavit', config), ckpt, '--shape', '64', '96', '--dynamic',
                    '--exporter', 'torchscript', '--verify', '--out', str(out)])
    text = capsys.readouterr().out
    assert rc == 0, text
    assert outputs in text and 'verify: ok' in text and '(1, 3, 96, 160)' in text
    assert out.stat().st_size > 100_000


def test_tool_refuses_dynamic_full_transform(tmp_path):
    tool = _tool()
    with pytest.raises(SystemExit, match="la_transform='full'"):
        tool.main([osp.join(ROOT, 'configs', 'lavit', 'lavit-t_synth-cls.py'), 'none', '--shape', '64', '64',
                   '--dynamic', '--out', str(tmp_path / 'x.onnx'), '--cfg-options',
                   'model.backbone.la_transform=full', 'model.backbone.img_size=64'])


def test_tool_module_swaps_equal_the_mmseg_modules():
    tool = _tool()
    from mmseg.models.utils import Upsample
    x = torch.randn(2, 5, 13, 17, dtype=torch.float64)
    for g in (1, 2, 3, 6):
        pool = torch.nn.AdaptiveAvgPool2d(g)
        torch.testing.assert_close(tool._BinPool(pool)(x), pool(x))
    for f, mode, ac in [(2, 'bilinear', False), (4, 'bilinear', False), (2, 'nearest', None)]:
        up = Upsample(scale_factor=f, mode=mode, align_corners=ac)
        torch.testing.assert_close(tool._ScaledUpsample(up)(x), up(x))
    model = torch.nn.Sequential(torch.nn.AdaptiveAvgPool2d(3), Upsample(scale_factor=2, mode='bilinear'))
    assert [type(m).__name__ for m in tool.make_exportable(model)] == ['_BinPool', '_ScaledUpsample']
