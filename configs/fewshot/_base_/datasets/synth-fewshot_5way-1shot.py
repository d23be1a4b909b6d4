# Small offline variant: the generated many-class source in the miniImageNet CSV format
# (python tools/dataset_converters/generate_data.py fewshot data/synthetic_fewshot: 64/16/20 classes x 60
# images), resized to 32 px, images cached in memory; 5-way 1-shot, 15 queries; 100 meta-val and 600
# meta-test episodes.
_base_ = './mini-imagenet_5way-1shot.py'
data_root = 'data/synthetic_fewshot'
data_command = 'python tools/dataset_converters/generate_data.py fewshot data/synthetic_fewshot'
img_size = 32
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(img_size, img_size))]
train_dataloader = dict(num_workers=0, persistent_workers=False,
                        dataset=dict(data_root=data_root, pipeline=pipeline, cache=True,
                                     num_episodes=4 * 400))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=pipeline, cache=True, num_episodes=100))
test_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                       dataset=dict(data_root=data_root, pipeline=pipeline, cache=True, num_episodes=600))
