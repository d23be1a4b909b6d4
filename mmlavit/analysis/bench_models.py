"""Whole detectors and segmentors side by side, built from configs, in one process with interleaved rounds:
LaViT's against the stock mmdet/mmseg configs of PVTv2 and Swin-T and against the same model with timm's
backbone (through ``mmpretrain.TIMMBackbone``), unchanged but for the backbone.

    python tools/analysis_tools/benchmark_models.py --out-dir work_dirs/bench_models
    python tools/analysis_tools/benchmark_models.py --tasks mask-rcnn --rounds 2 --out-dir work_dirs/bm
    python tools/analysis_tools/benchmark_models.py --smoke   # tiny inputs, one round (the test's path)

Per model, at the task's input size (batch 1 for detection, 2 for segmentation, or --batch): inference with
``mode='tensor'`` (the network only) and the full ``test_step`` (data preprocessor, heads' post-processing,
NMS, mask pasting; with random weights the number of detections, and so the post-processing's cost, would be
random, so every detector's score threshold is set to 0 and each returns its ``max_per_img`` detections, as a
trained COCO detector mostly does; RetinaNet then post-processes its full ``nms_pre`` candidates per level,
more than a trained one, so its test_step is an upper bound; ``--keep-score-thr`` keeps the configs'
thresholds; the table gives the count);
the training step ``train_step`` (data preprocessor, the real loss on a synthetic batch
with boxes, masks and labels or a segmentation map, LaViT's DP loss merged as the ``AuxiliaryLossHook`` does,
backward and the optimizer step of the config's ``optim_wrapper``); the bytes autograd saves for backward in
that step (each storage once, weights excluded) and the growth of the process RSS during the step. Times are
the best of --rounds interleaved rounds after --warmup rounds (every model runs once per round, so background
load hits all alike); the median is printed too. Weights are random (``init_cfg`` of type ``Pretrained`` is
dropped: nothing is downloaded). Writes ``benchmark_models.md`` and ``benchmark_models.json`` to --out-dir.

timm's Swin-T is not a peer here: its ``features_only`` maps are NHWC, which ``TIMMBackbone`` hands on as
they are and the FPN/UperNet necks read as NCHW. On a 24 GiB machine run one task per process (``--tasks``).
"""
import argparse
import copy
import json
import os
import os.path as osp
from typing import Callable, List, Optional, Sequence

import torch

from mmlavit.analysis.models import build_model, count_params
from mmlavit.analysis.report import write_table
from mmlavit.analysis.timing import (best_median, interleaved, keeps_torch_threads, machine, release_memory,
                                     rss_growth, saved_activation_bytes)

PVT_B = {'b1': dict(embed_dims=64, num_layers=[2, 2, 2, 2]),
         'b2': dict(embed_dims=64, num_layers=[3, 4, 6, 3])}
PVT_CHANNELS = [64, 128, 320, 512]


def _mmdet_pvt(b):
    return dict(_delete_=True, type='mmdet.PyramidVisionTransformerV2', **PVT_B[b])


def _timm(name):
    return dict(_delete_=True, type='mmpretrain.TIMMBackbone', model_name=name, features_only=True,
                pretrained=False, out_indices=(0, 1, 2, 3))


