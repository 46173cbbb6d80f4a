"""Opens adapter folders written by tsgrad with PEFT's own PeftModel.from_pretrained, warnings
recorded, and prints the outputs it computes, as JSON: PEFT must take the weights' metadata
record (tsgrad.adapter_config) without a word."""
import json
import sys
import warnings

import torch
from peft import PeftModel
from safetensors.torch import load_file

folder = sys.argv[1]
model = torch.nn.Sequential(torch.nn.Linear(16, 16), torch.nn.Tanh(), torch.nn.Linear(16, 4))
model.load_state_dict(load_file(f"{folder}/base.safetensors"))
with warnings.catch_warnings(record=True) as caught:
    warnings.simplefilter("always")
    peft = PeftModel.from_pretrained(model, f"{folder}/adapter")
x = load_file(f"{folder}/x.safetensors")["x"]
with torch.no_grad():
    y = peft(x)
print(json.dumps({"warnings": [str(w.message) for w in caught], "y": y.tolist()}))
