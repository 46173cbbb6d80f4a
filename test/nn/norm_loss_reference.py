# PyTorch's layer_norm and cross_entropy, forward and backward, for test/nn/norm-loss-torch.test.ts.
# Reads a JSON list of cases from the file named by argv[1]; prints a JSON list of results.
import json
import sys

import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float64)
out = []
for case in json.load(open(sys.argv[1])):
    dtype = torch.float32 if case["dtype"] == "float32" else torch.float64
    x = torch.tensor(case["x"], dtype=dtype).reshape(case["shape"]).requires_grad_()
    u = torch.tensor(case["u"], dtype=dtype)
    if case["op"] == "layerNorm":
        d = case["shape"][-1]
        w = torch.tensor(case["w"], dtype=dtype).requires_grad_()
        b = torch.tensor(case["b"], dtype=dtype).requires_grad_()
        y = F.layer_norm(x, [d], w, b, case["eps"])
        (y.reshape(-1) * u).sum().backward()
        out.append({"y": y.detach().reshape(-1).tolist(), "dx": x.grad.reshape(-1).tolist(), "dw": w.grad.tolist(), "db": b.grad.tolist()})
    else:
        t = torch.tensor(case["target"], dtype=torch.long).reshape(case["targetShape"])
        y = F.cross_entropy(x, t, ignore_index=case["ignoreIndex"], reduction=case["reduction"], label_smoothing=case["labelSmoothing"])
        (y.reshape(-1) * u).sum().backward()
        out.append({"y": y.detach().reshape(-1).tolist(), "dx": x.grad.reshape(-1).tolist()})
print(json.dumps(out))
