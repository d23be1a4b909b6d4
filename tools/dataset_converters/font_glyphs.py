# Copyright (c) mmlavit contributors.
"""A 100-class real-asset image source available offline: characters rendered from the font files installed on
the machine (Debian's ``fonts-*`` packages, matplotlib's own fonts, ...), one class per character, one image
per (font, character), written as class folders (mmpretrain's ``CustomDataset`` layout):
``<out>/{train,val,test}/<NNN>_<CHARACTER_NAME>/<font id>.png`` plus ``classes.txt`` and ``fonts.tsv``.

    apt-get install --no-install-recommends $(grep -v '^#' tools/dataset_converters/font_glyphs_debian.txt)
    python tools/dataset_converters/font_glyphs.py data/font_glyphs100 \
        --max-train-fonts 30 --max-val-fonts 40 --max-test-fonts 100       # the distillation study's copy

(with the 216 Debian packages listed there: 867 fonts draw all 100 characters, 836 after the typicality
cut; ``<out>/fonts.tsv`` records the font file behind every image.)

The glyphs were drawn by the fonts' designers, not generated here, but they are designed type, not photos.
The classes are the 94 printable ASCII characters and six Latin-1 ones (ß æ ø § £ ¿): 100 in all, with pairs
that look alike in many fonts (O / 0 / o, l / I / 1 / |, - / _ , ' / `), so the teacher's soft labels carry
class similarity as on CIFAR-100. Layout: each font is scaled so that its capital H is ``--cap-height`` of the
image, characters sit on one baseline and are centred horizontally (so , and ' or - and _ keep their places),
drawn at 4x and reduced (antialiased grey).

Kept fonts: every .ttf/.otf under ``--font-dirs`` whose character map covers all classes and whose glyphs all
draw ink; one file per (family, style) name, and a font whose 100 rendered images equal an earlier one's is
dropped (the same font in two packages). **Splits are by family** (a family's regular/bold/italic files go
to one split), seeded: test fonts are never seen in training, in any style.
"""
import argparse
import hashlib
import os
import os.path as osp
import sys
import unicodedata
from typing import Dict, Optional, Sequence, Tuple

import numpy as np

from mmlavit.datasets.fonts import FONT_DIRS, FONT_HINT, find_fonts

CHARS = ''.join(chr(c) for c in range(33, 127)) + '\u00df\u00e6\u00f8\u00a7\u00a3\u00bf'  # 94 + ß æ ø § £ ¿
SUPERSAMPLE = 4
MIN_TYPICALITY = 0.65  # see typicality()
MIN_GLYPH_DIFF = 2.0  # grey levels: two glyphs closer than this on average count as the same drawing


def class_dir(i: int, ch: str) -> str:
    """``'017_DIGIT_ZERO'``: sortable (``CustomDataset`` numbers classes in folder order) and file-system
    safe."""
    name = unicodedata.name(ch, f'U+{ord(ch):04X}')
    return f'{i:03d}_' + ''.join(c if c.isalnum() else '_' for c in name)


def font_names(path: str, chars: str) -> Optional[Tuple[str, str]]:
    """(family, style) of the font, or None when it cannot be read or lacks a character of ``chars``."""
    from fontTools.ttLib import TTFont
    try:
        font = TTFont(path, lazy=True, fontNumber=0)
        cmap = font.getBestCmap() or {}
        if any(ord(c) not in cmap for c in chars):
            return None
        names = font['name']

        def get(*ids):
            for i in ids:
                n = names.getDebugName(i)
                if n:
                    return n.strip()
            return ''
        return get(16, 1) or osp.splitext(osp.basename(path))[0], get(17, 2) or 'Regular'
    except Exception:  # noqa: BLE001 — a broken or unsupported font file is skipped
        return None


