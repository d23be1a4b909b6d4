# CLKD, OUR form (./clkd_reimpl.py is the public re-implementations'):
#   L = λ·CE + w·[μ·(L_ins + β·L_cla) + ν·L_cc], μ = 0.5, β = 2, ν = 0.4 as the re-implementations
# (docs/references.md). Ours, each a switch:
# - cc_normalize=True: L_cc on row-normalised logits (on raw logits it grows with the 4th power of the logit
#   scale and diverged with the CIFAR recipe);
# - reduction='row': the squared distance per normalised row (the element mean divides by C or N once more);
# - λ = 1 (student_loss_weight) and w = 4 (loss_weight), plain keys chosen on val;
# - warmup=20/240, DKD's ramp (the 1/‖z‖ pull is largest at initialisation);
# - logit_scale=1.0 is the paper's form; 'student_norm' keeps the pull from fading as 1/‖z‖ (a switch).
# Pilot numbers behind these choices: docs/distill_fewshot_design.md (CLKD: what our form changes, and why).
# The distiller but its student and teacher (configs/distill/README.md); a leaf's model is
#   dict(_base_.distill_method, student=_base_.model, teacher=dict(config=..., checkpoint=...))
distill_method = dict(
    _delete_=True, type='SingleTeacherDistiller',  # replaces the student config's model
    recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),
    losses=dict(loss_clkd=dict(type='CLKDLoss', mu=0.5, beta=2.0, nu=0.4, loss_weight=4.0, logit_scale=1.0,
                               warmup=20 / 240)),
    loss_inputs=dict(loss_clkd=dict(student='logits', teacher='logits')),
    student_loss_weight=1.0)
