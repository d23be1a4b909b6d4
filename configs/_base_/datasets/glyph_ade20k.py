# The glyph scenes in the ADE20K layout: label 1 background, 2..37 the 36 characters (0-9, A-Z), 0 ignored
# (mmlavit.datasets.glyph_scenes), read by mmseg's stock BaseSegDataset (ADE20KDataset accepts only ADE20K's
# 150 class names) with ADE20K's suffixes and reduce_zero_label, scored by IoUMetric. The same pipelines and
# 128-px crops as the generated ADE20K-format scenes. Three splits: val ({images,annotations}/validation) to
# choose settings and checkpoints on, test ({images,annotations}/testing, ADE20K's name for its test release)
# to report on, never seen while choosing.
#   python tools/dataset_converters/glyph_scenes.py ade20k data/glyph_ade20k
_base_ = './synth_ade20k.py'
data_root = 'data/glyph_ade20k'
data_command = 'python tools/dataset_converters/glyph_scenes.py ade20k data/glyph_ade20k'
glyphs = dict(type='BaseSegDataset', data_root=data_root, img_suffix='.jpg', seg_map_suffix='.png',
              reduce_zero_label=True,  # mmlavit's glyph_classes(): background first, then the characters
              metainfo=dict(classes=('background', ) + tuple('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ')))
train_dataloader = dict(dataset=glyphs)
val_dataloader = dict(dataset=glyphs)
test_dataloader = dict(
    dataset=dict(data_prefix=dict(img_path='images/testing', seg_map_path='annotations/testing'), **glyphs))