# task -> (scope, input (H, W), [(model name, config, backbone override or None, neck in_channels or None)])
# batch: 1 for detection (as the issue measures), 2 for segmentation (UperNet's pyramid pooling trains
# batch norm on 1×1 maps, which needs more than one image; 2 is the UperNet configs' images per GPU)
DEFAULT_BATCH = {'mmdet': 1, 'mmseg': 2}
TASKS = {
    'retinanet': ('mmdet', (800, 1344), [
        ('RetinaNet LaViT-T', 'mmlavit::lavit/retinanet_lavit-t_fpn_1x_coco.py', None, None),
        ('RetinaNet PVTv2-b1 (mmdet)', 'mmdet::pvt/retinanet_pvtv2-b1_fpn_1x_coco.py', None, None),
        ('RetinaNet PVTv2-b1 (timm)', 'mmdet::pvt/retinanet_pvtv2-b1_fpn_1x_coco.py', _timm('pvt_v2_b1'),
         PVT_CHANNELS),
    ]),
    'mask-rcnn': ('mmdet', (800, 1344), [
        ('Mask R-CNN LaViT-T', 'mmlavit::lavit/mask-rcnn_lavit-t_fpn_1x_coco.py', None, None),
        ('Mask R-CNN LaViT-S', 'mmlavit::lavit/mask-rcnn_lavit-s_fpn_1x_coco.py', None, None),
        ('Mask R-CNN Swin-T (mmdet)', 'mmdet::swin/mask-rcnn_swin-t-p4-w7_fpn_1x_coco.py', None, None),
        ('Mask R-CNN PVTv2-b1 (mmdet)', 'mmlavit::lavit/mask-rcnn_lavit-t_fpn_1x_coco.py', _mmdet_pvt('b1'),
         PVT_CHANNELS),
        ('Mask R-CNN PVTv2-b1 (timm)', 'mmlavit::lavit/mask-rcnn_lavit-t_fpn_1x_coco.py', _timm('pvt_v2_b1'),
         PVT_CHANNELS),
        ('Mask R-CNN PVTv2-b2 (mmdet)', 'mmlavit::lavit/mask-rcnn_lavit-t_fpn_1x_coco.py', _mmdet_pvt('b2'),
         PVT_CHANNELS),
        ('Mask R-CNN PVTv2-b2 (timm)', 'mmlavit::lavit/mask-rcnn_lavit-t_fpn_1x_coco.py', _timm('pvt_v2_b2'),
         PVT_CHANNELS),
    ]),
    'fpn-seg': ('mmseg', (512, 512), [
        ('Semantic FPN LaViT-S', 'mmlavit::lavit/fpn_lavit-s_4xb4-80k_ade20k-512x512.py', None, None),
        ('Semantic FPN PVTv2-b2 (mmdet)', 'mmlavit::lavit/fpn_lavit-s_4xb4-80k_ade20k-512x512.py',
         _mmdet_pvt('b2'), PVT_CHANNELS),
        ('Semantic FPN PVTv2-b2 (timm)', 'mmlavit::lavit/fpn_lavit-s_4xb4-80k_ade20k-512x512.py',
         _timm('pvt_v2_b2'), PVT_CHANNELS),
    ]),
    'upernet': ('mmseg', (512, 512), [
        ('UperNet LaViT-S', 'mmlavit::lavit/upernet_lavit-s_8xb2-160k_ade20k-512x512.py', None, None),
        ('UperNet Swin-T (mmseg)',
         'mmseg::swin/swin-tiny-patch4-window7-in1k-pre_upernet_8xb2-160k_ade20k-512x512.py', None, None),
    ]),
}
# (ours, peer family): the headline ratio is against the fastest implementation of the peer
PAIRS = {
    'retinanet': [('RetinaNet LaViT-T', 'RetinaNet PVTv2-b1')],
    'mask-rcnn': [('Mask R-CNN LaViT-S', 'Mask R-CNN Swin-T'), ('Mask R-CNN LaViT-S', 'Mask R-CNN PVTv2-b2'),
                  ('Mask R-CNN LaViT-T', 'Mask R-CNN PVTv2-b1'), ('Mask R-CNN LaViT-T', 'Mask R-CNN Swin-T')],
    'fpn-seg': [('Semantic FPN LaViT-S', 'Semantic FPN PVTv2-b2')],
    'upernet': [('UperNet LaViT-S', 'UperNet Swin-T')],
}
SMOKE_SHAPE = (64, 64)
METRICS = [('tensor', 'inference, mode=tensor'), ('predict', 'inference, test_step'),
           ('train', 'training step')]
# the backbone alone on the same preprocessed batch (its share of the model's time, for the Amdahl bound):
# forward in eval mode, and forward + backward of the sum of its feature means in train mode
BACKBONE_METRICS = [('backbone_fwd', 'backbone forward'), ('backbone_train', 'backbone forward + backward')]


