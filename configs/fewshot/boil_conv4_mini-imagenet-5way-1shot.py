# BOIL (body-only inner loop), Conv-4, miniImageNet 5-way 1-shot; 30k meta-iterations, meta-test on 600
# episodes:
#   python tools/test.py configs/fewshot/boil_conv4_mini-imagenet-5way-1shot.py <best ckpt>
_base_ = ['./_base_/models/maml_conv4.py', './_base_/datasets/mini-imagenet_5way-1shot.py',
          './_base_/schedules/meta_30k.py']
model = dict(type='BOIL')
