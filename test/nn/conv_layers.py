# A small PyTorch model of every convolution-family layer: its state dict, an input and the
# output (argv[1] is the folder), and the keys, shapes and init ranges PyTorch gives these layers.
import json
import sys

import torch
from safetensors.torch import save_file
from torch import nn

torch.manual_seed(0)
model = nn.Sequential(
    nn.Conv2d(3, 8, 3, padding=1),
    nn.GroupNorm(4, 8),
    nn.SiLU(),
    nn.Conv2d(8, 8, (3, 2), stride=2, dilation=(1, 2), groups=2),
    nn.MaxPool2d(2, stride=1),
    nn.ConvTranspose2d(8, 4, 4, stride=2, padding=1, groups=2),
    nn.Upsample(scale_factor=2, mode='bilinear'),
    nn.AvgPool2d(3, stride=1, padding=1),
    nn.GroupNorm(2, 4, affine=False),
    nn.Conv2d(4, 2, 1, bias=False, padding='same'),
    nn.Upsample(size=(5, 7)),
).double()
for p in model.parameters():  # GroupNorm's ones and zeros would hide a mix-up of weight and bias
    torch.nn.init.normal_(p, std=0.5) if p.dim() == 1 else None
x = torch.randn(2, 3, 12, 10, dtype=torch.float64)
with torch.no_grad():
    y = model(x)
save_file({k: v.contiguous() for k, v in model.state_dict().items()}, f'{sys.argv[1]}/model.safetensors')
save_file({'x': x, 'y': y}, f'{sys.argv[1]}/io.safetensors')

big = {'conv': nn.Conv2d(16, 32, 3, groups=2), 'convTranspose': nn.ConvTranspose2d(16, 32, (3, 2), groups=4)}
init = {name: {'weight': m.weight.abs().max().item(), 'bias': m.bias.abs().max().item(), 'weightStd': m.weight.std().item()} for name, m in big.items()}
print(json.dumps({'keys': {k: list(v.shape) for k, v in model.state_dict().items()}, 'init': init}))