def build(path: str, backbone=None, neck_channels=None, extra=None):
    """(model with the aux-loss merge installed, the optim wrapper of its config)."""
    from mmengine.optim import build_optim_wrapper

    from mmlavit.engine.hooks import install_aux_losses
    cfg, model = build_model(path, backbone=backbone, neck_channels=neck_channels, extra=extra)
    install_aux_losses(model)  # what AuxiliaryLossHook does before training (LaViT's loss_dp)
    return model, build_optim_wrapper(model, copy.deepcopy(cfg.optim_wrapper))


def det_batch(shape, batch: int = 1, num_boxes: int = 8, num_classes: int = 80, seed: int = 0):
    """A data batch as mmdet's pipeline hands it to ``train_step``/``test_step``: uint8 images and
    ``DetDataSample`` s with boxes, labels and bitmap masks (a filled box each)."""
    import numpy as np
    from mmdet.structures import DetDataSample
    from mmdet.structures.mask import BitmapMasks
    from mmengine.structures import InstanceData
    g = torch.Generator().manual_seed(seed)
    h, w = shape
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        xy = torch.rand(num_boxes, 2, generator=g) * torch.tensor([w * .7, h * .7])
        wh = (torch.rand(num_boxes, 2, generator=g) * .25 + .05) * torch.tensor([w, h])
        boxes = torch.cat([xy, (xy + wh).minimum(torch.tensor([w - 1., h - 1.]))], 1)
        masks = np.zeros((num_boxes, h, w), np.uint8)
        for i, (x0, y0, x1, y1) in enumerate(boxes.round().int().tolist()):
            masks[i, y0:y1 + 1, x0:x1 + 1] = 1
        s = DetDataSample(metainfo=dict(img_id=0, img_path='', ori_shape=(h, w), img_shape=(h, w),
                                        scale_factor=(1., 1.), flip=False, flip_direction=None))
        s.gt_instances = InstanceData(bboxes=boxes, labels=torch.randint(0, num_classes, (num_boxes,),
                                                                         generator=g),
                                      masks=BitmapMasks(masks, h, w))
        s.ignored_instances = InstanceData(bboxes=torch.zeros(0, 4), labels=torch.zeros(0, dtype=torch.long))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def seg_batch(shape, batch: int = 1, num_classes: int = 150, seed: int = 0):
    """A data batch for mmseg's ``EncoderDecoder``: uint8 images and ``SegDataSample`` s with a map."""
    from mmengine.structures import PixelData
    from mmseg.structures import SegDataSample
    g = torch.Generator().manual_seed(seed)
    h, w = shape
    inputs, samples = [], []
    for _ in range(batch):
        inputs.append(torch.randint(0, 256, (3, h, w), generator=g, dtype=torch.uint8))
        s = SegDataSample(metainfo=dict(img_path='', ori_shape=(h, w), img_shape=(h, w), pad_shape=(h, w),
                                        scale_factor=(1., 1.), flip=False, flip_direction=None))
        s.gt_sem_seg = PixelData(data=torch.randint(0, num_classes, (1, h, w), generator=g))
        samples.append(s)
    return dict(inputs=inputs, data_samples=samples)


def set_score_thr(model: torch.nn.Module, thr: float) -> int:
    """Set ``score_thr`` in every ``test_cfg`` of the model's modules (RetinaNet's head, Mask R-CNN's
    ``rcnn`` stage) to ``thr``; returns how many were set."""
    done = set()
    for m in model.modules():
        cfg = getattr(m, 'test_cfg', None)
        for c in (cfg, cfg.get('rcnn') if isinstance(cfg, dict) else None):
            if isinstance(c, dict) and 'score_thr' in c and id(c) not in done:
                c['score_thr'] = thr
                done.add(id(c))
    return len(done)


def count_detections(outputs) -> int:
    """Detections per image (the mean over the batch) in a ``test_step`` output; -1 for segmentation."""
    n = [len(o.pred_instances) for o in outputs if 'pred_instances' in o]
    return round(sum(n) / len(n)) if n else -1


def _pop_aux(model) -> None:
    for m in model.modules():
        if hasattr(m, 'pop_aux_losses'):
            m.pop_aux_losses()


