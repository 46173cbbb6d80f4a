# PyTorch's scaled_dot_product_attention in float64 for the cases in the JSON file argv[1]:
# outputs and the gradients of sum(out * w) for query, key, value and a float mask.
import json
import sys

import torch
import torch.nn.functional as F


def load(t, dtype=torch.float64):
    # JSON has no infinities: a float mask's null stands for -inf.
    data = [float('-inf') if x is None else x for x in t['data']]
    return torch.tensor(data, dtype=dtype).reshape(t['shape'])


def flat(t):
    return None if t is None else t.detach().reshape(-1).tolist()


results = []
for case in json.load(open(sys.argv[1])):
    q, k, v = (load(case[n]).requires_grad_() for n in ('q', 'k', 'v'))
    mask = None
    if 'mask' in case:
        m = case['mask']
        mask = load(m, torch.bool) if m['kind'] == 'bool' else load(m).requires_grad_(m['grad'])
    out = F.scaled_dot_product_attention(q, k, v, attn_mask=mask, is_causal=case.get('isCausal', False), scale=case.get('scale'))
    w = load(case['w'])
    (out * w).sum().backward()
    results.append({
        'shape': list(out.shape), 'out': flat(out), 'dq': flat(q.grad), 'dk': flat(k.grad), 'dv': flat(v.grad),
        'dmask': flat(mask.grad) if mask is not None and mask.dtype != torch.bool and mask.requires_grad else None,
    })
print(json.dumps(results))
