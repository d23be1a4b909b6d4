"""mmlavit.analysis.lavit_ablation (ablate_lavit.py) names each run's work dir after its options (stable
across processes, unlike hash()), so that a finished run is read back; det variants start from their
classifier."""
import subprocess
import sys

from mmlavit.analysis import lavit_ablation as ab


def test_variant_work_dirs_are_stable_readable_and_distinct():
    dirs = [ab.variant_dir(opts, 1, 'w') for opts in ab.VARIANTS.values()]
    assert len(set(dirs)) == len(dirs)
    assert dirs[0] == 'w/defaults_s1' and 'w/la_chain-scores_s1' in dirs and 'w/dp_loss_weight-0.0_s1' in dirs
    # the same in another process (hash() of a str is salted per process)
    code = ('from mmlavit.analysis import lavit_ablation as a; '
            'print([a.variant_dir(o, 1, "w") for o in a.VARIANTS.values()])')
    out = subprocess.run([sys.executable, '-c', code], capture_output=True, text=True, check=True).stdout
    assert out.strip() == str(dirs)


def test_det_variant_starts_from_its_classifier():
    cls, det = ab.variant_runs('det', ['model.backbone.la_chain=scores'], 0, 'w')
    assert cls.work_dir == 'w/la_chain-scores_s0/cls' and cls.config == ab.CONFIG and cls.seed == 0
    assert det.needs == (cls.work_dir,) and det.config == ab.DET_CONFIG
    assert det.options == ['model.backbone.init_cfg.checkpoint=w/la_chain-scores_s0/cls/epoch_15.pth',
                           'model.backbone.la_chain=scores']
    only, = ab.variant_runs('cls', [], 1, 'w')
    assert only.options == ['default_hooks.checkpoint.interval=100'] and only.work_dir == 'w/defaults_s1'
