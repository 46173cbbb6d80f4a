"""PyTorch → tsgrad: writes base weights, an adapter folder in PEFT's layout (non-zero B,
LoraConfig's keys and defaults) and an input with its output, for tsgrad to reproduce."""
import json
import os
import sys

import torch

from peft_like import LORA_CONFIG_DEFAULTS, PeftModel, check_config, nested, write_safetensors

def make(folder, case):
    torch.manual_seed(case.get("seed", 0))
    model = nested()
    write_safetensors(f"{folder}/base.safetensors", model.state_dict(), {"format": "pt"})
    config = {**LORA_CONFIG_DEFAULTS, **case["config"]}
    check_config(config)
    peft = PeftModel(model, config)
    with torch.no_grad():
        for name, p in peft.named_parameters():
            if "lora_" in name:
                p.copy_(torch.randn_like(p) * 0.5)
            elif name.endswith("bias") and (config["bias"] == "all" or (config["bias"] == "lora_only" and "base_layer" in name)):
                p.copy_(torch.randn_like(p))
    os.makedirs(f"{folder}/adapter", exist_ok=True)
    write_safetensors(f"{folder}/adapter/adapter_model.safetensors", peft.adapter_state_dict(config["bias"]), {"format": "pt"})
    json.dump(config, open(f"{folder}/adapter/adapter_config.json", "w"), indent=2)
    x = torch.randn(7, 6)
    peft.eval()
    with torch.no_grad():
        y = peft(x)
    write_safetensors(f"{folder}/io.safetensors", {"x": x, "y": y})
    return {"adapted": sorted(peft.adapted)}


print(json.dumps([make(c["folder"], c) for c in json.loads(sys.argv[1])]))
