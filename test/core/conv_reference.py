# PyTorch's convolution, pooling, interpolation and normalization ops in float64 for the cases in
# the JSON file argv[1]: each case names a torch.nn.functional op, its tensor inputs and keyword
# arguments (inputs by keyword when it lists their names); the result is the output and the gradients of sum(out * w) for every input.
import json
import sys

import torch
import torch.nn.functional as F


def load(t):
    return torch.tensor(t['data'], dtype=torch.float64).reshape(t['shape'])


def flat(t):
    return None if t is None else t.detach().reshape(-1).tolist()


results = []
for case in json.load(open(sys.argv[1])):
    inputs = [None if t is None else load(t).requires_grad_() for t in case['inputs']]
    names = case.get('names')
    if names:  # inputs passed by keyword (group_norm takes num_groups before weight and bias)
        out = getattr(F, case['op'])(**dict(zip(names, inputs)), **case['kwargs'])
    else:
        out = getattr(F, case['op'])(*inputs, **case['kwargs'])
    w = load(case['w'])
    present = [t for t in inputs if t is not None]
    grads = torch.autograd.grad((out * w).sum(), present)
    results.append({'shape': list(out.shape), 'out': flat(out), 'grads': [flat(g) for g in grads]})
print(json.dumps(results))
