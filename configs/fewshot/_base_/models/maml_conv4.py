# MAML with Conv-4 (64 channels), as the GP-MAML code trains it: one inner step at lr 0.5 in meta-training
# and meta-test, second order. (Classic MAML: inner_steps=5, inner_lr=0.01, test_inner_steps=10.)
model = dict(type='MAML', backbone=dict(type='Conv4', channels=64), num_ways=5, img_size=84,
             inner_steps=1, inner_lr=0.5, first_order=False)
