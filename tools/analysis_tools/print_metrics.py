# Copyright (c) mmlavit contributors.
"""Print the final validation metrics of a training run from its work dir (the newest run's scalars)."""
import argparse
import sys

from mmlavit.analysis.study import last_val_metrics


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('work_dir')
    a = p.parse_args(argv)
    metrics = last_val_metrics(a.work_dir)
    if not metrics:
        print(f'no validation metrics in {a.work_dir}', file=sys.stderr)
        return 1
    print(f'final validation metrics ({a.work_dir}):')
    for k, v in metrics.items():
        if k not in ('step', 'epoch', 'iter', 'data_time', 'time'):
            print(f'  {k}: {v}')
    return 0


if __name__ == '__main__':
    sys.exit(main())
