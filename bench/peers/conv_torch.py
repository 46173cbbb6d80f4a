"""The conv bench in PyTorch: F.conv2d forward, and forward + backward (gradients of input, weight
and bias for a given upstream gradient), on the bench's own inputs, read from raw float32 files.
With "check", also compares PyTorch's output and gradients with tsgrad's (files written by the
bench) and reports the largest difference relative to each tensor's largest magnitude.
Prints one JSON object: median milliseconds per case for each thread count."""
import json
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from timing import timed

args = json.loads(sys.argv[1])
folder = args["dir"]


def load(name, shape):
    return torch.from_numpy(np.fromfile(os.path.join(folder, name + ".f32"), dtype=np.float32).reshape(shape))


def inputs(c):
    n, ch, hw = c["batch"], c["channels"], c["size"]
    x = load(c["key"] + ".x", (n, ch, hw, hw)).requires_grad_()
    w = load(c["key"] + ".w", (ch, ch, 3, 3)).requires_grad_()
    b = load(c["key"] + ".b", (ch,)).requires_grad_()
    g = load(c["key"] + ".g", (n, ch, hw, hw))
    return x, w, b, g


def forward_fn(x, w, b):
    def run():
        with torch.no_grad():
            F.conv2d(x, w, b, padding=1)
    return run


def backward_fn(x, w, b, g):
    def run():
        F.conv2d(x, w, b, padding=1).backward(g)
        x.grad = w.grad = b.grad = None
    return run


def relative_error(ours, theirs):
    return float((ours - theirs).abs().max() / theirs.abs().max())


out = {"torch": torch.__version__, "rows": {}, "errors": {}}
cases = args["cases"]
for c in cases:
    if not args.get("check"):
        break
    x, w, b, g = inputs(c)
    y = F.conv2d(x, w, b, padding=1)
    y.backward(g)
    n, ch, hw = c["batch"], c["channels"], c["size"]
    out["errors"][c["key"]] = {
        "output": relative_error(load(c["key"] + ".y", (n, ch, hw, hw)), y.detach()),
        "input grad": relative_error(load(c["key"] + ".dx", (n, ch, hw, hw)), x.grad),
        "weight grad": relative_error(load(c["key"] + ".dw", (ch, ch, 3, 3)), w.grad),
        "bias grad": relative_error(load(c["key"] + ".db", (ch,)), b.grad),
    }
for threads in args["threads"]:
    torch.set_num_threads(threads)
    rows = {}
    for c in cases:
        x, w, b, g = inputs(c)
        rows[c["key"] + " forward"] = timed(forward_fn(x, w, b), args["steps"])
        rows[c["key"] + " forward+backward"] = timed(backward_fn(x, w, b, g), args["steps"])
    out["rows"][str(threads)] = rows
print(json.dumps(out))
