# A small real data set shipped with scikit-learn: the 1,797 handwritten 8x8 digits (10 classes), written as
# class folders at 16 px. The distillation study keeps only 20 % for training (359 images) and evaluates on
# the other 80 % (1,438), so that a small student is clearly below its teacher (stratified, seeded split).
#   python tools/dataset_converters/generate_data.py digits data/digits_20pct --val-fraction 0.8
_base_ = './synth-cls100_32px.py'
data_root = 'data/digits_20pct'
data_command = 'python tools/dataset_converters/generate_data.py digits data/digits_20pct --val-fraction 0.8'
num_classes = 10
data_preprocessor = dict(num_classes=num_classes)
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=16, padding=1),  # no flips: digits are not mirror-symmetric
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
