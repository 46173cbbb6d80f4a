# PyTorch's GELUs, both forms, forward and backward (the gradient of Σ gelu(x)·w) in float64
# and float32 at the points argv[1] lists (JSON), with weights w = 1, 2, 3, ... cycling; and
# both forms and their derivatives from math.erfc and math.exp in float64, written without the
# cancellation of 1 + erf and 1 + tanh that PyTorch's tails have.
import json
import math
import sys

import torch

xs = json.loads(sys.argv[1])
out = {}
for dtype, name in [(torch.float64, 'float64'), (torch.float32, 'float32')]:
    for approximate in ['none', 'tanh']:
        x = torch.tensor(xs, dtype=dtype, requires_grad=True)
        w = torch.arange(len(xs), dtype=dtype) % 3 + 1
        y = torch.nn.functional.gelu(x, approximate=approximate)
        (g,) = torch.autograd.grad((y * w).sum(), x)
        out[f'{name}_{approximate}'] = {'y': y.tolist(), 'grad': g.tolist()}
K, KAPPA = math.sqrt(2 / math.pi), 0.044715


def tanh_form(x):
    v = 2 * K * x * (1 + KAPPA * x * x)
    s = 1 / (1 + math.exp(-v)) if v > -700 else 0.0
    return x * s, s + x * s * (1 - s) * 2 * K * (1 + 3 * KAPPA * x * x)


out['accurate_none'] = {
    'y': [x * 0.5 * math.erfc(-x / math.sqrt(2)) for x in xs],
    'grad': [0.5 * math.erfc(-x / math.sqrt(2)) + x * math.exp(-x * x / 2) / math.sqrt(2 * math.pi) for x in xs],
}
out['accurate_tanh'] = {'y': [tanh_form(x)[0] for x in xs], 'grad': [tanh_form(x)[1] for x in xs]}
print(json.dumps(out))
