# Real handwriting, offline: scikit-learn's 8x8 digits, each digit under the 8 symmetries of the square as its
# own class (near-duplicates of symmetric digits dropped), split by digit: meta-train 0-5 and 8 (38 classes),
# meta-val 7 (8), meta-test 6 and 9 (16) — tools/dataset_converters/digits_fewshot.py says how. miniImageNet
# CSV format; images resized 8 -> 16 px and cached; 5-way 1-shot, 15 queries; 100 meta-val and 600 fixed
# meta-test episodes.
_base_ = './mini-imagenet_5way-1shot.py'
data_root = 'data/digits_fewshot'
data_command = 'python tools/dataset_converters/digits_fewshot.py data/digits_fewshot'
img_size = 16
pipeline = [dict(type='LoadImageFromFile'), dict(type='Resize', scale=(img_size, img_size))]
train_dataloader = dict(
    num_workers=0, persistent_workers=False,
    dataset=dict(data_root=data_root, pipeline=pipeline, cache=True, num_episodes=4 * 400))
val_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                      dataset=dict(data_root=data_root, pipeline=pipeline, cache=True, num_episodes=100))
test_dataloader = dict(batch_size=8, num_workers=0, persistent_workers=False,
                       dataset=dict(data_root=data_root, pipeline=pipeline, cache=True, num_episodes=600))
