"""The random suite's draws in PyTorch: torch.randn and torch.rand of n float32 values on one
thread. Prints one JSON object: median milliseconds per case."""
import json
import sys

import torch
from timing import timed

args = json.loads(sys.argv[1])
n, runs = args["n"], args["runs"]
torch.set_num_threads(1)
torch.manual_seed(0)
out = {"torch": torch.__version__, "cpu": torch.backends.cpu.get_cpu_capability(), "rows": {
    "randn": timed(lambda: torch.randn(n), runs, warmup=5),
    "rand": timed(lambda: torch.rand(n), runs, warmup=5),
}}
print(json.dumps(out))
