"""The LoRA suite's training step in PyTorch: Linear(768, 768) with PEFT's LoRA (r 4, alpha 8) and
the same Linear fully fine-tuned, batch 64, MSE against a fixed target, Adam (lr 1e-3), the loss
read back each step, and the frozen base's forward product alone (x·Wᵀ under no_grad, the step's one
large matmul). Prints one JSON object: median milliseconds per step for each thread count."""
import json
import sys

import peft
import torch
from timing import timed

args = json.loads(sys.argv[1])
d, batch, steps = args["d"], args["batch"], args["steps"]


def step_fn(mode):
    torch.manual_seed(0)
    if mode == "matmul":
        x, w = torch.randn(batch, d), torch.randn(d, d)

        def product():
            with torch.no_grad():
                x @ w.t()
        return product
    m = torch.nn.Sequential(torch.nn.Linear(d, d))
    if mode == "lora":
        m = peft.get_peft_model(m, peft.LoraConfig(r=4, lora_alpha=8, target_modules=["0"], lora_dropout=0.0))
    opt = torch.optim.Adam([p for p in m.parameters() if p.requires_grad], lr=1e-3)
    x, target = torch.randn(batch, d), torch.randn(batch, d)

    def step():
        loss = torch.nn.functional.mse_loss(m(x), target)
        loss.backward()
        opt.step()
        opt.zero_grad(set_to_none=True)
        loss.item()
    return step


out = {"torch": torch.__version__, "peft": peft.__version__, "rows": {}, "cpu": torch.backends.cpu.get_cpu_capability()}
for threads in args["threads"]:
    torch.set_num_threads(threads)
    out["rows"][str(threads)] = {mode: timed(step_fn(mode), steps, warmup=10) for mode in ("full", "lora", "matmul")}
print(json.dumps(out))
