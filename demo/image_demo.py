# Copyright (c) mmlavit contributors.
"""Run a trained mmdet / mmseg / mmpretrain config of ours on one image and save the drawn prediction.

    python demo/image_demo.py IMAGE CONFIG CHECKPOINT --out-file pred.png [--device cpu] [--score-thr 0.3]

The config's ``default_scope`` picks the toolbox's own inference API (mmdet ``init_detector`` /
``inference_detector``, mmseg ``init_model`` / ``inference_model``, mmpretrain
``ImageClassificationInferencer``)
and its visualizer draws the result.
"""
import argparse
import sys

import mmcv
from mmengine.config import Config

import mmlavit  # noqa: F401


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('img')
    p.add_argument('config')
    p.add_argument('checkpoint')
    p.add_argument('--out-file', default='pred.png')
    p.add_argument('--device', default='cpu')
    p.add_argument('--score-thr', type=float, default=0.3, help='detection score threshold')
    a = p.parse_args(argv)
    cfg = Config.fromfile(a.config)
    bb = cfg.model.get('backbone')
    if isinstance(bb, dict) and bb.get('init_cfg'):
        bb['init_cfg'] = None  # weights come from the checkpoint
    scope = cfg.get('default_scope')
    image = mmcv.imread(a.img, channel_order='rgb')
    if scope == 'mmdet':
        from mmdet.apis import inference_detector, init_detector
        from mmdet.registry import VISUALIZERS
        model = init_detector(cfg, a.checkpoint, device=a.device)
        result = inference_detector(model, a.img)
        vis = VISUALIZERS.build(model.cfg.visualizer)
        vis.dataset_meta = model.dataset_meta
        vis.add_datasample('result', image, data_sample=result, draw_gt=False, pred_score_thr=a.score_thr,
                           out_file=a.out_file)
        keep = result.pred_instances.scores >= a.score_thr
        print(f'{int(keep.sum())} instances above {a.score_thr}')
    elif scope == 'mmseg':
        from mmseg.apis import inference_model, init_model
        from mmseg.registry import VISUALIZERS
        model = init_model(cfg, a.checkpoint, device=a.device)
        result = inference_model(model, a.img)
        vis = VISUALIZERS.build(model.cfg.visualizer)
        vis.dataset_meta = model.dataset_meta
        vis.add_datasample('result', image, data_sample=result, draw_gt=False, out_file=a.out_file)
        print('classes present:', sorted(set(result.pred_sem_seg.data.unique().tolist())))
    elif scope == 'mmpretrain':
        from mmpretrain.apis import ImageClassificationInferencer
        inferencer = ImageClassificationInferencer(cfg, pretrained=a.checkpoint, device=a.device)
        result = inferencer(a.img, show_dir=None)[0]
        print(f'pred: {result["pred_class"] if "pred_class" in result else result["pred_label"]} '
              f'({result["pred_score"]:.3f})')
        from mmpretrain.structures import DataSample
        from mmpretrain.visualization import UniversalVisualizer
        vis = UniversalVisualizer()
        sample = DataSample().set_pred_label(result['pred_label']).set_pred_score(result['pred_scores'])
        vis.visualize_cls(image, sample, classes=inferencer.classes, out_file=a.out_file)
    else:
        print(f'error: {a.config} has default_scope={scope!r}; expected mmdet, mmseg or mmpretrain',
              file=sys.stderr)
        return 2
    print(f'wrote {a.out_file}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