def tensor_fn(model, data) -> Callable:
    def f():
        model.eval()
        with torch.no_grad():
            batch = model.data_preprocessor(copy.copy(data), False)
            return model(**batch, mode='tensor')
    return f


def predict_fn(model, data) -> Callable:
    """``test_step`` on ``data``; the last call's output stays as ``f.last`` (its detections are counted)."""
    def f():
        model.eval()
        with torch.no_grad():
            f.last = model.test_step(copy.copy(data))
        return f.last
    return f


def backbone_fn(model, data, train: bool) -> Callable:
    def f():
        model.train(train)
        with torch.set_grad_enabled(train):
            x = model.data_preprocessor(copy.copy(data), train)['inputs']
            out = model.backbone(x)
            if train:
                sum(o.float().mean() for o in out).backward()
                _pop_aux(model)
                model.zero_grad(set_to_none=True)
    return f


def train_fn(model, optim, data) -> Callable:
    def f():
        model.train()
        return model.train_step(copy.copy(data), optim)
    return f


def saved_bytes(model, data) -> int:
    """Bytes autograd keeps for the backward of the training loss (each storage once, no weights)."""
    def loss():
        model.train()
        batch = model.data_preprocessor(copy.copy(data), True)
        return model.parse_losses(model(**batch, mode='loss'))[0]
    out = saved_activation_bytes(loss, [*model.parameters(), *model.buffers()])
    _pop_aux(model)
    return out


def cp_name(name: str, level: str) -> str:
    """``'<name> with_cp'`` (every block) or ``'<name> with_cp=ffn'``."""
    return f'{name} with_cp' if level == 'block' else f'{name} with_cp={level}'


def measure_task(task: str, names: List[str], shape, batch: int, warmup: int, rounds: int,
                 metrics: List[str], memory: bool, with_cp: Sequence[str] = (),
                 score_thr: Optional[float] = 0.) -> List[dict]:
    scope, _, entries = TASKS[task]
    models, rows = {}, {}
    data = det_batch(shape, batch) if scope == 'mmdet' else seg_batch(shape, batch)
    variants = []
    for name, path, backbone, neck in entries:
        variants.append((name, path, backbone, neck, None))
        for level in with_cp if 'LaViT' in name else ():  # the same model, checkpointing in the backbone
            variants.append((cp_name(name, level), path, backbone, neck,
                             dict(backbone=dict(with_cp=True if level == 'block' else level))))
    names = names + [cp_name(n, level) for n in names if 'LaViT' in n for level in with_cp]
    for name, path, backbone, neck, extra in variants:
        if name not in names:
            continue
        model, optim = build(path, backbone, neck, extra)
        if score_thr is not None:
            set_score_thr(model, score_thr)
        models[name] = (model, optim)
        rows[name] = dict(task=task, model=name, config=path, shape=list(shape), batch=batch,
                          params=count_params(model), backbone_params=count_params(model.backbone))
        print(f'built {name} ({rows[name]["params"]:.1f} M params)', flush=True)
    for metric in metrics:
        if metric == 'train':
            fns = {n: train_fn(m, o, data) for n, (m, o) in models.items()}
        elif metric.startswith('backbone'):
            fns = {n: backbone_fn(m, data, metric == 'backbone_train') for n, (m, _) in models.items()}
        else:
            make = tensor_fn if metric == 'tensor' else predict_fn
            fns = {n: make(m, data) for n, (m, _) in models.items()}
        ts = interleaved(fns, warmup, rounds)
        if metric == 'predict':
            for n, f in fns.items():  # the output of the last timed call: no extra test_step
                rows[n]['detections'] = count_detections(f.last)
        for n, t in ts.items():
            rows[n][metric], rows[n][metric + '_median'] = best_median(t)
            print(f'{n}: {metric} {1e3 * min(t):.0f} ms [median {1e3 * rows[n][metric + "_median"]:.0f}]',
                  flush=True)
        release_memory()
    if memory:
        for n, (m, o) in models.items():
            rows[n]['saved_mb'] = saved_bytes(m, data) / 2 ** 20
            rows[n]['rss_mb'] = rss_growth(train_fn(m, o, data)) / 2 ** 20
            print(f"{n}: saved activations {rows[n]['saved_mb']:.0f} MB, RSS growth during the training step "
                  f"{rows[n]['rss_mb']:.0f} MB", flush=True)
    models.clear()
    release_memory()
    return [rows[n] for n, *_ in variants if n in rows]


