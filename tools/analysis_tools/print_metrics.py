# Copyright (c) mmlavit contributors.
"""Print the final validation metrics of a training run from its work dir (the newest run's scalars)."""
import argparse
import glob
import json
import os.path as osp
import sys


def last_metrics(work_dir: str) -> dict:
    runs = sorted(glob.glob(osp.join(work_dir, '*', 'vis_data', 'scalars.json')))
    if not runs:
        raise FileNotFoundError(f'no */vis_data/scalars.json under {work_dir}: did training run there?')
    metrics = {}
    with open(runs[-1]) as f:
        for line in f:
            rec = json.loads(line)
            if 'lr' not in rec and 'loss' not in rec:  # validation records carry only metrics
                metrics = rec
    return metrics


def main(argv=None):
    p = argparse.ArgumentParser(description=__doc__)
    p.add_argument('work_dir')
    a = p.parse_args(argv)
    metrics = last_metrics(a.work_dir)
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
