# torch.nn.MultiheadAttention in float64 for the cases in the JSON file argv[1]: the state dict's
# keys, outputs, attention weights, and the gradients of sum(out * wOut) + sum(weights * wWeights)
# for the inputs and every parameter (by state-dict name).
import json
import sys

import torch


def load(t, dtype=torch.float64):
    # JSON has no infinities: a float mask's null stands for -inf.
    data = [float('-inf') if x is None else x for x in t['data']]
    return torch.tensor(data, dtype=dtype).reshape(t['shape'])


def flat(t):
    # JSON has no NaN either: it goes as null.
    return None if t is None else [None if x != x else x for x in t.detach().reshape(-1).tolist()]


results = []
for case in json.load(open(sys.argv[1])):
    mha = torch.nn.MultiheadAttention(case['E'], case['H'], bias=case['bias'], batch_first=case['batchFirst']).double()
    keys = list(mha.state_dict().keys())
    mha.load_state_dict({k: load(v) for k, v in case['params'].items()})
    q = load(case['q']).requires_grad_()
    k = v = q
    if not case['selfAttention']:
        k, v = load(case['k']).requires_grad_(), load(case['v']).requires_grad_()
    masks = {}
    for name in ('keyPaddingMask', 'attnMask'):
        if name in case:
            m = case[name]
            masks[name] = load(m, torch.bool) if m['kind'] == 'bool' else load(m)
    out, w = mha(q, k, v, key_padding_mask=masks.get('keyPaddingMask'), attn_mask=masks.get('attnMask'),
                 need_weights=case['needWeights'], average_attn_weights=case['average'], is_causal=case['isCausal'])
    result = {'keys': keys, 'out': flat(out), 'outShape': list(out.shape), 'weights': flat(w), 'weightsShape': None if w is None else list(w.shape)}
    if case['backward']:
        loss = (out * load(case['wOut'])).sum()
        if w is not None:
            loss = loss + (w * load(case['wWeights'])).sum()
        loss.backward()
        result['grads'] = {n: flat(p.grad) for n, p in mha.named_parameters()}
        result['dq'], result['dk'], result['dv'] = flat(q.grad), flat(k.grad), flat(v.grad)
    results.append(result)
print(json.dumps(results))
