# Small offline variant, 5-way 5-shot (see synth-fewshot_5way-1shot.py).
_base_ = './synth-fewshot_5way-1shot.py'
train_dataloader = dict(dataset=dict(num_shots=5))
val_dataloader = dict(dataset=dict(num_shots=5))
test_dataloader = dict(dataset=dict(num_shots=5))
