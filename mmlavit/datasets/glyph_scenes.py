"""Dense scenes of glyphs: characters drawn by the installed fonts, scattered over textured backgrounds, as
detection / instance segmentation (COCO layout) and semantic segmentation (ADE20K layout) data.

Harder than :mod:`.synthetic`'s shapes on purpose, so that a teacher has something to teach a student:
many classes (default 36: digits and capital letters, with look-alike pairs such as O / 0, I / 1, S / 5,
B / 8), several fonts (each scene's glyphs from fonts picked at random; ``val_fonts`` / ``test_fonts`` keep
fonts unseen in training), small objects (heights from ``min_height`` px), rotation, clutter (unlabelled
strokes and arcs), and occlusion (glyphs overlap; later ones hide earlier ones, and every annotation is the
*visible* part).

Three splits: train, val (for choosing settings and checkpoints) and test (for reporting, never seen while
choosing). ``val_fonts`` / ``test_fonts`` keep fonts for one evaluation split only (unseen in training, and
test fonts unseen in val too); without ``test_fonts`` test is drawn by val's fonts, so val and test are two
samples of the same distribution.

* :func:`make_glyph_coco` — ``annotations/instances_{train,val,test}2017.json`` +
  ``{train,val,test}2017/*.jpg`` for mmdet's ``CocoDataset`` / ``CocoMetric`` (COCO's file naming; the test
  split is labelled like the others): boxes and RLE masks of the visible parts; a glyph hidden below
  ``min_visible`` of its area is marked ``iscrowd=1`` (mmdet ignores it) rather than dropped.
* :func:`make_glyph_ade20k` — ADE20K's layout (``images/{training,validation,testing}/*.jpg`` +
  ``annotations/{training,validation,testing}/*.png``; ``testing`` as in ADEChallengeData2016's own test
  release, ``release_test/testing``; label 1 = background, 2 … K+1 = the characters, 0 = ignored: too-hidden
  glyphs), read by mmseg's ``BaseSegDataset`` with ``img_suffix='.jpg', seg_map_suffix='.png',
  reduce_zero_label=True, metainfo=dict(classes=glyph_classes(chars))`` (``ADE20KDataset`` itself accepts
  only subsets of ADE20K's 150 names) and the stock ``IoUMetric``.

Everything is deterministic given ``seed`` and the font list; the splits are drawn in the order train, val,
test from one random stream, so train and val are the same with or without a test split.
"""
import json
import math
import os
import os.path as osp
from typing import Dict, List, NamedTuple, Optional, Sequence, Tuple

import numpy as np
from PIL import Image, ImageDraw, ImageFont

from .fonts import FONT_DIRS, FONT_HINT, find_fonts
from .synthetic import _background, _jitter

CHARS = '0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'
# the split folders, in the order the splits are drawn (train, val, test)
COCO_SPLITS = ('train2017', 'val2017', 'test2017')
# ADE20K's folder names (the test one as in ADEChallengeData2016's release_test/testing) and file-name stems
ADE20K_SPLITS = (('training', 'train'), ('validation', 'valid'), ('testing', 'test'))


def glyph_classes(chars: str = CHARS, background: bool = True) -> Tuple[str, ...]:
    """Class names in label order: ``('background', '0', '1', ...)`` (ADE20K layout, after
    ``reduce_zero_label``) or the characters alone (COCO layout, ``background=False``)."""
    return (('background',) if background else ()) + tuple(chars)


def render_glyph(font_path: str, ch: str, height: int, angle: float) -> np.ndarray:
    """The glyph's coverage in [0, 1], ``(h, w)`` float, cropped to its ink: drawn at ``height`` px (the
    font size), rotated by ``angle`` degrees."""
    font = ImageFont.truetype(font_path, height)
    left, top, right, bottom = font.getbbox(ch)
    img = Image.new('L', (right - left + 4, bottom - top + 4), 0)
    ImageDraw.Draw(img).text((2 - left, 2 - top), ch, fill=255, font=font)
    img = img.rotate(angle, resample=Image.BILINEAR, expand=True)
    box = img.getbbox()
    return np.asarray(img.crop(box) if box else img, np.float32) / 255.0


def _clutter(canvas: np.ndarray, rng: np.random.Generator, n: int) -> None:
    """Unlabelled distractors: strokes and arcs in random colours."""
    h, w = canvas.shape[:2]
    img = Image.fromarray(canvas)
    draw = ImageDraw.Draw(img)
    for _ in range(n):
        color = tuple(int(c) for c in rng.integers(0, 256, 3))
        x0, y0 = rng.uniform(0, w), rng.uniform(0, h)
        if rng.random() < 0.5:
            length, a = rng.uniform(6, 0.4 * max(h, w)), rng.uniform(0, 2 * math.pi)
            draw.line([(x0, y0), (x0 + length * math.cos(a), y0 + length * math.sin(a))], fill=color,
                      width=int(rng.integers(1, 4)))
        else:
            r = rng.uniform(3, 0.15 * min(h, w))
            start = rng.uniform(0, 360)
            draw.arc([x0 - r, y0 - r, x0 + r, y0 + r], start, start + rng.uniform(60, 300), fill=color,
                     width=int(rng.integers(1, 3)))
    canvas[:] = np.asarray(img)


