"""LoRA on a tiny GPT-2 with transformers and real PEFT, for test/models/gpt2-lora.test.ts.

make OUT: writes a tiny GPT2LMHeadModel (fixed seed, 2 layers, width 64) to OUT/base; an adapter
    PEFT trained on it (c_attn and c_proj, B non-zero) to OUT/peft with its logits; and the adapter
    PEFT's save_pretrained writes for tsgrad's settings (c_attn, r 4, alpha 8) to OUT/reference.
check OUT: opens tsgrad's adapter OUT/ts/adapter with PeftModel.from_pretrained and tsgrad's merged
    model OUT/ts/merged with GPT2LMHeadModel.from_pretrained, and prints their logits.
Prints JSON on stdout.
"""
import json
import os
import sys
import warnings

import torch
from peft import LoraConfig, PeftModel, get_peft_model
from transformers import GPT2LMHeadModel

from make_gpt2 import VOCAB, load32, logits_of, tiny_config

warnings.filterwarnings("ignore")  # PEFT warns as it sets fan_in_fan_out for Conv1D


def make(out):
    torch.manual_seed(0)
    model = GPT2LMHeadModel(tiny_config()).eval()
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn_like(p) * (0.1 if name.endswith("bias") or "ln_" in name else 0.2))
    model.save_pretrained(f"{out}/base")
    ids = torch.randint(1, VOCAB, (2, 10), generator=torch.Generator().manual_seed(1)).tolist()

    # PEFT trains an adapter: a few Adam steps of the language-modelling loss make B non-zero.
    peft_model = get_peft_model(load32(f"{out}/base"), LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["c_attn", "c_proj"]))
    opt = torch.optim.Adam([p for p in peft_model.parameters() if p.requires_grad], lr=1e-2)
    batch = torch.tensor(ids)
    for _ in range(5):
        loss = peft_model(input_ids=batch, labels=batch).loss
        loss.backward()
        opt.step()
        opt.zero_grad()
    peft_model.eval()
    peft_model.save_pretrained(f"{out}/peft")
    b_norm = min(p.norm().item() for n, p in peft_model.named_parameters() if "lora_B" in n)
    peft_logits = logits_of(peft_model, ids)

    get_peft_model(load32(f"{out}/base"), LoraConfig(task_type="CAUSAL_LM", r=4, lora_alpha=8, target_modules=["c_attn"])).save_pretrained(f"{out}/reference")
    json.dump({"ids": ids, "peftLogits": peft_logits, "peftMinBNorm": b_norm}, sys.stdout)


def check(out):
    ids = json.load(open(f"{out}/ts/ids.json"))
    peft_model = PeftModel.from_pretrained(load32(f"{out}/base"), f"{out}/ts/adapter").eval()
    json.dump({
        "type": type(peft_model).__name__,
        "adapterLogits": logits_of(peft_model, ids),
        "mergedLogits": logits_of(load32(f"{out}/ts/merged"), ids),
    }, sys.stdout)


if __name__ == "__main__":
    torch.set_num_threads(1)
    if sys.argv[1] == "make":
        make(sys.argv[2])
    else:
        check(sys.argv[2])
