# PyTorch's float16 and bfloat16 conversions (c10::Half, c10::BFloat16), as raw bits: every
# 16-bit pattern widened to float32, and float32 inputs chosen to hit every rounding case
# (each float16 value, the midpoints between neighbours and the float32 values either side of
# each midpoint, overflow, underflow, NaN; every bfloat16 pattern with low halves 0, 0x7fff,
# 0x8000, 0x8001 and 0x1234) narrowed to each. Arrays are base64 of their little-endian bytes.
import base64
import json

import numpy as np
import torch


def b64(a):
    return base64.b64encode(np.ascontiguousarray(a).tobytes()).decode()


patterns = torch.from_numpy(np.arange(65536, dtype=np.int32).astype(np.uint16).view(np.int16).copy())
widen16 = patterns.view(torch.float16).float().numpy().view(np.uint32)
widenbf = patterns.view(torch.bfloat16).float().numpy().view(np.uint32)

v = np.arange(0x7C00, dtype=np.uint16).view(np.float16).astype(np.float64)
nxt = np.append(v[1:], 65536.0)
mid = ((v + nxt) / 2).astype(np.float32)
up = np.nextafter(mid, np.float32(np.inf))
down = np.nextafter(mid, np.float32(0))
special = np.array([np.inf, np.nan, 3.4e38, 1e-45, 1e-40, 2**-25, 2**-26, 70000, 65519.996, 1 / 3], dtype=np.float32)
cands = np.concatenate([v.astype(np.float32), mid, up, down, special])
cands = np.concatenate([cands, -cands])
low = np.array([0, 0x7FFF, 0x8000, 0x8001, 0x1234], dtype=np.uint32)
bf_inputs = ((np.arange(65536, dtype=np.uint32) << 16)[:, None] | low).ravel()
inputs = np.concatenate([cands.view(np.uint32), bf_inputs])
x = torch.from_numpy(inputs.view(np.float32).copy())
narrow16 = x.half().view(torch.int16).numpy().view(np.uint16)
narrowbf = x.bfloat16().view(torch.int16).numpy().view(np.uint16)
print(json.dumps({'widen16': b64(widen16), 'widenbf': b64(widenbf), 'inputs': b64(inputs), 'narrow16': b64(narrow16), 'narrowbf': b64(narrowbf)}))
