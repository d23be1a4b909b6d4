# Copyright (c) mmlavit contributors.
"""Write the glyph scenes (characters drawn by the installed fonts over textured clutter, overlapping, small,
rotated: mmlavit.datasets.glyph_scenes) in the COCO layout (detection / instance segmentation, for mmdet's
CocoDataset and CocoMetric) and / or the ADE20K layout (semantic segmentation, for mmseg's BaseSegDataset and
IoUMetric). Deterministic given --seed and the installed fonts (recorded in the output).

    python tools/dataset_converters/glyph_scenes.py coco   data/glyph_coco     # configs/*/*_glyph-coco.py
    python tools/dataset_converters/glyph_scenes.py ade20k data/glyph_ade20k   # configs/*/*_glyph-ade20k.py
    python tools/dataset_converters/glyph_scenes.py both   data                # data/glyph_{coco,ade20k}

Splits: train, val (choose settings and checkpoints on it) and test (report on it): COCO's
annotations/instances_{train,val,test}2017.json + {train,val,test}2017/, ADE20K's
images/{training,validation,testing} + annotations/{training,validation,testing}; the glyph configs' val and
test loaders read val and test. Train and val are the same for a --seed whatever --num-test is.

Fonts: every .ttf/.otf under --font-dirs (default: the system's font folders) and matplotlib's bundled ones
that draws all --chars; --val-fonts N keeps N of them for val only and --test-fonts M another M for test only
(fonts unseen in training, and test's unseen in val); without --test-fonts test is drawn by val's fonts.
"""
import argparse
import json
import os
import os.path as osp
import sys

from mmlavit.datasets import glyph_scenes
from mmlavit.datasets.fonts import FONT_DIRS, FONT_HINT, find_fonts

LAYOUTS = ('coco', 'ade20k')
DEFAULT_ROOT = dict(coco='data/glyph_coco', ade20k='data/glyph_ade20k')
MARKER = '.mmlavit-generated'


def _roots(layout, root):
    """``{layout: folder}`` to write; ``both`` writes ``<root>/glyph_coco`` and ``<root>/glyph_ade20k``."""
    if layout == 'both':
        base = root or 'data'
        return {k: osp.join(base, osp.basename(DEFAULT_ROOT[k])) for k in LAYOUTS}
    return {layout: root or DEFAULT_ROOT[layout]}


