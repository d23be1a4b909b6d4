# Small offline variant: GP-MAML (MAML + adaptive pseudo-labels by label propagation),
# Conv-4 (32 channels) on the generated source at 32 px, 5-way 5-shot,
# 400 meta-iterations on a CPU in minutes, meta-test on 600 episodes (mean ± 95 % CI).
_base_ = ['./_base_/models/maml_conv4.py', './_base_/datasets/synth-fewshot_5way-5shot.py',
          './_base_/schedules/meta_small.py']
# 32-channel Conv-4 (as in MAML's miniImageNet runs)
model = dict(type='GPMAML', img_size=32, backbone=dict(channels=32))
