# mmdeploy 1.x deploy config: an mmdet detector to ONNX Runtime with dynamic batch/height/width and the
# post-processing (decoding + NMS) in the graph. For mmdeploy's tools/deploy.py; see docs/deployment.md for
# what ran (mmdeploy 1.3.1 pins protobuf<=3.20.2, which our verified stack cannot take).
onnx_config = dict(
    type='onnx', export_params=True, keep_initializers_as_inputs=False, opset_version=13,
    save_file='end2end.onnx', input_names=['input'], output_names=['dets', 'labels'], input_shape=None,
    optimize=True,
    dynamic_axes=dict(input={0: 'batch', 2: 'height', 3: 'width'}, dets={0: 'batch', 1: 'num_dets'},
                      labels={0: 'batch', 1: 'num_dets'}))
codebase_config = dict(
    type='mmdet', task='ObjectDetection', model_type='end2end',
    post_processing=dict(score_threshold=0.05, confidence_threshold=0.005, iou_threshold=0.5,
                         max_output_boxes_per_class=200, pre_top_k=5000, keep_top_k=100,
                         background_label_id=-1))
backend_config = dict(type='onnxruntime')
