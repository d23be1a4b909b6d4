# MAML (every parameter adapted),
# on real handwriting (scikit-learn's digits, tools/dataset_converters/digits_fewshot.py),
# Conv-4 (32 channels) at 16 px, 5-way 1-shot, 400 meta-iterations on a CPU, 600 meta-test episodes.
_base_ = ['./_base_/models/maml_conv4.py', './_base_/datasets/digits-fewshot_5way-1shot.py',
          './_base_/schedules/meta_small.py']
model = dict(type='MAML', img_size=16, backbone=dict(channels=32),
             data_preprocessor=dict(type='mmlavit.EpisodeDataPreprocessor', mean=(78., 78., 78.),
                                    std=(90., 90., 90.)))  # grey digits: mean/std of the train split
