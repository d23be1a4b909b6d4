# miniImageNet 5-way 5-shot (15 queries per class).
_base_ = './mini-imagenet_5way-1shot.py'
train_dataloader = dict(dataset=dict(num_shots=5))
val_dataloader = dict(dataset=dict(num_shots=5))
test_dataloader = dict(dataset=dict(num_shots=5))
