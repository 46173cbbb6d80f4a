"""The diffusion demo's UNet (examples/diffusion/unet.ts) in PyTorch, module for module with the
same names, loaded with tsgrad's initial weights (a safetensors file the bench writes), and one
training step: epsilon-MSE on the bench's batch, Adam. With "check", reports the loss before and
after one step from those weights (the bench compares them with tsgrad's). Prints one JSON
object: median milliseconds per step for each thread count."""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as F
from safetensors.torch import load_file
from torch import nn
from timing import timed

args = json.loads(sys.argv[1])
cfg, folder = args["config"], args["dir"]


def timestep_embedding(timesteps, dim):
    half = dim // 2
    freqs = torch.exp(-math.log(10000) * torch.arange(half, dtype=torch.float64) / half)
    angles = torch.tensor(timesteps, dtype=torch.float64)[:, None] * freqs[None]
    return torch.cat([torch.sin(angles), torch.cos(angles)], dim=1).float()


class TimestepEmbedding(nn.Module):
    def __init__(self, in_dim, out_dim):
        super().__init__()
        self.in_dim = in_dim
        self.linear_1, self.linear_2 = nn.Linear(in_dim, out_dim), nn.Linear(out_dim, out_dim)

    def forward(self, timesteps):
        return self.linear_2(F.silu(self.linear_1(timestep_embedding(timesteps, self.in_dim))))


class ResnetBlock2D(nn.Module):
    def __init__(self, cin, cout, temb, groups):
        super().__init__()
        self.norm1, self.conv1 = nn.GroupNorm(groups, cin), nn.Conv2d(cin, cout, 3, padding=1)
        self.time_emb_proj = nn.Linear(temb, cout)
        self.norm2, self.conv2 = nn.GroupNorm(groups, cout), nn.Conv2d(cout, cout, 3, padding=1)
        self.conv_shortcut = None if cin == cout else nn.Conv2d(cin, cout, 1)

    def forward(self, x, temb):
        h = self.conv1(F.silu(self.norm1(x))) + self.time_emb_proj(F.silu(temb))[:, :, None, None]
        h = self.conv2(F.silu(self.norm2(h)))
        return h + (self.conv_shortcut(x) if self.conv_shortcut is not None else x)


class Attention(nn.Module):
    def __init__(self, channels, heads, groups):
        super().__init__()
        self.heads = heads
        self.group_norm = nn.GroupNorm(groups, channels)
        self.to_q, self.to_k, self.to_v, self.to_out = (nn.Linear(channels, channels) for _ in range(4))

    def forward(self, x):
        n, c, h, w = x.shape
        tokens = self.group_norm(x).reshape(n, c, h * w).transpose(1, 2)
        split = lambda t: t.reshape(n, h * w, self.heads, c // self.heads).transpose(1, 2)
        heads = F.scaled_dot_product_attention(split(self.to_q(tokens)), split(self.to_k(tokens)), split(self.to_v(tokens)))
        return x + self.to_out(heads.transpose(1, 2).reshape(n, h * w, c)).transpose(1, 2).reshape(n, c, h, w)


class DownBlock2D(nn.Module):
    def __init__(self, cin, cout, c):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin, cout, c["timeEmbedDim"], c["groups"])])
        self.downsamplers = nn.ModuleList([nn.Conv2d(cout, cout, 3, stride=2, padding=1)])

    def forward(self, x, temb):
        h = self.resnets[0](x, temb)
        return h, self.downsamplers[0](h)


class UpBlock2D(nn.Module):
    def __init__(self, cin, skip, cout, c):
        super().__init__()
        self.upsamplers = nn.ModuleList([nn.ConvTranspose2d(cin, cin, 2, stride=2)])
        self.resnets = nn.ModuleList([ResnetBlock2D(cin + skip, cout, c["timeEmbedDim"], c["groups"])])

    def forward(self, x, skip, temb):
        return self.resnets[0](torch.cat([self.upsamplers[0](x), skip], 1), temb)


class MidBlock2D(nn.Module):
    def __init__(self, cin, ch, c):
        super().__init__()
        self.resnets = nn.ModuleList([ResnetBlock2D(cin, ch, c["timeEmbedDim"], c["groups"]), ResnetBlock2D(ch, ch, c["timeEmbedDim"], c["groups"])])
        self.attentions = nn.ModuleList([Attention(ch, c["heads"], c["groups"])])

    def forward(self, x, temb):
        return self.resnets[1](self.attentions[0](self.resnets[0](x, temb)), temb)


class UNet2DModel(nn.Module):
    def __init__(self, c):
        super().__init__()
        c0, c1, c2 = c["channels"]
        self.time_embedding = TimestepEmbedding(c0, c["timeEmbedDim"])
        self.conv_in = nn.Conv2d(1, c0, 3, padding=1)
        self.down_blocks = nn.ModuleList([DownBlock2D(c0, c0, c), DownBlock2D(c0, c1, c)])
        self.mid_block = MidBlock2D(c1, c2, c)
        self.up_blocks = nn.ModuleList([UpBlock2D(c2, c1, c1, c), UpBlock2D(c1, c0, c0, c)])
        self.conv_norm_out, self.conv_out = nn.GroupNorm(c["groups"], c0), nn.Conv2d(c0, 1, 3, padding=1)

    def forward(self, sample, timesteps):
        temb = self.time_embedding(timesteps)
        h, skips = self.conv_in(sample), []
        for block in self.down_blocks:
            skip, h = block(h, temb)
            skips.append(skip)
        h = self.mid_block(h, temb)
        for block in self.up_blocks:
            h = block(h, skips.pop(), temb)
        return self.conv_out(F.silu(self.conv_norm_out(h)))


def trainer():
    model = UNet2DModel(cfg)
    model.load_state_dict(load_file(os.path.join(folder, "unet.safetensors")), strict=True)
    opt = torch.optim.Adam(model.parameters(), lr=args["lr"])
    n = args["batch"]
    sample = torch.from_numpy(np.fromfile(os.path.join(folder, "unet.sample.f32"), dtype=np.float32).reshape(n, 1, 28, 28))
    target = torch.from_numpy(np.fromfile(os.path.join(folder, "unet.target.f32"), dtype=np.float32).reshape(n, 1, 28, 28))

    def step():
        loss = F.mse_loss(model(sample, args["timesteps"]), target)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        return loss.item()
    return step


out = {"torch": torch.__version__, "rows": {}}
if args.get("check"):
    step = trainer()
    out["losses"] = [step(), step()]
for threads in args["threads"]:
    torch.set_num_threads(threads)
    out["rows"][str(threads)] = timed(trainer(), args["steps"])
print(json.dumps(out))
