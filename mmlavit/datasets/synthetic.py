"""Generated offline datasets in the real on-disk formats the stock OpenMMLab dataset classes read.

Every image carries learnable signal: objects are shapes (circle, square, triangle, ...) with
class-dependent colour and texture on a textured background, placed, scaled and rotated at random.
Everything is deterministic given ``seed``.

Formats (the layouts the stock classes expect):

* :func:`make_coco` — COCO instance segmentation (``annotations/instances_{train,val}2017.json``,
  ``train2017/``, ``val2017/``) for mmdet's ``CocoDataset`` and ``CocoMetric``: boxes + polygon masks.
* :func:`make_ade20k` — ADE20K semantic segmentation (``images/{training,validation}/*.jpg``,
  ``annotations/{training,validation}/*.png``; label 0 = "other", classes 1..150 as in ADE20K, so
  mmseg's ``ADE20KDataset`` with ``reduce_zero_label=True`` reads it as-is).
* :func:`make_imagenet` — class folders ``{train,val}/<class>/*.png`` (+ ``meta/{train,val}.txt``) for
  mmpretrain's ``CustomDataset`` / ``ImageNet``.
* :func:`make_fewshot` — miniImageNet CSV splits (``images/*.jpg``, ``{train,val,test}.csv`` with
  ``filename,label``) over many procedurally generated classes, disjoint across splits.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw

SHAPES = ('circle', 'square', 'triangle', 'diamond', 'pentagon', 'hexagon', 'star', 'cross')


def _polygon(shape: str, cx: float, cy: float, r: float, angle: float) -> List[Tuple[float, float]]:
    """Vertices of ``shape`` centred at (cx, cy) with circumradius r, rotated by ``angle`` radians."""
    if shape == 'circle':
        pts = [(1.0, 2 * math.pi * k / 32) for k in range(32)]
    elif shape == 'square':
        pts = [(1.0, math.pi / 4 + math.pi / 2 * k) for k in range(4)]
    elif shape == 'triangle':
        pts = [(1.0, -math.pi / 2 + 2 * math.pi / 3 * k) for k in range(3)]
    elif shape == 'diamond':
        pts = [(1.0 if k % 2 == 0 else 0.55, math.pi / 2 * k) for k in range(4)]
    elif shape == 'pentagon':
        pts = [(1.0, -math.pi / 2 + 2 * math.pi / 5 * k) for k in range(5)]
    elif shape == 'hexagon':
        pts = [(1.0, 2 * math.pi / 6 * k) for k in range(6)]
    elif shape == 'star':
        pts = [(1.0 if k % 2 == 0 else 0.45, -math.pi / 2 + math.pi / 5 * k) for k in range(10)]
    elif shape == 'cross':
        a, b = 1.0, 0.35
        xy = [(b, a), (b, b), (a, b), (a, -b), (b, -b), (b, -a), (-b, -a), (-b, -b), (-a, -b), (-a, b),
              (-b, b), (-b, a)]
        pts = [(math.hypot(x, y) / math.hypot(a, b) * 1.0, math.atan2(y, x)) for x, y in xy]
    else:
        raise ValueError(f'unknown shape {shape!r}; expected one of {SHAPES}')
    return [(cx + r * rho * math.cos(t + angle), cy + r * rho * math.sin(t + angle)) for rho, t in pts]


def _texture(h: int, w: int, kind: int, color: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """An (h, w, 3) uint8 patch: ``kind`` 0 flat, 1 horizontal stripes, 2 vertical stripes, 3 checker,
    4 dots, 5 diagonal stripes; ``color`` is the base RGB colour."""
    yy, xx = np.mgrid[0:h, 0:w]
    period = rng.integers(4, 8)
    if kind == 0:
        pattern = np.zeros((h, w))
    elif kind == 1:
        pattern = ((yy // period) % 2).astype(float)
    elif kind == 2:
        pattern = ((xx // period) % 2).astype(float)
    elif kind == 3:
        pattern = (((yy // period) + (xx // period)) % 2).astype(float)
    elif kind == 4:
        pattern = (((yy % period) < 2) & ((xx % period) < 2)).astype(float)
    else:
        pattern = (((xx + yy) // period) % 2).astype(float)
    img = color[None, None, :] * (1.0 - 0.45 * pattern[..., None])
    img = img + rng.normal(0, 8, size=(h, w, 3))
    return np.clip(img, 0, 255).astype(np.uint8)


def _background(size: Tuple[int, int], rng: np.random.Generator) -> np.ndarray:
    h, w = size
    base = rng.integers(60, 140, size=3).astype(float)
    return _texture(h, w, int(rng.integers(0, 6)), base, rng)


def _paste(canvas: np.ndarray, polygon, fill: np.ndarray) -> np.ndarray:
    """Paste the (h, w, 3) ``fill`` onto ``canvas`` inside ``polygon``; return the boolean mask."""
    h, w = canvas.shape[:2]
    m = Image.new('L', (w, h), 0)
    ImageDraw.Draw(m).polygon(polygon, fill=1)
    mask = np.asarray(m, dtype=bool)
    canvas[mask] = fill[mask]
    return mask


def _jitter(color: Sequence[int], rng: np.random.Generator, amount: float = 25) -> np.ndarray:
    return np.clip(np.asarray(color, float) + rng.normal(0, amount, 3), 0, 255)


# ---------------------------------------------------------------------------------------------- COCO
COCO_CLASSES = ('circle', 'square', 'triangle', 'star')
_COCO_COLORS = {'circle': (220, 60, 60), 'square': (60, 200, 80), 'triangle': (70, 90, 230),
                'star': (230, 210, 50)}


def _place_objects(rng, size, n_obj, r_range):
    """Non-overlapping (cx, cy, r) placements by rejection sampling."""
    h, w = size
    placed = []
    for _ in range(200):
        if len(placed) == n_obj:
            break
        r = rng.uniform(*r_range)
        cx, cy = rng.uniform(r + 2, w - r - 2), rng.uniform(r + 2, h - r - 2)
        if all(math.hypot(cx - x, cy - y) > r + rr + 3 for x, y, rr in placed):
            placed.append((cx, cy, r))
    return placed


def make_coco(root: str, num_train: int = 160, num_val: int = 32, img_size: Tuple[int, int] = (192, 256),
              max_objects: int = 4, seed: int = 0) -> Dict[str, str]:
    """Write a COCO-format instance segmentation dataset under ``root``; returns the annotation paths."""
    rng = np.random.default_rng(seed)
    categories = [dict(id=i + 1, name=n, supercategory='shape') for i, n in enumerate(COCO_CLASSES)]
    out = {}
    h, w = img_size
    ann_id = 1
    for split, n_img in (('train2017', num_train), ('val2017', num_val)):
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, anns = [], []
        for i in range(n_img):
            img_id = len(images) + 1 + (0 if split == 'train2017' else 100000)
            canvas = _background((h, w), rng)
            n_obj = int(rng.integers(1, max_objects + 1))
            for cx, cy, r in _place_objects(rng, (h, w), n_obj, (min(h, w) * 0.09, min(h, w) * 0.2)):
                cat = int(rng.integers(len(COCO_CLASSES)))
                name = COCO_CLASSES[cat]
                poly = _polygon(name, cx, cy, r, rng.uniform(0, 2 * math.pi))
                fill = _texture(h, w, 0, _jitter(_COCO_COLORS[name], rng), rng)
                mask = _paste(canvas, poly, fill)
                if mask.sum() < 10:
                    continue
                ys, xs = np.nonzero(mask)
                x0, y0, x1, y1 = xs.min(), ys.min(), xs.max() + 1, ys.max() + 1
                flat = [round(float(c), 2) for p in poly
                        for c in (min(max(p[0], 0), w), min(max(p[1], 0), h))]
                anns.append(dict(id=ann_id, image_id=img_id, category_id=cat + 1, segmentation=[flat],
                                 area=float(mask.sum()), bbox=[float(x0), float(y0), float(x1 - x0),
                                                               float(y1 - y0)], iscrowd=0))
                ann_id += 1
            fname = f'{img_id:012d}.jpg'
            Image.fromarray(canvas).save(osp.join(root, split, fname), quality=95)
            images.append(dict(id=img_id, file_name=fname, height=h, width=w))
        ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
        os.makedirs(osp.dirname(ann_file), exist_ok=True)
        with open(ann_file, 'w') as f:
            json.dump(dict(images=images, annotations=anns, categories=categories,
                           info=dict(description='mmlavit generated shapes', version='1.0'), licenses=[]), f)
        out[split] = ann_file
    return out


# ---------------------------------------------------------------------------------------------- ADE20K
# (ADE20K label id, shape, colour, texture) of the generated "stuff" classes; 0 is "other" (ignored).
ADE_CLASSES = ((1, None, (120, 120, 120), 1),        # wall: the background, striped grey
               (2, 'square', (180, 120, 120), 3),    # building: checkered
               (3, 'circle', (90, 160, 230), 0),     # sky: flat blue
               (4, 'triangle', (80, 50, 50), 5),     # floor: diagonal stripes
               (5, 'hexagon', (40, 160, 40), 4))     # tree: dotted green


def make_ade20k(root: str, num_train: int = 64, num_val: int = 16, img_size: Tuple[int, int] = (128, 128),
                max_objects: int = 4, seed: int = 0) -> Dict[str, str]:
    """Write an ADE20K-format semantic segmentation dataset under ``root``.

    Labels follow ADE20K: 0 = other (becomes 255/ignored under ``reduce_zero_label=True``), 1 = wall,
    2 = building, 3 = sky, 4 = floor, 5 = tree; a thin "other" border around each object is left at 0.
    """
    rng = np.random.default_rng(seed)
    h, w = img_size
    for split, n_img in (('training', num_train), ('validation', num_val)):
        os.makedirs(osp.join(root, 'images', split), exist_ok=True)
        os.makedirs(osp.join(root, 'annotations', split), exist_ok=True)
        for i in range(n_img):
            wall = ADE_CLASSES[0]
            canvas = _texture(h, w, wall[3], _jitter(wall[2], rng, 15), rng)
            label = np.full((h, w), wall[0], np.uint8)
            n_obj = int(rng.integers(1, max_objects + 1))
            for cx, cy, r in _place_objects(rng, (h, w), n_obj, (min(h, w) * 0.1, min(h, w) * 0.25)):
                lab, shape, color, tex = ADE_CLASSES[int(rng.integers(1, len(ADE_CLASSES)))]
                poly = _polygon(shape, cx, cy, r, rng.uniform(0, 2 * math.pi))
                mask = _paste(canvas, poly, _texture(h, w, tex, _jitter(color, rng, 15), rng))
                label[mask] = lab
            name = f'ADE_{split[:5]}_{i:08d}'
            Image.fromarray(canvas).save(osp.join(root, 'images', split, name + '.jpg'), quality=95)
            Image.fromarray(label).save(osp.join(root, 'annotations', split, name + '.png'))
    return dict(train=osp.join(root, 'images', 'training'), val=osp.join(root, 'images', 'validation'))


# ---------------------------------------------------------------------------------------------- classes
def _class_spec(idx: int, seed: int) -> dict:
    """The appearance of procedurally generated class ``idx``: shape, colour, texture, size."""
    r = np.random.default_rng([seed, idx])
    return dict(shape=SHAPES[idx % len(SHAPES)], color=r.integers(30, 230, size=3).tolist(),
                texture=int((idx // len(SHAPES)) % 6), scale=float(r.uniform(0.28, 0.42)))


def draw_class_image(spec: dict, size: int, rng: np.random.Generator) -> np.ndarray:
    """One (size, size, 3) uint8 image of a class: its shape, colour and texture on a random background,
    at a random position, rotation and scale."""
    canvas = _background((size, size), rng)
    r = size * spec['scale'] * rng.uniform(0.8, 1.2)
    cx, cy = rng.uniform(r * 0.8, size - r * 0.8, size=2)
    poly = _polygon(spec['shape'], cx, cy, r, rng.uniform(0, 2 * math.pi))
    _paste(canvas, poly, _texture(size, size, spec['texture'], _jitter(spec['color'], rng, 20), rng))
    return canvas


def make_imagenet(root: str, num_classes: int = 10, train_per_class: int = 40, val_per_class: int = 10,
                  img_size: int = 64, seed: int = 0) -> Dict[str, str]:
    """ImageNet-style class folders ``{train,val}/<class>/*.png`` plus ``meta/{train,val}.txt`` lists
    (``<relative path> <label>``) and ``meta/classes.txt``."""
    rng = np.random.default_rng(seed)
    classes = [f'class{c:03d}_{_class_spec(c, seed)["shape"]}' for c in range(num_classes)]
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    with open(osp.join(root, 'meta', 'classes.txt'), 'w') as f:
        f.write('\n'.join(classes) + '\n')
    for split, n in (('train', train_per_class), ('val', val_per_class)):
        lines = []
        for c, cname in enumerate(classes):
            os.makedirs(osp.join(root, split, cname), exist_ok=True)
            spec = _class_spec(c, seed)
            for i in range(n):
                rel = f'{cname}/{cname}_{i:04d}.png'
                Image.fromarray(draw_class_image(spec, img_size, rng)).save(osp.join(root, split, rel))
                lines.append(f'{rel} {c}')
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(lines) + '\n')
    return dict(train=osp.join(root, 'train'), val=osp.join(root, 'val'))


def make_digits(root: str, img_size: int = 16, val_fraction: float = 0.3, seed: int = 0) -> Dict[str, str]:
    """scikit-learn's bundled handwritten digits (1,797 real 8×8 scans, 10 classes; no download) written as
    class folders like :func:`make_imagenet`: upsampled to ``img_size`` (bilinear), grey replicated to RGB,
    a stratified ``val_fraction`` held out (seeded)."""
    from sklearn.datasets import load_digits
    digits = load_digits()
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'meta'), exist_ok=True)
    classes = [f'digit{c}' for c in range(10)]
    with open(osp.join(root, 'meta', 'classes.txt'), 'w') as f:
        f.write('\n'.join(classes) + '\n')
    lines = dict(train=[], val=[])
    for c, cname in enumerate(classes):
        idx = rng.permutation(np.flatnonzero(digits.target == c))
        n_val = int(round(len(idx) * val_fraction))
        for split, part in (('val', idx[:n_val]), ('train', idx[n_val:])):
            os.makedirs(osp.join(root, split, cname), exist_ok=True)
            for i in part:
                img = Image.fromarray((digits.images[i] * (255 / 16)).astype(np.uint8))
                img = img.resize((img_size, img_size), Image.BILINEAR).convert('RGB')
                rel = f'{cname}/{cname}_{i:04d}.png'
                img.save(osp.join(root, split, rel))
                lines[split].append(f'{rel} {c}')
    for split, ls in lines.items():
        with open(osp.join(root, 'meta', f'{split}.txt'), 'w') as f:
            f.write('\n'.join(ls) + '\n')
    return dict(train=osp.join(root, 'train'), val=osp.join(root, 'val'))


def make_fewshot(root: str, num_classes: Tuple[int, int, int] = (64, 16, 20), per_class: int = 60,
                 img_size: int = 84, seed: int = 0) -> Dict[str, str]:
    """A many-class image source in the miniImageNet CSV-split format: ``images/<name>.jpg`` and
    ``{train,val,test}.csv`` (header ``filename,label``), with disjoint classes across the three splits."""
    rng = np.random.default_rng(seed)
    os.makedirs(osp.join(root, 'images'), exist_ok=True)
    out, offset = {}, 0
    for split, n_cls in zip(('train', 'val', 'test'), num_classes):
        rows = ['filename,label']
        for c in range(offset, offset + n_cls):
            wnid = f'n{c:08d}'
            spec = _class_spec(c, seed + 1)
            for i in range(per_class):
                fname = f'{wnid}{i + 1:08d}.jpg'
                Image.fromarray(draw_class_image(spec, img_size, rng)).save(
                    osp.join(root, 'images', fname), quality=95)
                rows.append(f'{fname},{wnid}')
        offset += n_cls
        out[split] = osp.join(root, f'{split}.csv')
        with open(out[split], 'w') as f:
            f.write('\n'.join(rows) + '\n')
    return out
