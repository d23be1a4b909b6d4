# Copyright (c) mmlavit contributors.
"""Few-shot source from real handwriting: scikit-learn's 1,797 digit images (8x8, UCI optical digits, shipped
inside the package), in the miniImageNet CSV format (``images/*.png`` + ``{train,val,test}.csv``).

    python tools/dataset_converters/digits_fewshot.py data/digits_fewshot

Ten digits are too few classes for 5-way episodes over disjoint class splits, so, as Omniglot practice does
with rotations, every digit under each of the 8 symmetries of the square (rotations by 0/90/180/270°, with and
without a left-right flip) is a class of its own: 80 candidates. A symmetric digit (0, 1, 8) looks the same
under several of them, so a candidate is **dropped when its mean image correlates ≥ 0.9 with a class already
kept** (taken in the order digit, then identity first) — more alike than any two distinct digits are (≤ 0.87):
62 classes remain. Splits are by **digit**, so meta-test shapes are never seen in meta-training in any pose:
meta-train 0 1 2 3 4 5 8 (38 classes), meta-val 7 (8), meta-test 6 9 (16). Each class has the ~180 images
of its digit (174-183). Images are stored at their native 8x8 (grey, 0-16 scaled to 0-255); the configs
resize them.
"""
import argparse
import os
import os.path as osp
import sys

import numpy as np

SPLITS = dict(train=(0, 1, 2, 3, 4, 5, 8), val=(7, ), test=(6, 9))
DUPLICATE_CORR = 0.9


def transform(img: np.ndarray, rot: int, flip: bool) -> np.ndarray:
    """``img`` (..., H, W) rotated by ``rot`` × 90° counter-clockwise, then flipped left-right if ``flip``."""
    img = np.rot90(img, rot, axes=(-2, -1))
    return img[..., ::-1] if flip else img


def make_classes(images: np.ndarray, labels: np.ndarray, corr: float = DUPLICATE_CORR):
    """The kept ``(digit, rot, flip)`` classes (module docstring), in order."""
    cands, means = [], []
    for digit in np.unique(labels).tolist():
        for flip in (False, True):
            for rot in range(4):
                cands.append((digit, rot, flip))
                means.append(transform(images[labels == digit], rot, flip).mean(0).ravel())
    m = np.asarray(means)
    m = m - m.mean(1, keepdims=True)
    m /= np.linalg.norm(m, axis=1, keepdims=True)
    sim = m @ m.T
    kept = []
    for i in range(len(cands)):
        if all(sim[i, j] < corr for j in kept):
            kept.append(i)
    return [cands[i] for i in kept]


def class_name(digit: int, rot: int, flip: bool) -> str:
    return f'd{digit}_r{rot * 90}' + ('_f' if flip else '')


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('out_dir', help='output folder (e.g. data/digits_fewshot)')
    a = p.parse_args(argv)
    from PIL import Image
    from sklearn.datasets import load_digits
    d = load_digits()
    images = np.clip(d.images * 16, 0, 255).astype(np.uint8)  # 0..16 -> 0..255
    labels = d.target
    os.makedirs(osp.join(a.out_dir, 'images'), exist_ok=True)
    rows = {s: ['filename,label'] for s in SPLITS}
    split_of = {dg: s for s, digits in SPLITS.items() for dg in digits}
    for digit, rot, flip in make_classes(images, labels):
        name = class_name(digit, rot, flip)
        for i in np.flatnonzero(labels == digit):
            fname = f'{name}_{i:04d}.png'
            Image.fromarray(np.ascontiguousarray(transform(images[i], rot, flip))).save(
                osp.join(a.out_dir, 'images', fname))
            rows[split_of[digit]].append(f'{fname},{name}')
    for s, lines in rows.items():
        with open(osp.join(a.out_dir, f'{s}.csv'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
        n_cls = len({line.split(',')[1] for line in lines[1:]})
        print(f'{s}: {n_cls} classes, {len(lines) - 1} images -> {osp.join(a.out_dir, s + ".csv")}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
