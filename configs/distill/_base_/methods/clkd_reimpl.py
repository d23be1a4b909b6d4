# CLKD in the form of its public re-implementations (no official code; not a verified reading of the paper's
# text; docs/references.md), ./clkd.py is ours:
#   L = λ·CE + μ·(L_ins + β·L_cla) + ν·L_cc,  λ = 0.1, μ = 0.5, β = 2, ν = 0.4, no temperature, no warm-up,
#   each term an element-wise mean (MSE), L_cc on the raw logits' class covariance (C×C, / (N − 1)):
#   CLKDLoss(reduction='element', cc_normalize=False). λ is student_loss_weight, w is loss_weight; both are
#   plain keys, chosen on val like every method's (tools/analysis_tools/distill_sweep.py).
# The distiller but its student and teacher (configs/distill/README.md); a leaf's model is
#   dict(_base_.distill_method, student=_base_.model, teacher=dict(config=..., checkpoint=...))
distill_method = dict(
    _delete_=True, type='SingleTeacherDistiller',  # replaces the student config's model
    recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),
    losses=dict(loss_clkd=dict(type='CLKDLoss', mu=0.5, beta=2.0, nu=0.4, loss_weight=1.0,
                               reduction='element', cc_normalize=False, logit_scale=1.0, warmup=0.0)),
    loss_inputs=dict(loss_clkd=dict(student='logits', teacher='logits')),
    student_loss_weight=0.1)
