# Plain KD (Hinton et al.): L = 0.1·CE + 0.9·T²·KL(p_T‖p_S), T = 4 (the CIFAR-100 recipe of the KD papers;
# the ImageNet leaves set T = 1, 0.5 / 0.5). The student and teacher logits are the outputs of `head.fc`.
# The distiller but its student and teacher (configs/distill/README.md); a leaf's model is
#   dict(_base_.distill_method, student=_base_.model, teacher=dict(config=..., checkpoint=...))
distill_method = dict(
    _delete_=True, type='SingleTeacherDistiller',  # replaces the student config's model
    recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),
    losses=dict(loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=0.9)),
    loss_inputs=dict(loss_kd=dict(student='logits', teacher='logits')),
    student_loss_weight=0.1)
