# DKD (decoupled KD): CE + α·TCKD + β·NCKD, α = 1, β = 8, T = 4, ramped up over the first 20 of 240 epochs
# (leaves adjust β per pair as the paper does); the batch's labels feed the target/non-target split.
# The distiller but its student and teacher (configs/distill/README.md); a leaf's model is
#   dict(_base_.distill_method, student=_base_.model, teacher=dict(config=..., checkpoint=...))
distill_method = dict(
    _delete_=True, type='SingleTeacherDistiller',  # replaces the student config's model
    recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),
    losses=dict(loss_dkd=dict(type='DKDLoss', alpha=1.0, beta=8.0, temperature=4.0, warmup=20 / 240)),
    loss_inputs=dict(loss_dkd=dict(student='logits', teacher='logits', target=dict(from_data='gt_label'))),
    student_loss_weight=1.0)