class GlyphScene(NamedTuple):
    image: np.ndarray  # (H, W, 3) uint8
    instances: np.ndarray  # (H, W) int32: 0 background, i + 1 glyph i (the glyph drawn last at the pixel)
    classes: List[int]  # class index of each glyph
    drawn: List[int]  # pixels each glyph covered when it was drawn (before later glyphs hid parts of it)


def glyph_scene(rng: np.random.Generator, size: Tuple[int, int], fonts: Sequence[str], chars: str = CHARS,
                max_objects: int = 8, min_height: int = 10, max_height: Optional[int] = None,
                max_angle: float = 30.0, clutter: int = 6) -> GlyphScene:
    """One scene of 1 … ``max_objects`` glyphs (heights ``min_height`` … ``max_height`` px, rotated up to
    ``max_angle`` degrees, anywhere, overlapping) over a textured background with ``clutter`` strokes."""
    h, w = size
    max_height = max_height or max(min_height + 1, int(0.45 * min(h, w)))
    canvas = _background((h, w), rng)
    _clutter(canvas, rng, clutter)
    inst = np.zeros((h, w), np.int32)
    classes: List[int] = []
    drawn: List[int] = []
    for _ in range(int(rng.integers(1, max_objects + 1))):
        cls = int(rng.integers(len(chars)))
        cov = render_glyph(fonts[int(rng.integers(len(fonts)))], chars[cls],
                           int(rng.integers(min_height, max_height + 1)), rng.uniform(-max_angle, max_angle))
        gh, gw = cov.shape
        if gh >= h or gw >= w:
            continue
        y, x = int(rng.integers(0, h - gh)), int(rng.integers(0, w - gw))
        region = canvas[y:y + gh, x:x + gw].astype(np.float32)
        # a colour that stands out from what is under the glyph
        under = region.reshape(-1, 3).mean(0)
        color = _jitter(np.where(under > 128, rng.uniform(0, 90, 3), rng.uniform(165, 255, 3)), rng, 10)
        a = cov[..., None]
        canvas[y:y + gh, x:x + gw] = (region * (1 - a) + color * a).round().clip(0, 255).astype(np.uint8)
        ink = cov >= 0.5
        inst[y:y + gh, x:x + gw][ink] = len(classes) + 1
        classes.append(cls)
        drawn.append(int(ink.sum()))
    return GlyphScene(canvas, inst, classes, drawn)


def scene_fonts(chars: str = CHARS, dirs: Sequence[str] = FONT_DIRS) -> List[str]:
    """The fonts the scenes draw from by default: those under ``dirs`` and matplotlib's own that draw every
    character of ``chars`` (:func:`.fonts.find_fonts`)."""
    return find_fonts(dirs, chars=chars, with_matplotlib=True)


def split_fonts(fonts: Sequence[str], val_fonts: int = 0, seed: int = 0,
                test_fonts: int = 0) -> Tuple[List[str], List[str], List[str]]:
    """The fonts of the train, val and test splits: ``val_fonts`` / ``test_fonts`` fonts (picked at random
    given ``seed``) draw only val / only test; 0 draws val with the training fonts and test with val's."""
    fonts = sorted(fonts)
    if not fonts:
        raise FileNotFoundError(f'no font draws all the characters: {FONT_HINT} (searched {list(FONT_DIRS)} '
                                "and matplotlib's fonts), or pass fonts=[...]")
    if val_fonts < 0 or test_fonts < 0:
        raise ValueError(f'val_fonts={val_fonts} and test_fonts={test_fonts} must be 0 or more')
    if val_fonts + test_fonts >= len(fonts):
        raise ValueError(f'val_fonts={val_fonts} + test_fonts={test_fonts} leave no training font out of '
                         f'{len(fonts)}')
    if val_fonts == test_fonts == 0:
        return fonts, fonts, fonts
    # val's fonts first in the permutation: asking for test fonts leaves a seed's val fonts as they were
    order = np.random.default_rng(seed).permutation(len(fonts))
    train = [fonts[i] for i in order[val_fonts + test_fonts:]]
    val = [fonts[i] for i in order[:val_fonts]] or train
    test = [fonts[i] for i in order[val_fonts:val_fonts + test_fonts]] or val
    return train, val, test


