# TRG: L = CE + λ·KD + α·L_inner + β·L_local + γ·L_global (papers.md). Tokens are the positions of the last
# backbone feature map of each model (`backbone`, last item); the projector maps the student's channels to
# the teacher's, so leaves set student_dim / teacher_dim. Our choices (not in the paper's readable text):
# λ = 0.9 with CE 0.1 and T = 4 as plain KD, α = β = γ = 1, k = 8, 16 tokens per image, τ 0.5 -> 0.07, and
# local_norm='sum': the neighbour distributions are the Gaussian affinities over their row sum (SNE's
# neighbour probabilities). A softmax of affinities in (0, 1] is nearly uniform (max/min ≤ e), and that term's
# gradient on the student tokens was ~1/13 of KD's at initialisation on the small config (~1/2 with 'sum').
distiller = dict(
    recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc'),
                   feat=dict(type='ModuleOutputs', source='backbone')),
    losses=dict(
        loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=0.9),
        loss_trg=dict(type='TRGLoss', student_dim=64, teacher_dim=64, num_tokens=16, k=8,
                      alpha=1.0, beta=1.0, gamma=1.0, tau_start=0.5, tau_end=0.07,
                      local_norm='sum')),
    loss_inputs=dict(
        loss_kd=dict(student='logits', teacher='logits'),
        loss_trg=dict(student=dict(recorder='feat', item=-1), teacher=dict(recorder='feat', item=-1))),
    student_loss_weight=0.1)
