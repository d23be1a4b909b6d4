# CIFAR-100-LT (imbalance factor 100: 500 -> 5 images per class, exponential profile), resnet8x4 (student).
_base_ = ['./resnet8x4_cifar100.py']
train_dataloader = dict(dataset=dict(_delete_=True, type='LongTailDataset', imbalance_factor=100, seed=0,
                                     dataset={{_base_.train_dataloader.dataset}}))
