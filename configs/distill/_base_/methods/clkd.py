# CLKD: L = λ·CE + μ·(L_ins + β·L_cla) + ν·L_cc with λ = 0.1, μ = 0.5, β = 2, ν = 0.4 (papers.md).
distiller = dict(
    recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc')),
    losses=dict(loss_clkd=dict(type='CLKDLoss', mu=0.5, beta=2.0, nu=0.4)),
    loss_inputs=dict(loss_clkd=dict(student='logits', teacher='logits')),
    student_loss_weight=0.1)
