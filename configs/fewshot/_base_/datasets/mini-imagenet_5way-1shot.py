# miniImageNet (Ravi & Larochelle split: 64/16/20 classes, 600 images each) as 5-way 1-shot episodes with 15
# queries per class, 84 px. Layout: data/mini_imagenet/images/*.jpg + {train,val,test}.csv ("filename,label").
# Meta-training draws meta-batch x max_iters distinct episodes; meta-val / meta-test are 600 fixed episodes
# (seeds 1 and 2). The small variants point this at the generated source instead.
data_root = 'data/mini_imagenet'
img_size = 84
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(img_size, img_size))]
episodes = dict(type='EpisodicDataset', data_root=data_root, data_prefix='images', num_ways=5, num_shots=1,
                num_queries=15, pipeline=pipeline, cache=False)
train_dataloader = dict(
    batch_size=4, num_workers=4, persistent_workers=True, collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**episodes, ann_file='train.csv', num_episodes=4 * 30000, seed=0))
val_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True, collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**episodes, ann_file='val.csv', num_episodes=600, seed=1))
test_dataloader = dict(
    batch_size=1, num_workers=4, persistent_workers=True, collate_fn=dict(type='pseudo_collate'),
    sampler=dict(type='DefaultSampler', shuffle=False),
    dataset=dict(**episodes, ann_file='test.csv', num_episodes=600, seed=2))
val_evaluator = dict(type='FewShotMetric')
test_evaluator = val_evaluator
