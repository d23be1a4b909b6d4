# Copyright (c) mmlavit contributors.
"""Export a classifier, detector or segmentor of an mmpretrain / mmdet / mmseg / mmlavit config to ONNX, and
check the exported graph with ONNX Runtime (in the shape of mmpretrain's and mmseg's former pytorch2onnx).

    python tools/deployment/pytorch2onnx.py CONFIG CHECKPOINT --shape H W [--dynamic] [--opset N]
        [--exporter dynamo|torchscript] [--verify] [--out FILE] [--cfg-options k=v ...]

CHECKPOINT is a checkpoint file, or ``none`` for the config's own initialisation (to try the export path).
The graph is the model's ``mode='tensor'`` forward on a preprocessed batch (normalised, padded: what the
config's data preprocessor produces), without post-processing:

* classifier: the logits (``cls_score``);
* one-stage detector (RetinaNet, ...): the head's raw outputs per FPN level (``cls_score_i``,
  ``bbox_pred_i``); decoding, NMS and rescaling are left to the caller (mmdet's
  ``bbox_head.predict_by_feat`` does them);
* two-stage detector (Mask R-CNN, ...): the FPN features (``feat_i``) and the RPN's raw outputs
  (``rpn_cls_score_i``, ``rpn_bbox_pred_i``); the proposals (NMS) and the RoI heads (RoIAlign, box and mask
  heads) are left to the caller: mmdet's ``_forward`` runs NMS and RoIAlign (mmcv ops) between them;
* segmentor: the decode head's logits at its own resolution (``seg_logits``), before resizing to the input.

``--dynamic`` makes the batch, height and width dynamic (one graph for every size); otherwise the graph is
fixed to ``--shape``. mmseg's integer-factor ``Upsample`` and fixed-size adaptive average pooling (UperNet)
are exported in equal forms that stay dynamic (:func:`make_exportable`). ``--verify`` runs ONNX Runtime on
the export input (and, with ``--dynamic``, on a second size) and prints the largest difference to PyTorch;
the exit status is 1 when it exceeds 1e-4 of the largest output value. Needs ``pip install mmlavit[deploy]``
(onnx, onnxruntime, onnxscript). docs/deployment.md has the table of what exports and the parity figures.
"""
import argparse
import os.path as osp
import sys
import time
import warnings
from typing import List, Sequence, Tuple

import torch
import torch.nn as nn
import torch.nn.functional as F
from mmengine.config import DictAction
from mmengine.registry import init_default_scope
from mmengine.runner import load_checkpoint

import mmlavit  # noqa: F401  (registers our types and the mmlavit:: config scope)
from mmlavit.apis import load_config

TOLERANCE = 1e-4  # of the largest output value (fp32)


def parse_args(argv=None):
    parser = argparse.ArgumentParser(description='Export a model to ONNX and check it with ONNX Runtime')
    parser.add_argument('config', help='config file (ours, or a user config over ours)')
    parser.add_argument('checkpoint', help="checkpoint file, or 'none' for the config's initialisation")
    parser.add_argument('--shape', type=int, nargs=2, default=[224, 224], metavar=('H', 'W'),
                        help='input height and width of the export (default: 224 224)')
    parser.add_argument('--batch-size', type=int, default=1, help='batch of the export input (default: 1)')
    parser.add_argument('--dynamic', action='store_true', help='dynamic batch, height and width')
    parser.add_argument('--opset', type=int, default=None, help="ONNX opset (default: the exporter's)")
    parser.add_argument('--exporter', choices=['dynamo', 'torchscript'], default='dynamo',
                        help="torch.onnx.export(dynamo=True) (default) or the TorchScript exporter")
    parser.add_argument('--verify', action='store_true', help='compare ONNX Runtime with PyTorch')
    parser.add_argument('--verify-shape', type=int, nargs=2, metavar=('H', 'W'),
                        help='the second input size --verify checks with --dynamic (default: H+32, W+64)')
    parser.add_argument('--out', help='output file (default: <config name>.onnx in the current folder)')
    parser.add_argument('--cfg-options', nargs='+', action=DictAction,
                        help='override settings of the config, key=value')
    return parser.parse_args(argv)


