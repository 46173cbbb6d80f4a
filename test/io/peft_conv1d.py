"""Real PEFT on a small model of transformers' Conv1D and nn.Linear layers, nested as in GPT-2
(h.{i}.attn.c_attn, attn.c_proj, mlp.c_fc, mlp.c_proj, head), for test/io/peft-conv1d.test.ts.

  make <root> <cases.json>: writes the base weights and inputs, adapters PEFT makes (B non-zero)
      with the outputs they give, and for each tsgrad case the adapter PEFT's own save_pretrained
      writes for the same settings (to compare files with).
  check <root> <n>: opens tsgrad's adapters <root>/ts<i>/adapter with PeftModel.from_pretrained,
      and compares outputs and merge_and_unload() weights with what tsgrad saved.
Prints JSON on stdout.
"""
import json
import os
import sys
import warnings

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from safetensors.torch import load_file, save_file
from torch import nn
from transformers.pytorch_utils import Conv1D

D = 8
warnings.filterwarnings("ignore")  # PEFT warns as it sets fan_in_fan_out per layer type


class Attn(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_attn = Conv1D(3 * D, D)
        self.c_proj = Conv1D(D, D)

    def forward(self, x):
        q, k, v = self.c_attn(x).split(D, dim=-1)
        return self.c_proj(torch.tanh(q) * k + v)


class MLP(nn.Module):
    def __init__(self):
        super().__init__()
        self.c_fc = nn.Linear(D, 4 * D)
        self.c_proj = Conv1D(D, 4 * D)

    def forward(self, x):
        return self.c_proj(torch.tanh(self.c_fc(x)))


class Block(nn.Module):
    def __init__(self):
        super().__init__()
        self.attn = Attn()
        self.mlp = MLP()

    def forward(self, x):
        x = x + self.attn(x)
        return x + self.mlp(x)


class Tiny(nn.Module):
    def __init__(self):
        super().__init__()
        self.h = nn.ModuleList([Block(), Block()])
        self.head = nn.Linear(D, 5)

    def forward(self, x):
        for block in self.h:
            x = block(x)
        return self.head(x)


def base_model(root):
    model = Tiny()
    model.load_state_dict(load_file(os.path.join(root, "base.safetensors")))
    return model.eval()


def max_diff(a, b):
    return (a.double() - b.double()).abs().max().item()


def make(root, cases):
    torch.manual_seed(0)
    model = Tiny()
    with torch.no_grad():
        for p in model.parameters():
            p.normal_(0, 0.2)
    save_file(model.state_dict(), os.path.join(root, "base.safetensors"))
    save_file({"x": torch.randn(6, D)}, os.path.join(root, "x.safetensors"))
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
        out["peft"].append({"adapted": sorted(n[len("base_model.model."):] for n, m in peft_model.named_modules() if hasattr(m, "lora_A"))})
    for i, case in enumerate(cases["reference"]):
        model = base_model(root)
        if case.get("name_or_path"):
            model.name_or_path = case["name_or_path"]
        get_peft_model(model, LoraConfig(**case["config"])).save_pretrained(os.path.join(root, f"ref{i}"))
    return out


def check(root, n):
    x = load_file(os.path.join(root, "x.safetensors"))["x"]
    results = []
    for i in range(n):
        folder = os.path.join(root, f"ts{i}")
        peft_model = PeftModel.from_pretrained(base_model(root), os.path.join(folder, "adapter"))
        adapted = sorted(n[len("base_model.model."):] for n, m in peft_model.named_modules() if hasattr(m, "lora_A"))
        fan_in_fan_out = {n[len("base_model.model."):]: m.fan_in_fan_out for n, m in peft_model.named_modules() if hasattr(m, "lora_A")}
        with torch.no_grad():
            y = peft_model.get_base_model()(x)
            merged = peft_model.merge_and_unload()
            y_merged = merged(x)
        want = load_file(os.path.join(folder, "io.safetensors"))
        ts_merged = load_file(os.path.join(folder, "merged.safetensors"))
        state = merged.state_dict()
        results.append({
            "adapted": adapted,
            "fanInFanOut": fan_in_fan_out,
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
