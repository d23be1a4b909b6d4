# The glyph scenes in the COCO layout: 36 classes (0-9, A-Z) drawn by the installed fonts, small, rotated,
# overlapping glyphs over textured clutter (mmlavit.datasets.glyph_scenes), read by mmdet's stock CocoDataset
# and scored by the stock CocoMetric (bbox). The same pipelines and 256x192 scale as the generated shapes.
# Three splits: val (annotations/instances_val2017.json, val2017/) to choose settings and checkpoints on,
# test (annotations/instances_test2017.json, test2017/) to report on, never seen while choosing.
#   python tools/dataset_converters/glyph_scenes.py coco data/glyph_coco
_base_ = './synth_coco_instance.py'
data_root = 'data/glyph_coco/'
data_command = 'python tools/dataset_converters/glyph_scenes.py coco data/glyph_coco'
# the class names in label order: mmlavit.datasets.glyph_scenes.glyph_classes(background=False)
glyphs = dict(classes=tuple('0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZ'))
train_dataloader = dict(dataset=dict(data_root=data_root, metainfo=dict(_delete_=True, **glyphs)))
val_dataloader = dict(dataset=dict(data_root=data_root, metainfo=dict(_delete_=True, **glyphs)))
test_dataloader = dict(dataset=dict(data_root=data_root, metainfo=dict(_delete_=True, **glyphs),
                                    ann_file='annotations/instances_test2017.json',
                                    data_prefix=dict(img='test2017/')))
val_evaluator = dict(ann_file=data_root + 'annotations/instances_val2017.json', metric='bbox')
test_evaluator = dict(ann_file=data_root + 'annotations/instances_test2017.json', metric='bbox')