def render_font(path: str, chars: str, img_size: int, cap_height: float,
                baseline: float) -> Optional[np.ndarray]:
    """The ``len(chars)`` glyphs of the font as uint8 (N, img_size, img_size), ink white on black; None when
    a glyph draws no ink or the font has no usable capital H."""
    from PIL import Image, ImageDraw, ImageFont
    size = img_size * SUPERSAMPLE
    try:
        probe = ImageFont.truetype(path, 100)
        x0, y0, x1, y1 = probe.getbbox('H', anchor='ls')
        if y1 - y0 <= 0:
            return None
        font = ImageFont.truetype(path, max(1, round(100 * cap_height * size / (y1 - y0))))
        out = np.zeros((len(chars), img_size, img_size), np.uint8)
        for i, ch in enumerate(chars):
            canvas = Image.new('L', (size, size), 0)
            draw = ImageDraw.Draw(canvas)
            x0, _, x1, _ = draw.textbbox((0, 0), ch, font=font, anchor='ls')
            draw.text(((size - (x1 - x0)) / 2 - x0, baseline * size), ch, fill=255, font=font, anchor='ls')
            img = np.asarray(canvas.resize((img_size, img_size), Image.BOX))
            if img.max() < 64:  # no (visible) ink: a blank glyph mapped to the code point
                return None
            out[i] = img
        flat = out.reshape(len(chars), -1).astype(np.int16)
        dist = np.abs(flat[:, None] - flat[None]).mean(-1)  # mean absolute difference of two glyphs
        if (dist[np.triu_indices(len(chars), 1)] < MIN_GLYPH_DIFF).sum() > len(chars) // 10:
            return None  # a fallback font drawing one box (or a few) for every code point
        return out
    except Exception:  # noqa: BLE001 — a font PIL/FreeType cannot draw is skipped
        return None


def typicality(glyphs: np.ndarray) -> np.ndarray:
    """For (F fonts, N chars, H, W) glyphs: per font, the mean over characters of the correlation of its glyph
    with the mean glyph of that character over the other fonts. Low for a font that puts pictures or another
    script at these code points (a dingbat or symbol font, a font of a non-Latin script)."""
    x = glyphs.reshape(glyphs.shape[0], glyphs.shape[1], -1).astype(np.float64)
    others = (x.sum(0, keepdims=True) - x) / max(1, x.shape[0] - 1)
    x = x - x.mean(-1, keepdims=True)
    others = others - others.mean(-1, keepdims=True)
    corr = (x * others).sum(-1) / np.sqrt((x * x).sum(-1) * (others * others).sum(-1) + 1e-12)
    return corr.mean(1)


def split_families(families: Sequence[str], fractions: Sequence[float], seed: int) -> Dict[str, str]:
    """Family -> 'train' / 'val' / 'test', a seeded shuffle cut by ``fractions`` (val and test get at least
    one family each when there are three or more)."""
    fams = sorted(set(families))
    np.random.default_rng(seed).shuffle(fams)
    n = len(fams)
    n_val = max(1, round(fractions[1] * n)) if n >= 3 else 0
    n_test = max(1, round(fractions[2] * n)) if n >= 3 else 0
    n_train = n - n_val - n_test
    return {f: 'train' if i < n_train else 'val' if i < n_train + n_val else 'test'
            for i, f in enumerate(fams)}