def make_glyph_coco(root: str, num_train: int = 200, num_val: int = 50,
                    img_size: Tuple[int, int] = (192, 256), chars: str = CHARS,
                    fonts: Optional[Sequence[str]] = None, val_fonts: int = 0, min_visible: float = 0.3,
                    min_area: int = 12, seed: int = 0, num_test: int = 50, test_fonts: int = 0,
                    **scene) -> Dict[str, str]:
    """Write a COCO-layout glyph detection / instance segmentation set under ``root`` (train, val and, unless
    ``num_test=0``, test); returns the annotation files by split folder. ``scene``: :func:`glyph_scene`'s
    options (max_objects, min_height, max_height, max_angle, clutter)."""
    from pycocotools import mask as mask_utils
    fonts = fonts if fonts is not None else scene_fonts(chars)
    per_split = split_fonts(fonts, val_fonts, seed, test_fonts)
    rng = np.random.default_rng(seed)
    categories = [dict(id=i + 1, name=c, supercategory='glyph') for i, c in enumerate(chars)]
    out, ann_id = {}, 1
    for k_split, (split, n_img) in enumerate(zip(COCO_SPLITS, (num_train, num_val, num_test))):
        if split == 'test2017' and n_img == 0:
            continue
        os.makedirs(osp.join(root, split), exist_ok=True)
        images, anns = [], []
        for i in range(n_img):
            img_id = i + 1 + 100000 * k_split  # image ids unique across the splits
            img, inst, classes, drawn = glyph_scene(rng, img_size, per_split[k_split], chars, **scene)
            for k, cls in enumerate(classes):
                visible = inst == k + 1
                area = int(visible.sum())
                if area < min_area:
                    continue
                ys, xs = np.nonzero(visible)
                rle = mask_utils.encode(np.asfortranarray(visible.astype(np.uint8)))
                rle['counts'] = rle['counts'].decode()
                anns.append(dict(id=ann_id, image_id=img_id, category_id=cls + 1, segmentation=rle, area=area,
                                 bbox=[float(xs.min()), float(ys.min()), float(xs.max() + 1 - xs.min()),
                                       float(ys.max() + 1 - ys.min())],
                                 iscrowd=int(area < min_visible * drawn[k])))  # mostly hidden: ignored
                ann_id += 1
            fname = f'{img_id:012d}.jpg'
            Image.fromarray(img).save(osp.join(root, split, fname), quality=95)
            images.append(dict(id=img_id, file_name=fname, height=img_size[0], width=img_size[1]))
        ann_file = osp.join(root, 'annotations', f'instances_{split}.json')
        os.makedirs(osp.dirname(ann_file), exist_ok=True)
        with open(ann_file, 'w') as f:
            json.dump(dict(images=images, annotations=anns, categories=categories, licenses=[],
                           info=dict(description='mmlavit glyph scenes', fonts=list(per_split[k_split]))), f)
        out[split] = ann_file
    return out


def make_glyph_ade20k(root: str, num_train: int = 200, num_val: int = 50,
                      img_size: Tuple[int, int] = (128, 128), chars: str = CHARS,
                      fonts: Optional[Sequence[str]] = None, val_fonts: int = 0, min_area: int = 12,
                      seed: int = 0, num_test: int = 50, test_fonts: int = 0, **scene) -> Dict[str, str]:
    """Write an ADE20K-layout glyph semantic segmentation set under ``root`` (train, val and, unless
    ``num_test=0``, test; label 1 background, 2 … K+1 the characters, 0 ignored: glyphs with fewer than
    ``min_area`` visible pixels); returns the image folders by split (``train``, ``val``, ``test``)."""
    fonts = fonts if fonts is not None else scene_fonts(chars)
    per_split = split_fonts(fonts, val_fonts, seed, test_fonts)
    if len(chars) + 1 > 150:
        raise ValueError(f'{len(chars)} characters + background exceed the 150 ADE20K label ids')
    rng = np.random.default_rng(seed)
    out = {}
    for k_split, ((split, stem), n_img) in enumerate(zip(ADE20K_SPLITS, (num_train, num_val, num_test))):
        if split == 'testing' and n_img == 0:
            continue
        os.makedirs(osp.join(root, 'images', split), exist_ok=True)
        os.makedirs(osp.join(root, 'annotations', split), exist_ok=True)
        for i in range(n_img):
            img, inst, classes, _ = glyph_scene(rng, img_size, per_split[k_split], chars, **scene)
            lut = np.array([1] + [c + 2 for c in classes], np.uint8)
            label = lut[inst]
            counts = np.bincount(inst.ravel(), minlength=len(classes) + 1)
            for k in np.nonzero(counts[1:] < min_area)[0]:
                label[inst == k + 1] = 0
            name = f'ADE_{stem}_{i:08d}'
            Image.fromarray(img).save(osp.join(root, 'images', split, name + '.jpg'), quality=95)
            Image.fromarray(label).save(osp.join(root, 'annotations', split, name + '.png'))
        out[('train', 'val', 'test')[k_split]] = osp.join(root, 'images', split)
    return out