def build_model(config: str, checkpoint: str, cfg_options=None) -> Tuple[object, nn.Module, str]:
    """The config's model in eval mode on the CPU, with weights from ``checkpoint`` (``'none'``: none), and
    its task: ``'cls'``, ``'det'`` or ``'seg'``, from the config's ``default_scope``."""
    cfg = load_config(config, cfg_options=cfg_options)
    scope = cfg.get('default_scope', None)
    tasks = {'mmpretrain': 'cls', 'mmdet': 'det', 'mmseg': 'seg'}
    if scope not in tasks:
        raise SystemExit(f'{config}: default_scope is {scope!r}; set default_scope to one of {sorted(tasks)} '
                         '(the toolbox whose registries build the model)')
    init_default_scope(scope)
    registry = __import__(f'{scope}.registry', fromlist=['MODELS']).MODELS
    model_cfg = cfg.model.copy()
    if cfg.get('data_preprocessor') is not None:
        model_cfg.setdefault('data_preprocessor', cfg.data_preprocessor)
    if isinstance(model_cfg.get('backbone'), dict):  # the checkpoint brings the weights; no hub download
        model_cfg['backbone'] = dict(model_cfg['backbone'], init_cfg=None)
    model = registry.build(model_cfg)
    if checkpoint.lower() == 'none':
        model.init_weights()
    else:
        if not osp.isfile(checkpoint):
            raise SystemExit(f"checkpoint {checkpoint} not found (give a file, or 'none' to export the "
                             "config's initialisation)")
        load_checkpoint(model, checkpoint, map_location='cpu', logger='silent')
    return cfg, model.eval(), tasks[scope]


class TensorForward(nn.Module):
    """The model's raw forward as a flat tuple of tensors (see the module docstring for each task)."""

    def __init__(self, model: nn.Module, task: str):
        super().__init__()
        self.model, self.task = model, task
        self.two_stage = task == 'det' and getattr(model, 'with_rpn', False)

    def forward(self, inputs: torch.Tensor) -> Tuple[torch.Tensor, ...]:
        if self.two_stage:  # up to the RPN: its proposals need NMS, the RoI heads RoIAlign
            feats = self.model.extract_feat(inputs)
            return tuple(feats) + _flatten(self.model.rpn_head(feats))
        return _flatten(self.model(inputs, mode='tensor'))

    def output_names(self, inputs: torch.Tensor) -> List[str]:
        if self.task == 'cls':
            return ['cls_score']
        if self.task == 'seg':
            return ['seg_logits']
        with torch.no_grad():
            if self.two_stage:
                feats = self.model.extract_feat(inputs)
                rpn = self.model.rpn_head(feats)
                groups = [('feat', feats), *zip(('rpn_cls_score', 'rpn_bbox_pred'), rpn)]
            else:  # one-stage heads: (cls_scores, bbox_preds[, centernesses / objectnesses]) per level
                raw = self.model(inputs, mode='tensor')
                groups = zip(('cls_score', 'bbox_pred', 'centerness', 'extra'), raw)
        return [f'{name}_{i}' for name, group in groups for i in range(len(_flatten(group)))]


def _flatten(out) -> Tuple[torch.Tensor, ...]:
    if isinstance(out, torch.Tensor):
        return (out, )
    flat = ()
    for o in out:
        flat += _flatten(o)
    return flat


class _ScaledUpsample(nn.Module):
    """mmseg's ``Upsample`` with a scale factor, as ``F.interpolate(scale_factor=...)``: mmseg computes the
    output size with ``int()``, which the exporters record as a constant (the graph then upsamples to the
    export size whatever the input). For an integer factor both forms give the same size and sampling."""

    def __init__(self, up: nn.Module):
        super().__init__()
        self.scale_factor, self.mode, self.align_corners = up.scale_factor, up.mode, up.align_corners

    def forward(self, x):
        return F.interpolate(x, scale_factor=self.scale_factor, mode=self.mode,
                             align_corners=self.align_corners)


class _BinPool(nn.Module):
    """``nn.AdaptiveAvgPool2d`` to a fixed G×G (UperNet's pyramid pooling) as two products with its bin
    matrices, which the exporters keep dynamic (ONNX has no adaptive pooling; the TorchScript exporter refuses
    it on a dynamic input, the dynamo exporter fixes it to the export size)."""

    def __init__(self, pool: nn.AdaptiveAvgPool2d):
        super().__init__()
        size = pool.output_size
        self.size = (size, size) if isinstance(size, int) else tuple(size)

    def forward(self, x):
        from mmlavit.models.backbones.lavit_ops import _bin_matrix
        ph, pw = _bin_matrix(x.shape[2], self.size[0], x), _bin_matrix(x.shape[3], self.size[1], x)
        return ph @ x @ pw.t()


def make_exportable(model: nn.Module) -> nn.Module:
    """Swap in :class:`_ScaledUpsample` for mmseg's integer-factor ``Upsample`` modules and :class:`_BinPool`
    for adaptive average pooling to a fixed size (in place; the same values)."""
    try:
        from mmseg.models.utils import Upsample
    except ImportError:
        Upsample = ()
    for parent in list(model.modules()):
        for name, child in parent.named_children():
            if (Upsample and isinstance(child, Upsample) and not child.size and child.scale_factor is not None
                    and float(child.scale_factor) == int(child.scale_factor)):
                setattr(parent, name, _ScaledUpsample(child))
            elif isinstance(child, nn.AdaptiveAvgPool2d) and None not in (
                    (child.output_size, ) if isinstance(child.output_size, int) else child.output_size):
                setattr(parent, name, _BinPool(child))
    return model


