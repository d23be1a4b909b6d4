# Copyright (c) mmlavit contributors.
"""Turn a SingleTeacherDistiller checkpoint into a plain student checkpoint (no teacher, no connectors, no
loss modules, keys without the ``student.`` prefix), loadable by the student's own config (``load_from``,
``init_cfg``, ``tools/test.py``):

    python tools/model_converters/distill_to_student.py work_dirs/kd_x/epoch_30.pth student.pth
"""
import argparse
import sys

import mmlavit  # noqa: F401  (safe checkpoint globals)
from mmlavit.models.distillers import export_student


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument('src', help='distiller checkpoint')
    p.add_argument('dst', help='output student checkpoint')
    a = p.parse_args(argv)
    try:
        counts = export_student(a.src, a.dst)
    except KeyError as e:
        print(f'error: {a.src}: {e.args[0]}', file=sys.stderr)
        return 2
    n = counts.pop('student')
    dropped = ', '.join(f'{part} {k}' for part, k in sorted(counts.items()))
    print(f'{a.dst}: {n} student tensors' + (f' (left out: {dropped})' if dropped else ''))
    return 0


if __name__ == '__main__':
    sys.exit(main())