def _family(name: str) -> str:
    return name.split(' (')[0]


def _pairs_in(rows: List[dict]):
    """(our row, the peer family, the peers' rows) for every pair of :data:`PAIRS` that ``rows`` hold."""
    by = {r['model']: r for r in rows}
    for pairs in PAIRS.values():
        for ours, fam in pairs:
            peers = [r for r in rows if _family(r['model']) == fam]
            if ours in by and peers:
                yield by[ours], fam, peers


def ratio_lines(rows: List[dict]) -> List[str]:
    """Ours over the fastest implementation of each peer family, per metric, and the saved-memory ratio."""
    metrics = [m for m, _ in METRICS if any(m in r for r in rows)]
    head = ' | '.join(t for m, t in METRICS if m in metrics)
    lines = [f'| speed-up (peer time / ours) | {head} | peak saved act. (ours / peer) |',
             '|---|' + '---|' * (len(metrics) + 1)]
    for o, fam, peers in _pairs_in(rows):
        cells = []
        for m in metrics:
            cands = [(p[m], p['model']) for p in peers if m in p]
            if m in o and cands:
                t, who = min(cands)
                cells.append(f"{t / o[m]:.2f}× ({who[len(fam):].strip(' ()') or who})")
            else:
                cells.append('—')
        mem = [p['saved_mb'] for p in peers if 'saved_mb' in p]
        cells.append(f"{o['saved_mb'] / min(mem):.2f}" if mem and 'saved_mb' in o else '—')
        lines.append(f"| **{o['model']}** over the fastest {fam} | " + ' | '.join(cells) + ' |')
    return lines


def table(rows: List[dict], rounds: int, warmup: int) -> List[str]:
    lines = [f'Machine: {machine("cpu")}. Best of {rounds} interleaved rounds after {warmup} warm-up '
             '[median]; random weights; "saved act.": bytes autograd keeps for the training step\'s backward '
             '(each storage once, weights excluded); "RSS +": growth of the process RSS during one training '
             'step; "dets": detections per image in test_step.', '',
             '| model | input | batch | params (M) | backbone (M) | mode=tensor ms | test_step ms | dets '
             '| training step ms | saved act. MB | RSS + MB |',
             '|---|---|---|---|---|---|---|---|---|---|---|']

    def ms(r, k):
        return f"{1e3 * r[k]:.0f} [{1e3 * r[k + '_median']:.0f}]" if k in r else '—'
    for r in rows:
        mem = [f"{r[k]:.0f}" if k in r else '—' for k in ('saved_mb', 'rss_mb')]
        lines.append(f"| {r['model']} | {r['shape'][0]}×{r['shape'][1]} | {r['batch']} | {r['params']:.1f} | "
                     f"{r['backbone_params']:.1f} | {ms(r, 'tensor')} | {ms(r, 'predict')} | "
                     f"{r['detections'] if r.get('detections', -1) >= 0 else '—'} | {ms(r, 'train')} | "
                     f"{mem[0]} | {mem[1]} |")
    return lines + [''] + ratio_lines(rows) + share_lines(rows)


