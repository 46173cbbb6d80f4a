"""A float16 GPT-2 tsgrad saved, and a LoRA adapter tsgrad trained over it, opened by
transformers and PEFT, for test/models/gpt2-half.test.ts.

OUT holds half/ (savePretrained of the float16 model), adapter/ (saveAdapterDir) and ids.json.
Prints, as JSON: the dtype from_pretrained gives with no dtype asked, the float16 model's logits
computed in float16, the same weights' logits computed in float32, and the logits of
PeftModel.from_pretrained on the float32 model with the adapter.
"""
import json
import sys
import warnings

import torch
from peft import PeftModel
from transformers import GPT2LMHeadModel

from make_gpt2 import load32, logits_of

warnings.filterwarnings("ignore")

out = sys.argv[1]
ids = json.load(open(f"{out}/ids.json"))
auto = GPT2LMHeadModel.from_pretrained(f"{out}/half").eval()
half = GPT2LMHeadModel.from_pretrained(f"{out}/half", dtype=torch.float16).eval()
peft = PeftModel.from_pretrained(load32(f"{out}/half"), f"{out}/adapter").eval()
json.dump({
    "autoDtype": str(auto.dtype),
    "weightDtype": str(half.transformer.h[0].attn.c_attn.weight.dtype),
    "half": logits_of(half, ids),
    "float": logits_of(load32(f"{out}/half"), ids),
    "peft": logits_of(peft, ids),
}, sys.stdout)
