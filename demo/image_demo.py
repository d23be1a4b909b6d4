# Copyright (c) mmlavit contributors.
"""Run one of our models on an image with the toolbox's own Inferencer and save the drawn prediction.

    python demo/image_demo.py IMAGE MODEL [WEIGHTS] [--out-dir outputs] [--device cpu] [--score-thr 0.3]

MODEL is a config path, a model name (``mmpretrain.list_models('*lavit*')``) or an ``mmlavit::`` name
(``mmlavit::<name>`` or ``mmlavit::lavit/<config>.py``); WEIGHTS a checkpoint path (we publish none). The
config's ``default_scope`` picks mmdet's ``DetInferencer``, mmseg's ``MMSegInferencer`` or mmpretrain's
``ImageClassificationInferencer``; each takes MODEL as given (``import mmlavit`` teaches them our names) and
writes the drawing under ``<out-dir>/vis/``.
"""
import argparse
import os.path as osp
import sys

from mmengine.config import Config

import mmlavit  # noqa: F401  (our types and model names)
from mmlavit.apis.model_hub import load_named_config


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('img')
    p.add_argument('model', help='config path, model name or mmlavit:: name')
    p.add_argument('weights', nargs='?', help='checkpoint path (without: random weights, with a warning)')
    p.add_argument('--out-dir', default='outputs')
    p.add_argument('--device', default='cpu')
    p.add_argument('--score-thr', type=float, default=0.3, help='detection score threshold')
    a = p.parse_args(argv)
    try:
        cfg = Config.fromfile(a.model) if osp.isfile(a.model) else load_named_config(a.model)
    except ValueError as e:
        print(f'error: {e}', file=sys.stderr)
        return 2
    scope = cfg.get('default_scope')
    if scope == 'mmdet':
        from mmdet.apis import DetInferencer
        inferencer = DetInferencer(a.model, weights=a.weights, device=a.device)
        pred = inferencer(a.img, out_dir=a.out_dir, pred_score_thr=a.score_thr)['predictions'][0]
        print(f'DetInferencer: {sum(s >= a.score_thr for s in pred["scores"])} instances above {a.score_thr}')
    elif scope == 'mmseg':
        from mmseg.apis import MMSegInferencer
        inferencer = MMSegInferencer(a.model, weights=a.weights, device=a.device)
        pred = inferencer(a.img, out_dir=a.out_dir)['predictions']
        print('MMSegInferencer: classes present', sorted(set(pred.flatten().tolist())))
    elif scope == 'mmpretrain':
        from mmpretrain.apis import ImageClassificationInferencer
        inferencer = ImageClassificationInferencer(a.model, pretrained=a.weights or False, device=a.device)
        res = inferencer(a.img, show_dir=osp.join(a.out_dir, 'vis'))[0]
        print(f'ImageClassificationInferencer: {res.get("pred_class", res["pred_label"])} '
              f'({res["pred_score"]:.3f})')
    else:
        print(f'error: {a.model} has default_scope={scope!r}; expected mmdet, mmseg or mmpretrain (few-shot '
              'and distillation configs are evaluated with tools/test.py)', file=sys.stderr)
        return 2
    print(f'wrote {osp.join(a.out_dir, "vis")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
