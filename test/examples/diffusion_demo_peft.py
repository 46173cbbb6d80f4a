"""The diffusion demo's UNet in PyTorch, module for module, for test/examples/diffusion-demo.test.ts.

  <out> <inputs.json>: loads <out>/base/model.safetensors into the twin (strictly), opens
      <out>/adapter with PeftModel.from_pretrained, and prints as JSON the predicted noise for
      inputs.json's sample and timesteps, with the adapter and after merge_and_unload().
"""
import json
import math
import os
import sys
import warnings

import torch
import torch.nn.functional as F
from peft import PeftModel
from safetensors.torch import load_file
from torch import nn

warnings.filterwarnings("ignore")
CHANNELS, TIME_DIM, GROUPS, HEADS = (16, 32, 64), 64, 8, 4


def timestep_embedding(timesteps, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    angles = timesteps.double()[:, None] * freqs[None]
    return torch.cat([angles.sin(), angles.cos()], 1).float()


class TimestepEmbedding(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.in_dim = in_dim
        self.linear_1 = nn.Linear(in_dim, out_dim)
        self.linear_2 = nn.Linear(out_dim, out_dim)

    def forward(self, t):
        return self.linear_2(F.silu(self.linear_1(timestep_embedding(t, self.in_dim))))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.norm1 = nn.GroupNorm(GROUPS, cin)
        self.conv1 = nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(TIME_DIM, cout)
        self.norm2 = nn.GroupNorm(GROUPS, cout)
        self.conv2 = nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = None if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x))) + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (x if self.conv_shortcut is None else self.conv_shortcut(x))


class Attention(nn.Module):
    def __init__(self, c):
        super().__init__()
        self.group_norm = nn.GroupNorm(GROUPS, c)
        self.to_q, self.to_k, self.to_v, self.to_out = (nn.Linear(c, c) for _ in range(4))

    def forward(self, x):
        n, c, h, w = x.shape
        tokens = self.group_norm(x).reshape(n, c, h * w).transpose(1, 2)
        split = lambda t: t.reshape(n, h * w, HEADS, c // HEADS).transpose(1, 2)
        heads = F.scaled_dot_product_attention(split(self.to_q(tokens)), split(self.to_k(tokens)), split(self.to_v(tokens)))
        out = self.to_out(heads.transpose(1, 2).reshape(n, h * w, c))
        return x + out.transpose(1, 2).reshape(n, c, h, w)


class DownBlock2D(nn.Module):
    def __init__(self, cin, cout):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin, cout)])
        self.downsamplers = nn.ModuleList([nn.Conv2d(cout, cout, 3, stride=2, padding=1)])


class UpBlock2D(nn.Module):
    def __init__(self, cin, skip, cout):
        super().__init__()
        self.upsamplers = nn.ModuleList([nn.ConvTranspose2d(cin, cin, 2, stride=2)])
        self.resnets = nn.ModuleList([ResnetBlock2D(cin + skip, cout)])


class MidBlock2D(nn.Module):
    def __init__(self, cin, c):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin, c), ResnetBlock2D(c, c)])
        self.attentions = nn.ModuleList([Attention(c)])


class UNet2DModel(nn.Module):
    def __init__(self):
        super().__init__()
        c0, c1, c2 = CHANNELS
        self.time_embedding = TimestepEmbedding(c0, TIME_DIM)
        self.conv_in = nn.Conv2d(1, c0, 3, padding=1)
        self.down_blocks = nn.ModuleList([DownBlock2D(c0, c0), DownBlock2D(c0, c1)])
        self.mid_block = MidBlock2D(c1, c2)
        self.up_blocks = nn.ModuleList([UpBlock2D(c2, c1, c1), UpBlock2D(c1, c0, c0)])
        self.conv_norm_out = nn.GroupNorm(GROUPS, c0)
        self.conv_out = nn.Conv2d(c0, 1, 3, padding=1)

    def forward(self, sample, timesteps):
        temb = self.time_embedding(timesteps)
        h = self.conv_in(sample)
        skips = []
        for block in self.down_blocks:
            h = block.resnets[0](h, temb)
            skips.append(h)
            h = block.downsamplers[0](h)
        mid = self.mid_block
        h = mid.resnets[1](mid.attentions[0](mid.resnets[0](h, temb)), temb)
        for block in self.up_blocks:
            h = block.resnets[0](torch.cat([block.upsamplers[0](h), skips.pop()], 1), temb)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


def main(out, inputs_path):
    with open(inputs_path) as f:
        inputs = json.load(f)
    model = UNet2DModel()
    model.load_state_dict(load_file(os.path.join(out, "base", "model.safetensors")), strict=True)
    model.eval()
    sample = torch.tensor(inputs["sample"], dtype=torch.float32).reshape(-1, 1, 28, 28)
    timesteps = torch.tensor(inputs["timesteps"])
    peft = PeftModel.from_pretrained(model, os.path.join(out, "adapter"))
    with torch.no_grad():
        adapted = peft(sample, timesteps).flatten().tolist()
        merged = peft.merge_and_unload()(sample, timesteps).flatten().tolist()
    print(json.dumps({"adapted": adapted, "merged": merged}))


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
