"""Real PEFT on a small convolutional model (Conv2d layers and a Linear head), for
test/io/peft-conv2d.test.ts.

  make <root> <cases.json>: writes the base weights and an input, adapters PEFT makes (A and B
      non-zero) with the outputs they give, and for each tsgrad case the adapter PEFT's own
      save_pretrained writes for the same settings (to compare files with).
  check <root> <n>: opens tsgrad's adapters <root>/ts<i>/adapter with PeftModel.from_pretrained,
      and compares outputs and merge_and_unload() weights with what tsgrad saved.
Prints JSON on stdout.
"""
import json
import os
import sys
import warnings

import torch
import torch.nn.functional as F
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from torch import nn

warnings.filterwarnings("ignore")


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.conv1 = nn.Conv2d(3, 8, 3, padding="same")
        self.norm = nn.GroupNorm(2, 8)
        self.conv2 = nn.Conv2d(8, 8, (3, 2), stride=2, padding=1)
        self.proj = nn.Conv2d(8, 8, 1)

    def forward(self, x):
        h = self.conv2(F.silu(self.norm(self.conv1(x))))
        return h + self.proj(h)


class Net(nn.Module):
    def __init__(self):
        super().__init__()
        self.block = Block()
        self.head = nn.Linear(8, 5)

    def forward(self, x):
        return self.head(self.block(x).mean((2, 3)))


def base_model(root):
    model = Net()
    model.load_state_dict(load_file(os.path.join(root, "base.safetensors")))
    return model.eval()


def max_diff(a, b):
    return (a.double() - b.double()).abs().max().item()


def adapted(peft_model):
    return sorted(n[len("base_model.model."):] for n, m in peft_model.named_modules() if hasattr(m, "lora_A"))


def make(root, cases):
    torch.manual_seed(0)
    model = Net()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.3)
    save_file(model.state_dict(), os.path.join(root, "base.safetensors"))
    save_file({"x": torch.randn(2, 3, 9, 8)}, os.path.join(root, "x.safetensors"))
    x = load_file(os.path.join(root, "x.safetensors"))["x"]
    out = {"peft": [], "reference": []}
    for i, config in enumerate(cases["peft"]):
        torch.manual_seed(100 + i)
        peft_model = get_peft_model(base_model(root), LoraConfig(**config))
        with torch.no_grad():
            for name, p in peft_model.named_parameters():
                if "lora_" in name or (p.requires_grad and name.endswith("bias")):
                    p.normal_(0, 0.2)
        folder = os.path.join(root, f"peft{i}")
        peft_model.save_pretrained(folder)
        with torch.no_grad():
            y = peft_model.get_base_model()(x)
        save_file({"y": y}, os.path.join(folder, "y.safetensors"))
        out["peft"].append({"adapted": adapted(peft_model)})
    for i, config in enumerate(cases["reference"]):
        get_peft_model(base_model(root), LoraConfig(**config)).save_pretrained(os.path.join(root, f"ref{i}"))
    return out


def check(root, n):
    x = load_file(os.path.join(root, "x.safetensors"))["x"]
    results = []
    for i in range(n):
        folder = os.path.join(root, f"ts{i}")
        peft_model = PeftModel.from_pretrained(base_model(root), os.path.join(folder, "adapter"))
        layers = adapted(peft_model)
        with torch.no_grad():
            y = peft_model.get_base_model()(x)
            merged = peft_model.merge_and_unload()
            y_merged = merged(x)
        want = load_file(os.path.join(folder, "io.safetensors"))
        ts_merged = load_file(os.path.join(folder, "merged.safetensors"))
        state = merged.state_dict()
        results.append({
            "adapted": layers,
            "outputDiff": max_diff(y, want["y"]),
            "mergedOutputDiff": max_diff(y_merged, want["y"]),
            "mergedKeys": sorted(state) == sorted(ts_merged),
            "mergedWeightDiff": max(max_diff(state[k], ts_merged[k]) for k in state),
        })
    return results


if __name__ == "__main__":
    mode, root = sys.argv[1], sys.argv[2]
    if mode == "make":
        print(json.dumps(make(root, json.loads(sys.argv[3]))))
    else:
        print(json.dumps(check(root, int(sys.argv[3]))))
