# CIFAR-100 as the KD papers train it: batch 64, random crop (pad 4) + flip; mmpretrain's CIFAR100 dataset
# (data/cifar100 holds the python-version archive contents, cifar-100-python/).
_base_ = 'mmpretrain::_base_/datasets/cifar100_bs16.py'
train_dataloader = dict(batch_size=64, num_workers=4)
val_dataloader = dict(batch_size=128, num_workers=4)
test_dataloader = val_dataloader
