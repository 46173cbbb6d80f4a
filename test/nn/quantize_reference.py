# bitsandbytes' block quantization transcribed into torch (bitsandbytes is not installable here):
# from bitsandbytes-foundation/bitsandbytes, commit 95f9af309d4d5793847169c39288dcd3fcbdf564,
#   bitsandbytes/functional.py: create_dynamic_map, get_4bit_type('nf4'), quantize_4bit (its
#     compress_statistics branch: offset = absmax.mean(); quantize_blockwise(absmax - offset, blocksize=256)),
#     dequantize_4bit (absmax = dequantize_blockwise(qabsmax, state2) + offset);
#   bitsandbytes/backends/default/ops.py: the reference kernels quantize_blockwise, quantize_4bit,
#     _dequantize_blockwise_compute, _dequantize_4bit_compute.
# int8 is the same blockwise quantizer with the symmetric code q/127 (q in -127..127).
# argv[1] is a folder: weights.safetensors (inputs) and ref.safetensors (expected) are written there.
import json
import sys

import torch
from safetensors.torch import save_file


def create_dynamic_map(signed=True, max_exponent_bits=7, total_bits=8):
    data = []
    non_sign_bits = total_bits - 1
    additional_items = 2 ** (non_sign_bits - max_exponent_bits) - 1
    for i in range(max_exponent_bits):
        fraction_items = int(2 ** (i + non_sign_bits - max_exponent_bits) + 1 if signed else 2 ** (i + non_sign_bits - max_exponent_bits + 1) + 1)
        boundaries = torch.linspace(0.1, 1, fraction_items, dtype=torch.float32)
        means = (boundaries[:-1] + boundaries[1:]) / 2.0
        data += ((10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
        if signed:
            data += (-(10 ** (-(max_exponent_bits - 1) + i)) * means).tolist()
    assert additional_items == 0
    data.append(0)
    data.append(1.0)
    assert len(data) == 2**total_bits
    data.sort()
    return torch.tensor(data, dtype=torch.float32)


NF4 = torch.tensor([
    -1.0, -0.6961928009986877, -0.5250730514526367, -0.39491748809814453, -0.28444138169288635,
    -0.18477343022823334, -0.09105003625154495, 0.0, 0.07958029955625534, 0.16093020141124725,
    0.24611230194568634, 0.33791524171829224, 0.44070982933044434, 0.5626170039176941,
    0.7229568362236023, 1.0,
])
NF4 = NF4 / NF4.abs().max()
DYNAMIC = create_dynamic_map()
INT8 = torch.arange(-127, 128, dtype=torch.float32) / 127


def quantize_blockwise(A, code, blocksize):
    """default/ops.py quantize_blockwise (and quantize_4bit's scaling): absmax per block, nearest code by bucketize."""
    A_flat = A.reshape(-1).float()
    n = A_flat.numel()
    rem = n % blocksize
    full = n - rem
    blocks = full // blocksize
    A_com = A_flat[:full].reshape(blocks, blocksize)
    absmax = A_com.abs().max(dim=-1)[0]
    scaled = torch.clamp(A_com * (1.0 / absmax.clamp(min=1e-38).view(-1, 1)), -1, 1).reshape(-1)
    if rem:
        am = A_flat[full:].abs().max().clamp(min=1e-38)
        absmax = torch.cat([absmax, am.unsqueeze(0)])
        scaled = torch.cat([scaled, torch.clamp(A_flat[full:] / am, -1, 1)])
    bounds = (code[:-1] + code[1:]) / 2
    return torch.bucketize(scaled, bounds, out_int32=True), absmax


def dequantize_blockwise(q, absmax, code, blocksize):
    """default/ops.py _dequantize_blockwise_compute: code[q] · absmax of its block."""
    out = code[q.long()]
    idx = torch.arange(out.numel()) // blocksize
    return out * absmax[idx]


def quantize(A, fmt, blocksize, double_quant):
    code = NF4 if fmt == 'nf4' else INT8
    q, absmax = quantize_blockwise(A, code, blocksize)
    if fmt == 'nf4':
        if q.numel() % 2:
            q = torch.nn.functional.pad(q, (0, 1))
        q8 = q.to(torch.uint8)
        packed = (q8[::2] << 4) | q8[1::2]
    else:
        packed = q.to(torch.uint8)
    out = {'packed': packed}
    scale = absmax
    if double_quant:
        offset = absmax.mean()
        qabs, absmax2 = quantize_blockwise(absmax - offset, DYNAMIC, 256)
        out.update(qabsmax=qabs.to(torch.uint8), absmax2=absmax2, offset=offset.reshape(1))
        scale = dequantize_blockwise(qabs, absmax2, DYNAMIC, 256) + offset
    else:
        out['absmax'] = absmax
    out['dequantized'] = dequantize_blockwise(q[:A.numel()], scale, code, blocksize).reshape(A.shape)
    return out


torch.manual_seed(0)
# name: (rows = out, cols = in, format, block size, double quantization, Conv1D layout)
CASES = {
    'nf4': (40, 96, 'nf4', 64, False, False),
    'nf4_partial': (7, 9, 'nf4', 64, False, False),  # 63 values: a partial block and a padding nibble
    'nf4_double': (600, 64, 'nf4', 64, True, False),  # 600 absmaxes: nested blocks of 256, the last partial
    'nf4_conv1d': (24, 16, 'nf4', 32, False, True),
    'int8': (17, 33, 'int8', 64, False, False),
    'int8_double': (64, 300, 'int8', 128, True, False),
    # Rows of whole blocks, as an embedding table needs (test/nn/quantized-embedding.test.ts).
    'nf4_rows': (37, 128, 'nf4', 64, False, False),
    'nf4_rows_double': (300, 96, 'nf4', 32, True, False),  # 900 absmaxes: nested blocks of 256, the last partial
    'int8_rows': (29, 64, 'int8', 32, False, False),
    'int8_rows_double': (40, 256, 'int8', 64, True, False),
}
weights, ref = {}, {}
for name, (rows, cols, fmt, bs, dq, conv1d) in CASES.items():
    w = torch.randn(rows, cols) * 0.05
    w[0, 0] = 0.3  # an outlier, as real weights have
    weights[name] = w.t().contiguous() if conv1d else w  # a Conv1D stores [in, out]
    for k, v in quantize(w, fmt, bs, dq).items():
        ref[f'{name}.{k}'] = (v.to(torch.int32) if v.dtype == torch.uint8 else v).contiguous()  # tsgrad reads I32, not U8
save_file(weights, f'{sys.argv[1]}/weights.safetensors')
save_file(ref, f'{sys.argv[1]}/ref.safetensors')
print(json.dumps({'cases': CASES, 'nf4': NF4.tolist(), 'dynamic': DYNAMIC.tolist()}))
