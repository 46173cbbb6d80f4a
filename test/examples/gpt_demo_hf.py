"""npm run demo's saved files in transformers and PEFT: loads the pretrained model (config.json,
model.safetensors, and the character vocabulary vocab.json beside them) and the rank-4 adapter,
encodes the text with the vocabulary and prints both models' logits as JSON."""
import json
import sys

import torch
from peft import PeftModel
from transformers import GPT2LMHeadModel

base_dir, adapter_dir, text = sys.argv[1:4]
vocab = json.load(open(f"{base_dir}/vocab.json", encoding="utf-8"))
ids = torch.tensor([[vocab[ch] for ch in text]])
model = GPT2LMHeadModel.from_pretrained(base_dir).eval()
with torch.no_grad():
    base = model(input_ids=ids).logits
    peft = PeftModel.from_pretrained(model, adapter_dir).eval()
    adapted = peft(input_ids=ids).logits
config = peft.peft_config["default"]
print(json.dumps({
    "ids": ids[0].tolist(),
    "base": base[0].flatten().tolist(),
    "adapted": adapted[0].flatten().tolist(),
    "targetModules": sorted(config.target_modules),
    "fanInFanOut": config.fan_in_fan_out,
    "rank": config.r,
}))
