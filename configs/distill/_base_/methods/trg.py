# TRG: L = CE + λ·KD + α·L_inner + β·L_local + γ·L_global (docs/references.md: the paper's form and ours).
# Tokens come from the last backbone feature map of each model (`backbone`, last item), split into 4x4
# patches, each averaged into one token (patch_size=4, patch_mode='mean'): at 32 px the CIFAR ResNets' 8x8
# map gives 4 tokens per image, which average to the pooled feature the classifier sees. Tokens that carry
# space: patch_size=1 (each of the 64 positions a token) or an earlier stage (recorders.feat.source=
# 'backbone.layers.1', loss_inputs.loss_trg.{student,teacher}.item=None, student_dim / teacher_dim that
# stage's widths, 32 for resnet8 / resnet32; tests/models/losses/test_recipe_configs.py). Leaves set
# student_dim / teacher_dim, and patch_size where the map is not a multiple of 4; every trg_* leaf keeps
# >= 2 tokens per image.
# Ours (not in the paper's readable text), each a key: λ = 0.9 with CE 0.1 and T = 4 as plain KD,
# α = β = γ = 4, k = 8, 16 tokens per image, τ 0.5 -> 0.07, local_norm='sum' (SNE's neighbour
# probabilities), local_tokens='projected' (the paper's: 'raw') and graph_reduction='mean' (the paper's
# summary: 'sum'). Numbers behind the choices: docs/distill_fewshot_design.md.
# The distiller but its student and teacher (configs/distill/README.md); a leaf's model is
#   dict(_base_.distill_method, student=_base_.model, teacher=dict(config=..., checkpoint=...))
distill_method = dict(
    _delete_=True, type='SingleTeacherDistiller',  # replaces the student config's model
    recorders=dict(logits=dict(type='ModuleOutputs', source='head.fc'),
                   feat=dict(type='ModuleOutputs', source='backbone')),
    losses=dict(
        loss_kd=dict(type='KDLoss', temperature=4.0, loss_weight=0.9),
        loss_trg=dict(type='TRGLoss', student_dim=64, teacher_dim=64, num_tokens=16, k=8,
                      alpha=4.0, beta=4.0, gamma=4.0, tau_start=0.5, tau_end=0.07,
                      local_norm='sum', patch_size=4, patch_mode='mean', local_tokens='projected',
                      graph_reduction='mean')),
    loss_inputs=dict(
        loss_kd=dict(student='logits', teacher='logits'),
        loss_trg=dict(student=dict(recorder='feat', item=-1), teacher=dict(recorder='feat', item=-1))),
    student_loss_weight=0.1)
