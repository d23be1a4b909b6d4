# A small real data set shipped with scikit-learn: the 1,797 handwritten 8x8 digits (10 classes), written as
# class folders at 16 px (70 % train / 30 % val, stratified, seeded; the scans are 8x8).
#   python tools/dataset_converters/generate_data.py digits data/digits
_base_ = './synth-cls_32px.py'
data_root = 'data/digits'
data_command = 'python tools/dataset_converters/generate_data.py digits data/digits'
train_pipeline = [
    dict(type='LoadImageFromFile'),
    dict(type='RandomCrop', crop_size=16, padding=1),  # no flips: digits are not mirror-symmetric
    dict(type='PackInputs'),
]
test_pipeline = [dict(type='LoadImageFromFile'), dict(type='PackInputs')]
train_dataloader = dict(dataset=dict(data_root=data_root, pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(data_root=data_root, pipeline=test_pipeline))
test_dataloader = val_dataloader
