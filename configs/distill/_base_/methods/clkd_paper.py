# CLKD, the PAPER'S form as its re-implementations write it (docs/references.md; ./clkd.py is ours):
#   L = λ·CE + μ·(L_ins + β·L_cla) + ν·L_cc,  λ = 0.1, μ = 0.5, β = 2, ν = 0.4, no temperature, no warm-up,
#   each term an element-wise mean (MSE) and L_cc on the raw logits' class covariance (C×C, / (N − 1)):
#   CLKDLoss(reduction='element', cc_normalize=False). The paper's exact L_cc is not public: this is the
#   re-implementations' C×C form. Small-data numbers beside ours: configs/distill/clkd/README.md.
# The distiller but its student and teacher (configs/distill/README.md); a leaf's model is
#   dict(_base_.distill_method, student=_base_.model, teacher=dict(config=..., checkpoint=...))
distill_method = dict(
    _delete_=True, type='SingleTeacherDistiller',  # replaces the student config's model
    recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),
    losses=dict(loss_clkd=dict(type='CLKDLoss', mu=0.5, beta=2.0, nu=0.4, loss_weight=1.0,
                               reduction='element', cc_normalize=False, warmup=0.0)),
    loss_inputs=dict(loss_clkd=dict(student='logits', teacher='logits')),
    student_loss_weight=0.1)
