# Real-handwriting few-shot source, 5-way 5-shot (see digits-fewshot_5way-1shot.py).
_base_ = './digits-fewshot_5way-1shot.py'
train_dataloader = dict(dataset=dict(num_shots=5))
val_dataloader = dict(dataset=dict(num_shots=5))
test_dataloader = dict(dataset=dict(num_shots=5))
