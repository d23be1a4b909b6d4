# DKD (decoupled KD): CE + α·TCKD + β·NCKD, α = 1, β = 8, T = 4, ramped up over the first 20 of 240 epochs
# (leaves adjust β per pair as the paper does); the batch's labels feed the target/non-target split.
# A method base holds only this variable; each leaf builds its SingleTeacherDistiller from it.
distill_method = dict(
    recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),
    losses=dict(loss_dkd=dict(type='DKDLoss', alpha=1.0, beta=8.0, temperature=4.0, warmup=20 / 240)),
    loss_inputs=dict(loss_dkd=dict(student='logits', teacher='logits', target=dict(from_data='gt_label'))),
    student_loss_weight=1.0)
