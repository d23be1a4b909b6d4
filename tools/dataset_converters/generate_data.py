# Copyright (c) mmlavit contributors.
"""Generate the small offline datasets in real on-disk formats (deterministic by --seed).

    python tools/dataset_converters/generate_data.py coco     data/synthetic_coco
    python tools/dataset_converters/generate_data.py ade20k   data/synthetic_ade20k
    python tools/dataset_converters/generate_data.py imagenet data/synthetic_imagenet
    python tools/dataset_converters/generate_data.py fewshot  data/synthetic_fewshot
    python tools/dataset_converters/generate_data.py digits   data/digits   (scikit-learn's real 8x8 digits;
                                                     --val-fraction sets the held-out share, default 0.3)
"""
import argparse
import os.path as osp
import sys

from mmlavit.datasets import synthetic

DEFAULT_ROOT = dict(coco='data/synthetic_coco', ade20k='data/synthetic_ade20k',
                    imagenet='data/synthetic_imagenet', fewshot='data/synthetic_fewshot',
                    digits='data/digits')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('kind', choices=sorted(DEFAULT_ROOT))
    p.add_argument('root', nargs='?', help='output folder (default: data/synthetic_<kind>)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--num-train', type=int, help='images (coco/ade20k) or images per class (imagenet)')
    p.add_argument('--num-val', type=int, help='images (coco/ade20k) or images per class (imagenet)')
    p.add_argument('--num-classes', type=int, nargs='+',
                   help='imagenet: number of classes; fewshot: train val test class counts')
    p.add_argument('--per-class', type=int, help='fewshot: images per class')
    p.add_argument('--img-size', type=int, nargs='+', help='H W (coco/ade20k) or side (imagenet/fewshot)')
    p.add_argument('--val-fraction', type=float,
                   help='digits: share of each class held out for val (default 0.3)')
    p.add_argument('--force', action='store_true', help='write into a non-empty folder')
    a = p.parse_args(argv)
    if a.val_fraction is not None and a.kind != 'digits':
        p.error(f'--val-fraction applies to digits only; {a.kind} takes --num-train/--num-val')
    root = a.root or DEFAULT_ROOT[a.kind]
    marker = osp.join(root, '.mmlavit-generated')
    if osp.exists(root) and not a.force:
        if osp.exists(marker):
            print(f'{root} already holds generated {a.kind} data (use --force to regenerate).')
            return 0
        print(f'error: {root} exists and was not made by this tool; pick another folder or pass --force.',
              file=sys.stderr)
        return 2
    kw = dict(seed=a.seed)
    if a.img_size:
        kw['img_size'] = tuple(a.img_size) if a.kind in ('coco', 'ade20k') else a.img_size[0]
    if a.kind in ('coco', 'ade20k'):
        kw.update({k: v for k, v in (('num_train', a.num_train), ('num_val', a.num_val)) if v})
        out = (synthetic.make_coco if a.kind == 'coco' else synthetic.make_ade20k)(root, **kw)
    elif a.kind == 'digits':
        if a.val_fraction is not None:
            if not 0 < a.val_fraction < 1:
                p.error(f'--val-fraction must lie in (0, 1), got {a.val_fraction}')
            kw['val_fraction'] = a.val_fraction
        out = synthetic.make_digits(root, **kw)
    elif a.kind == 'imagenet':
        kw.update({k: v for k, v in (('train_per_class', a.num_train), ('val_per_class', a.num_val)) if v})
        if a.num_classes:
            kw['num_classes'] = a.num_classes[0]
        out = synthetic.make_imagenet(root, **kw)
    else:
        if a.num_classes:
            if len(a.num_classes) != 3:
                p.error('fewshot needs three class counts: --num-classes TRAIN VAL TEST')
            kw['num_classes'] = tuple(a.num_classes)
        if a.per_class:
            kw['per_class'] = a.per_class
        out = synthetic.make_fewshot(root, **kw)
    open(marker, 'w').write(f'{a.kind} seed={a.seed}\n')
    for k, v in out.items():
        print(f'{k}: {v}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
