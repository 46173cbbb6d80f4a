"""tsgrad → PyTorch: loads base weights and an adapter folder written by tsgrad, applies LoRA as
PEFT does and prints the largest difference from tsgrad's outputs, as JSON."""
import json
import sys

import torch

from peft_like import PeftModel, check_config, nested, read_safetensors

def check(folder):
    config = json.load(open(f"{folder}/adapter/adapter_config.json"))
    check_config(config)
    model = nested()
    model.load_state_dict(read_safetensors(f"{folder}/base.safetensors"))
    peft = PeftModel(model, config)
    tensors = read_safetensors(f"{folder}/adapter/adapter_model.safetensors")
    adapted_in_file = sorted({k[len("base_model.model."):].split(".lora_")[0] for k in tensors if ".lora_" in k})
    assert sorted(peft.adapted) == adapted_in_file, f"target_modules adapts {sorted(peft.adapted)}, the file has {adapted_in_file}"
    peft.load_adapter_state_dict(tensors)
    io = read_safetensors(f"{folder}/io.safetensors")
    peft.eval()
    with torch.no_grad():
        y = peft(io["x"])
    return {"maxDiff": (y - io["y"]).abs().max().item(), "adapted": sorted(peft.adapted)}


print(json.dumps([check(folder) for folder in sys.argv[1:]]))