def share_lines(rows: List[dict]) -> List[str]:
    """The backbone's share of each model's time, and the Amdahl bound it puts on our speed-up: the ratio
    ours would reach over the fastest peer if our backbone took no time at all (peer / (ours − backbone))."""
    if not any('backbone_fwd' in r or 'backbone_train' in r for r in rows):
        return []
    pairs = [('tensor', 'backbone_fwd'), ('train', 'backbone_train')]
    lines = ['', '| model | backbone fwd / mode=tensor | backbone fwd+bwd / training step |', '|---|---|---|']
    for r in rows:
        cells = [f"{r[b]:.2f}/{r[m]:.2f} s = {100 * r[b] / r[m]:.0f} %" if b in r and m in r else '—'
                 for m, b in pairs]
        lines.append(f"| {r['model']} | {cells[0]} | {cells[1]} |")
    lines += ['', '| ours over the fastest peer | mode=tensor: measured / bound with a free backbone '
              '| training step: measured / bound |', '|---|---|---|']
    for o, fam, peers in _pairs_in(rows):
        cells = []
        for m, b in pairs:
            cands = [p[m] for p in peers if m in p]
            if m in o and b in o and cands and o[m] > o[b]:
                cells.append(f'{min(cands) / o[m]:.2f}× / {min(cands) / (o[m] - o[b]):.2f}×')
            else:
                cells.append('—')
        lines.append(f"| {o['model']} over {fam} | {cells[0]} | {cells[1]} |")
    return lines


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('--tasks', nargs='+', default=list(TASKS), choices=list(TASKS))
    p.add_argument('--models', nargs='+', help='names from the task tables (default: all of each task)')
    p.add_argument('--shape', help='input HxW for every task (default: 800x1344 detection, 512x512 seg)')
    p.add_argument('--batch', type=int, help='images per step (default: 1 detection, 2 segmentation)')
    p.add_argument('--metrics', nargs='+', default=[m for m, _ in METRICS],
                   choices=[m for m, _ in METRICS + BACKBONE_METRICS],
                   help='backbone_fwd / backbone_train: the backbone alone (its share, for the Amdahl bound)')
    p.add_argument('--no-memory', action='store_true', help='skip saved activations and RSS')
    p.add_argument('--with-cp', nargs='*', choices=['block', 'ffn'], metavar='LEVEL',
                   help="also each LaViT model with the backbone's with_cp: 'block' (with_cp=True, "
                        "'<name> with_cp'; the default of a bare --with-cp) and/or 'ffn' "
                        "('<name> with_cp=ffn')")
    p.add_argument('--keep-score-thr', action='store_true',
                   help="keep the configs' score thresholds (default: 0, so every detector returns its "
                        'max_per_img detections and post-processing costs the same for all)')
    p.add_argument('--warmup', type=int, default=1)
    p.add_argument('--rounds', type=int, default=3)
    p.add_argument('--threads', type=int, default=2, help='torch intra-op threads (the issue measures 2)')
    p.add_argument('--smoke', action='store_true',
                   help=f'tiny inputs ({SMOKE_SHAPE[0]}x{SMOKE_SHAPE[1]}), no warm-up, one round')
    p.add_argument('--out-dir', default='work_dirs/bench_models')
    return p.parse_args(argv)


@keeps_torch_threads
def main(argv=None) -> int:
    a = parse_args(argv)
    known = {n for _, _, es in TASKS.values() for n, *_ in es}
    for n in a.models or []:
        if n not in known:
            raise SystemExit(f'unknown model {n!r}; known: {sorted(known)}')
    torch.set_num_threads(a.threads)
    if a.smoke:
        a.warmup, a.rounds = 0, 1
    os.makedirs(a.out_dir, exist_ok=True)
    rows = []
    for task in a.tasks:
        names = [n for n, *_ in TASKS[task][2] if a.models is None or n in a.models]
        if not names:
            continue
        shape = TASKS[task][1] if a.shape is None else tuple(int(v) for v in a.shape.split('x'))
        shape = SMOKE_SHAPE if a.smoke else shape
        batch = a.batch or DEFAULT_BATCH[TASKS[task][0]]
        rows += measure_task(task, names, shape, batch, a.warmup, a.rounds, a.metrics, not a.no_memory,
                             ['block'] if a.with_cp == [] else (a.with_cp or []),
                             None if a.keep_score_thr else 0.)
    lines = table(rows, a.rounds, a.warmup)
    write_table(osp.join(a.out_dir, 'benchmark_models.md'), lines)
    with open(osp.join(a.out_dir, 'benchmark_models.json'), 'w') as f:
        json.dump(dict(machine=machine('cpu'), rounds=a.rounds, warmup=a.warmup, rows=rows), f, indent=1)
    return 0
