# mmdeploy 1.x deploy config: an mmseg segmentor to ONNX Runtime with dynamic batch/height/width (the output
# is the per-pixel label map). For mmdeploy's tools/deploy.py; see docs/deployment.md for what ran.
onnx_config = dict(
    type='onnx', export_params=True, keep_initializers_as_inputs=False, opset_version=13,
    save_file='end2end.onnx', input_names=['input'], output_names=['output'], input_shape=None,
    optimize=True,
    dynamic_axes=dict(input={0: 'batch', 2: 'height', 3: 'width'},
                      output={0: 'batch', 2: 'height', 3: 'width'}))
codebase_config = dict(type='mmseg', task='Segmentation', with_argmax=True)
backend_config = dict(type='onnxruntime')