def parse_args(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('layout', choices=(*LAYOUTS, 'both'))
    p.add_argument('root', nargs='?',
                   help='output folder (default: data/glyph_coco or data/glyph_ade20k; for both: the parent '
                        'folder, default data)')
    p.add_argument('--num-train', type=int, default=200, help='training images per layout (default 200)')
    p.add_argument('--num-val', type=int, default=50, help='validation images per layout (default 50)')
    p.add_argument('--num-test', type=int, default=50, help='test images per layout (default 50)')
    p.add_argument('--img-size', type=int, nargs=2, metavar=('H', 'W'),
                   help='image size (default: 192 256 for coco, 128 128 for ade20k)')
    p.add_argument('--chars', default=glyph_scenes.CHARS,
                   help='the classes, one character each (default: 0-9 and A-Z, 36 classes)')
    p.add_argument('--font-dirs', nargs='+', default=list(FONT_DIRS),
                   help='folders searched for .ttf/.otf fonts (matplotlib\'s fonts are added unless '
                        '--no-matplotlib-fonts)')
    p.add_argument('--no-matplotlib-fonts', action='store_true', help="do not use matplotlib's bundled fonts")
    p.add_argument('--val-fonts', type=int, default=0,
                   help='fonts kept for val only (unseen in training); 0: val drawn by the training fonts '
                        '(default)')
    p.add_argument('--test-fonts', type=int, default=0,
                   help='fonts kept for test only (unseen in training and val); 0: test drawn by '
                        'val\'s fonts (default)')
    p.add_argument('--max-objects', type=int, default=8, help='glyphs per image: 1 to this (default 8)')
    p.add_argument('--min-height', type=int, default=10, help='smallest glyph height in px (default 10)')
    p.add_argument('--max-height', type=int,
                   help='largest glyph height in px (default: 45%% of the shorter image side)')
    p.add_argument('--max-angle', type=float, default=30.0,
                   help='rotation up to +- this, degrees (default 30)')
    p.add_argument('--clutter', type=int, default=6, help='unlabelled strokes and arcs per image (default 6)')
    p.add_argument('--min-visible', type=float, default=0.3,
                   help='coco: a glyph with less than this share of it visible is iscrowd (ignored by '
                        'mmdet) (default 0.3)')
    p.add_argument('--min-area', type=int, default=12,
                   help='visible pixels below which a glyph is dropped (coco) or ignored (ade20k: label 0) '
                        '(default 12)')
    p.add_argument('--seed', type=int, default=0)
    p.add_argument('--force', action='store_true', help='write into a non-empty folder')
    a = p.parse_args(argv)
    for name in ('num_train', 'num_val', 'num_test', 'max_objects', 'min_height'):
        if getattr(a, name) < 1:
            p.error(f"--{name.replace('_', '-')} must be at least 1, got {getattr(a, name)}")
    for name in ('val_fonts', 'test_fonts'):
        if getattr(a, name) < 0:
            p.error(f"--{name.replace('_', '-')} must be 0 or more, got {getattr(a, name)}")
    if a.img_size and min(a.img_size) < 16:
        p.error(f'--img-size {a.img_size[0]} {a.img_size[1]}: each side must be at least 16 px')
    if a.max_height is not None and a.max_height < a.min_height:
        p.error(f'--max-height {a.max_height} is below --min-height {a.min_height}')
    if len(set(a.chars)) != len(a.chars):
        p.error(f'--chars repeats a character: {a.chars!r}')
    if not 0 <= a.min_visible <= 1:
        p.error(f'--min-visible must lie in [0, 1], got {a.min_visible}')
    return a


def main(argv=None):
    a = parse_args(argv)
    roots = _roots(a.layout, a.root)
    for layout, root in roots.items():
        if osp.exists(root) and os.listdir(root) and not a.force:
            what = ('generated glyph scenes' if osp.exists(osp.join(root, MARKER)) else
                    'files this tool did not write')
            print(f'error: {root} already holds {what}; pick another folder or pass --force.',
                  file=sys.stderr)
            return 2
    fonts = find_fonts(a.font_dirs, chars=a.chars, with_matplotlib=not a.no_matplotlib_fonts)
    searched = list(a.font_dirs) + ([] if a.no_matplotlib_fonts else ["matplotlib's fonts"])
    if not fonts:
        print(f'error: no font under {searched} draws all {len(a.chars)} characters {a.chars!r}: {FONT_HINT} '
              '(--font-dirs), or pass fewer --chars.', file=sys.stderr)
        return 2
    if a.val_fonts + a.test_fonts >= len(fonts):
        print(f'error: --val-fonts {a.val_fonts} and --test-fonts {a.test_fonts} need at least '
              f'{a.val_fonts + a.test_fonts + 1} fonts (one left for training); {len(fonts)} found under '
              f'{searched}.', file=sys.stderr)
        return 2
    scene = dict(max_objects=a.max_objects, min_height=a.min_height, max_height=a.max_height,
                 max_angle=a.max_angle, clutter=a.clutter)
    common = dict(num_train=a.num_train, num_val=a.num_val, num_test=a.num_test, chars=a.chars, fonts=fonts,
                  val_fonts=a.val_fonts, test_fonts=a.test_fonts, min_area=a.min_area, seed=a.seed, **scene)
    if a.img_size:
        common['img_size'] = tuple(a.img_size)
    for layout, root in roots.items():
        if layout == 'coco':
            out = glyph_scenes.make_glyph_coco(root, min_visible=a.min_visible, **common)
        else:
            out = glyph_scenes.make_glyph_ade20k(root, **common)
        settings = dict(vars(a), layout=layout, root=root, fonts=fonts)
        with open(osp.join(root, MARKER), 'w') as f:
            json.dump(settings, f, indent=1)
        print(f'{layout}: {a.num_train} train / {a.num_val} val / {a.num_test} test images, {len(a.chars)} '
              f'classes, {len(fonts)} fonts ({a.val_fonts} for val only, {a.test_fonts} for test only) '
              f'-> {root}')
        for k, v in out.items():
            print(f'  {k}: {v}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
