"""Font discovery for the data sources drawn from installed fonts: the glyph scenes
(:mod:`.glyph_scenes`, ``tools/dataset_converters/glyph_scenes.py``) and the font-glyph classification set
(``tools/dataset_converters/font_glyphs.py``)."""
import os
import os.path as osp
from typing import List, Optional, Sequence

FONT_DIRS = ('/usr/share/fonts', '/usr/local/share/fonts')
FONT_HINT = ("install fonts (e.g. Debian's fonts-dejavu-core, or the packages listed in "
             'tools/dataset_converters/font_glyphs_debian.txt) or name a folder of .ttf/.otf files')


def matplotlib_font_dir() -> Optional[str]:
    """The folder of matplotlib's bundled fonts (DejaVu, STIX, Computer Modern, ...), or None when
    matplotlib is not installed."""
    try:
        import matplotlib
    except ImportError:
        return None
    path = osp.join(matplotlib.get_data_path(), 'fonts', 'ttf')
    return path if osp.isdir(path) else None


def draws(font, ch: str) -> bool:
    """Whether the PIL ``font`` draws ink for ``ch`` (not an empty glyph, not an error)."""
    try:
        return font.getmask(ch).getbbox() is not None
    except Exception:  # noqa: BLE001 — a font that cannot render the character
        return False


def find_fonts(dirs: Sequence[str] = FONT_DIRS, chars: str = '', with_matplotlib: bool = False) -> List[str]:
    """The .ttf / .otf files under ``dirs`` (searched recursively, links followed), as real paths, each once,
    sorted.

    Args:
        dirs (Sequence[str]): folders to search. Defaults to the system's font folders.
        chars (str): when given, keep only the fonts that PIL opens and that draw every character of
            ``chars`` with ink. Defaults to '' (every font file).
        with_matplotlib (bool): search matplotlib's bundled fonts too (when installed). Defaults to False.
    """
    dirs = list(dirs)
    if with_matplotlib and matplotlib_font_dir():
        dirs.append(matplotlib_font_dir())
    found = set()
    for d in dirs:
        for root, _, files in os.walk(d, followlinks=True):
            found.update(osp.realpath(osp.join(root, f)) for f in files
                         if f.lower().endswith(('.ttf', '.otf')))
    paths = sorted(found)
    if not chars:
        return paths
    from PIL import ImageFont
    ok = []
    for path in paths:
        try:
            font = ImageFont.truetype(path, 24)
        except OSError:
            continue
        if all(draws(font, ch) for ch in chars):
            ok.append(path)
    return ok
