"""The bench's GPT in PyTorch: transformers' GPT2LMHeadModel of the same config, full fine-tuning
and PEFT LoRA (r 4, alpha 8, on c_attn) training steps with AdamW, and greedy generation with its
key/value cache, and the step's matrix products alone (args["products"], as bench/cases/gpt.ts lists
them). Prints one JSON object: median milliseconds per case for each thread count."""
import json
import sys

import torch
import transformers
from transformers import GPT2Config, GPT2LMHeadModel
from timing import timed

args = json.loads(sys.argv[1])
g = args["shape"]
steps, gen_tokens, prompt_len = args["steps"], args["genTokens"], args["promptLen"]


def model():
    torch.manual_seed(0)
    cfg = GPT2Config(vocab_size=g["vocab"], n_positions=g["context"], n_embd=g["width"], n_layer=g["layers"], n_head=g["heads"],
                     resid_pdrop=0, embd_pdrop=0, attn_pdrop=0, activation_function="gelu_new", bos_token_id=None, eos_token_id=None)
    return GPT2LMHeadModel(cfg)


def train_step_fn(mode):
    m = model()
    if mode == "lora":
        import peft
        m = peft.get_peft_model(m, peft.LoraConfig(r=4, lora_alpha=8, target_modules=["c_attn"], fan_in_fan_out=True, lora_dropout=0.0))
    m.train()
    opt = torch.optim.AdamW([p for p in m.parameters() if p.requires_grad], lr=1e-3, weight_decay=0.01)
    n = g["batch"] * g["context"]
    ids = (torch.arange(n) * 7919 % g["vocab"]).reshape(g["batch"], g["context"])
    targets = ((torch.arange(n) * 7919 + 1) % g["vocab"]).reshape(g["batch"], g["context"])

    def step():
        logits = m(input_ids=ids).logits
        loss = torch.nn.functional.cross_entropy(logits.reshape(-1, logits.shape[-1]), targets.reshape(-1))
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
    return step


def generate_fn():
    m = model().eval()
    prompt = (torch.arange(prompt_len) * 7919 % g["vocab"]).reshape(1, prompt_len)

    def gen():
        with torch.no_grad():
            m.generate(prompt, max_new_tokens=gen_tokens, min_new_tokens=gen_tokens, do_sample=False, pad_token_id=0)
    return gen


def products_fn():
    torch.manual_seed(0)
    operands = []
    for p in args["products"]:
        m, k, n = p["m"], p["k"], p["n"]
        a = torch.randn(k, m) if p["aT"] else torch.randn(m, k)
        b = torch.randn(n, k) if p["bT"] else torch.randn(k, n)
        operands.append((a.t() if p["aT"] else a, b.t() if p["bT"] else b))

    def run():
        with torch.no_grad():
            for a, b in operands:
                a @ b
    return run


out = {"torch": torch.__version__, "transformers": transformers.__version__, "rows": {}, "cpu": torch.backends.cpu.get_cpu_capability()}
for threads in args["threads"]:
    torch.set_num_threads(threads)
    out["rows"][str(threads)] = {
        "full": timed(train_step_fn("full"), steps, warmup=3),
        "lora": timed(train_step_fn("lora"), steps, warmup=3),
        "generate": timed(generate_fn(), max(3, steps // 4), warmup=3),
        "products": timed(products_fn(), steps, warmup=3),
    }
print(json.dumps(out))