def convert(out: str, font_dirs: Sequence[str] = FONT_DIRS, chars: str = CHARS, img_size: int = 16,
            cap_height: float = 0.5, baseline: float = 0.72, fractions: Sequence[float] = (0.6, 0.2, 0.2),
            max_fonts: Optional[Dict[str, int]] = None, min_typicality: float = MIN_TYPICALITY,
            seed: int = 0) -> Dict[str, int]:
    """Write the data set under ``out``; returns the number of fonts per split."""
    if len(set(chars)) != len(chars):
        raise ValueError(f'--chars repeats a character: {chars!r}')
    paths = find_fonts(font_dirs)
    if not paths:
        raise FileNotFoundError(f'no .ttf/.otf font files under {list(font_dirs)}: {FONT_HINT} (--font-dirs)')
    kept, seen_names, seen_pixels = [], set(), set()
    for p in paths:
        names = font_names(p, chars)
        if names is None or names in seen_names:
            continue
        imgs = render_font(p, chars, img_size, cap_height, baseline)
        if imgs is None:
            continue
        digest = hashlib.sha1(imgs.tobytes()).hexdigest()
        if digest in seen_pixels:
            continue
        seen_names.add(names)
        seen_pixels.add(digest)
        kept.append((p, names, imgs))
    if len(kept) >= 3 and min_typicality > 0:
        score = typicality(np.stack([k[2] for k in kept]))
        dropped = [osp.basename(k[0]) for k, t in zip(kept, score) if t < min_typicality]
        if dropped:
            print(f'dropped {len(dropped)} font(s) whose glyphs do not look like these characters in the '
                  f'others (typicality < {min_typicality}): {", ".join(dropped)}', flush=True)
        kept = [k for k, t in zip(kept, score) if t >= min_typicality]
    if len(kept) < 3:
        raise ValueError(f'only {len(kept)} font(s) under {list(font_dirs)} cover all {len(chars)} '
                         'characters and draw them; at least 3 are needed (one family per split): install '
                         'more fonts or pass --font-dirs / --chars')
    split_of = split_families([names[0] for _, names, _ in kept], fractions, seed)
    by_split: Dict[str, list] = {'train': [], 'val': [], 'test': []}
    for k in kept:
        by_split[split_of[k[1][0]]].append(k)
    rng = np.random.default_rng(seed)
    for split, cap in (max_fonts or {}).items():  # a seeded subset, e.g. to bound the training time
        if cap and len(by_split[split]) > cap:
            idx = sorted(rng.choice(len(by_split[split]), cap, replace=False).tolist())
            by_split[split] = [by_split[split][i] for i in idx]
    from PIL import Image
    dirs = [class_dir(i, ch) for i, ch in enumerate(chars)]
    os.makedirs(out, exist_ok=True)
    with open(osp.join(out, 'classes.txt'), 'w') as f:
        f.write('\n'.join(dirs) + '\n')
    with open(osp.join(out, 'fonts.tsv'), 'w') as f:
        f.write('split\tfont_id\tfamily\tstyle\tfile\n')
        for split, fonts in by_split.items():
            for j, (p, (fam, style), imgs) in enumerate(fonts):
                font_id = f'{split}{j:04d}'
                f.write(f'{split}\t{font_id}\t{fam}\t{style}\t{p}\n')
                for d, img in zip(dirs, imgs):
                    os.makedirs(osp.join(out, split, d), exist_ok=True)
                    Image.fromarray(img).save(osp.join(out, split, d, f'{font_id}.png'))
    return {k: len(v) for k, v in by_split.items()}


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('out', help='output folder (e.g. data/font_glyphs100)')
    p.add_argument('--font-dirs', nargs='+', default=list(FONT_DIRS))
    p.add_argument('--chars', default=CHARS, help='the classes, one character each (default: the 100)')
    p.add_argument('--img-size', type=int, default=16)
    p.add_argument('--cap-height', type=float, default=0.5, help="capital H's height / image height")
    p.add_argument('--fractions', type=float, nargs=3, default=[0.6, 0.2, 0.2],
                   metavar=('TRAIN', 'VAL', 'TEST'),
                   help='share of the font families per split')
    p.add_argument('--max-train-fonts', type=int, help='keep at most this many training fonts (seeded)')
    p.add_argument('--max-val-fonts', type=int, help='keep at most this many val fonts (seeded)')
    p.add_argument('--max-test-fonts', type=int, help='keep at most this many test fonts (seeded)')
    p.add_argument('--min-typicality', type=float, default=MIN_TYPICALITY,
                   help='drop fonts whose glyphs correlate less than this, on average, with the other '
                        'fonts\' '
                        'glyphs of the same characters (symbol and other-script fonts); 0 keeps all')
    p.add_argument('--seed', type=int, default=0)
    a = p.parse_args(argv)
    counts = convert(a.out, a.font_dirs, a.chars, a.img_size, a.cap_height, fractions=a.fractions,
                     max_fonts=dict(train=a.max_train_fonts, val=a.max_val_fonts, test=a.max_test_fonts),
                     min_typicality=a.min_typicality, seed=a.seed)
    print(f'{a.out}: {len(a.chars)} classes; fonts (= images per class) ' +
          ', '.join(f'{k} {v}' for k, v in counts.items()))
    return 0


if __name__ == '__main__':
    sys.exit(main())
