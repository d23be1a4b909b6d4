# Small offline data for the distillation study: 100 generated classes (30 train / 20 val images each, 32 px).
# 8 shapes × 6 textures, so classes that share a shape and a texture differ only in colour: the teacher's
# soft labels carry class similarity, as on CIFAR-100. Accuracies: docs/distill_fewshot_design.md.
#   python tools/dataset_converters/generate_data.py imagenet data/synthetic_cls100 --num-classes 100 \
#       --num-train 30 --num-val 20 --img-size 32
data_root = 'data/synthetic_cls100'
data_command = ('python tools/dataset_converters/generate_data.py imagenet data/synthetic_cls100 '
                '--num-classes 100 --num-train 30 --num-val 20 --img-size 32')
num_classes = 100
data_preprocessor = dict(num_classes=num_classes, mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375],
                         to_rgb=True)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='Resize', scale=(32, 32)),
    dict(type='RandomCrop', crop_size=32, padding=4),
    dict(type='RandomFlip', prob=0.5, direction='horizontal'),
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(32, 32)), dict(type='PackInputs')]
train_dataloader = dict(
    batch_size=64, num_workers=2, persistent_workers=True,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='train', pipeline=train_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=True))
val_dataloader = dict(
    batch_size=100, num_workers=2, persistent_workers=True,
    dataset=dict(type='CustomDataset', data_root=data_root, data_prefix='val', pipeline=test_pipeline),
    sampler=dict(type='DefaultSampler', shuffle=False))
test_dataloader = val_dataloader
val_evaluator = dict(type='Accuracy', topk=(1,))
test_evaluator = val_evaluator