def check_exportable(model: nn.Module, dynamic: bool) -> None:
    """A clear error for what cannot be exported before the exporter fails on it."""
    from mmlavit.models.backbones.lavit import LaViTAttention
    if dynamic and any(isinstance(m, LaViTAttention) and m.mode == 'la' and m.la_transform == 'full'
                       for m in model.modules()):
        raise SystemExit("error: this LaViT uses la_transform='full' (dense N×N and M×M matrices built for "
                         'one input size): it exports only at that size; drop --dynamic and give --shape '
                         "of the img_size it was built for, or use la_transform='pooled' or 'conv'")


def export(module: TensorForward, inputs: torch.Tensor, out: str, dynamic: bool = False,
           opset: int = None, exporter: str = 'dynamo') -> List[str]:
    """Write ``module`` on ``inputs`` to ``out``; returns the output names."""
    names = module.output_names(inputs)
    kw = dict(input_names=['inputs'], output_names=names)
    if opset is not None:
        kw['opset_version'] = opset
    if exporter == 'dynamo':
        if dynamic:
            dim = torch.export.Dim
            kw['dynamic_shapes'] = {'inputs': {0: dim('batch', min=1, max=1024), 2: dim('height', min=32),
                                               3: dim('width', min=32)}}
        torch.onnx.export(module, (inputs, ), out, dynamo=True, verbose=False, **kw)
    else:
        if dynamic:
            axes = {'inputs': {0: 'batch', 2: 'height', 3: 'width'}}
            axes.update({n: {0: 'batch'} for n in names})
            kw['dynamic_axes'] = axes
        with warnings.catch_warnings():
            warnings.simplefilter('ignore')  # TracerWarnings of shape checks that change no value
            torch.onnx.export(module, (inputs, ), out, dynamo=False, **kw)
    return names


def verify(module: nn.Module, path: str, shapes: Sequence[Tuple[int, ...]], threads: int = 0) -> bool:
    """Run ONNX Runtime and PyTorch on the same random inputs of each shape; print the largest difference
    per output. True when each is within ``TOLERANCE`` of the output's largest value."""
    import onnxruntime as ort
    opts = ort.SessionOptions()
    if threads:
        opts.intra_op_num_threads = threads
    sess = ort.InferenceSession(path, opts, providers=['CPUExecutionProvider'])
    ok = True
    gen = torch.Generator().manual_seed(0)
    for shape in shapes:
        x = torch.randn(*shape, generator=gen)
        with torch.no_grad():
            ref = module(x)
        got = sess.run(None, {sess.get_inputs()[0].name: x.numpy()})
        worst = 0.
        for r, g in zip(ref, got):
            g = torch.from_numpy(g)
            if tuple(g.shape) != tuple(r.shape):
                print(f'verify {tuple(shape)}: output shape {tuple(g.shape)} != PyTorch {tuple(r.shape)}')
                ok = False
                continue
            diff = (g - r).abs().max().item()
            rel = diff / max(r.abs().max().item(), 1e-12)
            worst = max(worst, rel)
            print(f'verify {tuple(shape)} {tuple(r.shape)}: max |diff| {diff:.3g}, relative {rel:.3g}')
        ok = ok and worst <= TOLERANCE
    print(f"verify: {'ok' if ok else 'MISMATCH'} (tolerance {TOLERANCE:g} of the largest output value)")
    return ok


def main(argv=None) -> int:
    args = parse_args(argv)
    _, model, task = build_model(args.config, args.checkpoint, args.cfg_options)
    check_exportable(model, args.dynamic)
    module = TensorForward(make_exportable(model), task).eval()
    h, w = args.shape
    shape = (args.batch_size, 3, h, w)
    out = args.out or osp.splitext(osp.basename(args.config))[0] + '.onnx'
    t0 = time.time()
    names = export(module, torch.randn(*shape, generator=torch.Generator().manual_seed(0)), out, args.dynamic,
                   args.opset, args.exporter)
    print(f'exported {task} model to {out} ({args.exporter}, {"dynamic" if args.dynamic else "static"} '
          f'{shape}, {len(names)} outputs: {", ".join(names)}) in {time.time() - t0:.1f} s')
    if not args.verify:
        return 0
    shapes = [shape]
    if args.dynamic:
        vh, vw = args.verify_shape or (h + 32, w + 64)
        shapes.append((max(1, args.batch_size), 3, vh, vw))
    return 0 if verify(module, out, shapes) else 1


if __name__ == '__main__':
    sys.exit(main())
