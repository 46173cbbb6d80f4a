"""An adapter tsgrad trained over an NF4 base, opened by real PEFT on the float32 model, for
test/models/gpt2-qlora.test.ts.

OUT holds base/ (tsgrad's dequantized base, saved with savePretrained), adapter/ (saveAdapterDir)
and ids.json. Prints, as JSON, the logits of PeftModel.from_pretrained(base, adapter).
"""
import json
import sys
import warnings

from peft import PeftModel

from make_gpt2 import load32, logits_of

warnings.filterwarnings("ignore")  # PEFT warns as it sets fan_in_fan_out for Conv1D

out = sys.argv[1]
ids = json.load(open(f"{out}/ids.json"))
model = PeftModel.from_pretrained(load32(f"{out}/base"), f"{out}/adapter").eval()
json.dump({"type": type(model).__name__, "logits": logits_of(model, ids)}, sys.stdout)
