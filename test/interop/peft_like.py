"""PEFT's LoRA, emulated in plain PyTorch for the interop tests (PEFT itself is not installed).

Follows peft/tuners/lora (layer.py, model.py, config.py) and peft/utils/save_and_load.py:
lora.Linear computes base(x) + lora_B(lora_A(dropout(x))) * scaling; target_modules is matched
as PEFT's check_target_module_exists does; rank_pattern / alpha_pattern as get_pattern_key;
files use the keys of get_peft_model_state_dict (adapter name removed).
"""
import json
import math
import re
import struct

import torch
from torch import nn

# The fields of PEFT's LoraConfig and its PeftConfig base (peft/tuners/lora/config.py,
# peft/config.py): from_pretrained rejects or drops any other key.
LORA_CONFIG_FIELDS = {
    "task_type", "peft_type", "auto_mapping", "peft_version", "base_model_name_or_path", "revision",
    "inference_mode", "r", "target_modules", "exclude_modules", "lora_alpha", "lora_dropout",
    "fan_in_fan_out", "bias", "use_rslora", "modules_to_save", "init_lora_weights",
    "layers_to_transform", "layers_pattern", "rank_pattern", "alpha_pattern", "megatron_config",
    "megatron_core", "trainable_token_indices", "loftq_config", "eva_config", "corda_config",
    "lora_ga_config", "use_dora", "velora_config", "alora_invocation_tokens", "use_qalora",
    "qalora_group_size", "monteclora_config", "layer_replication", "runtime_config", "lora_bias",
    "target_parameters", "use_bdlora", "ephemeral_gpu_offload",
}

# What LoraConfig().to_dict() holds by default, for the adapters written here.
LORA_CONFIG_DEFAULTS = {
    "task_type": None, "peft_type": "LORA", "auto_mapping": None, "base_model_name_or_path": None,
    "revision": None, "inference_mode": True, "r": 8, "target_modules": None, "exclude_modules": None,
    "lora_alpha": 8, "lora_dropout": 0.0, "fan_in_fan_out": False, "bias": "none", "use_rslora": False,
    "modules_to_save": None, "init_lora_weights": True, "layers_to_transform": None, "layers_pattern": None,
    "rank_pattern": {}, "alpha_pattern": {}, "megatron_config": None, "megatron_core": "megatron.core",
    "trainable_token_indices": None, "loftq_config": {}, "eva_config": None, "corda_config": None,
    "use_dora": False, "layer_replication": None, "lora_bias": False, "target_parameters": None,
}

DTYPES = {"F32": (torch.float32, 4), "F64": (torch.float64, 8), "I64": (torch.int64, 8), "I32": (torch.int32, 4)}
NAMES = {v[0]: k for k, v in DTYPES.items()}


def read_safetensors(path):
    data = open(path, "rb").read()
    (n,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + n])
    header.pop("__metadata__", None)
    body = data[8 + n :]
    out = {}
    for name, e in header.items():
        dtype, size = DTYPES[e["dtype"]]
        begin, end = e["data_offsets"]
        t = torch.frombuffer(bytearray(body[begin:end]), dtype=dtype) if end > begin else torch.zeros(0, dtype=dtype)
        out[name] = t.reshape(e["shape"]).clone()
    return out


def write_safetensors(path, tensors, metadata=None):
    header, chunks, at = {}, [], 0
    if metadata:
        header["__metadata__"] = metadata
    for name in sorted(tensors):
        t = tensors[name].detach().contiguous()
        raw = t.numpy().tobytes()
        header[name] = {"dtype": NAMES[t.dtype], "shape": list(t.shape), "data_offsets": [at, at + len(raw)]}
        chunks.append(raw)
        at += len(raw)
    text = json.dumps(header).encode()
    text += b" " * (-len(text) % 8)
    with open(path, "wb") as f:
        f.write(struct.pack("<Q", len(text)) + text + b"".join(chunks))


def nested():
    """The model of test/interop/interop.test.ts: modules 0, 0.0, 0.1, 0.2, 1, 2."""
    return nn.Sequential(nn.Sequential(nn.Linear(6, 8), nn.Tanh(), nn.Linear(8, 8)), nn.Tanh(), nn.Linear(8, 5))


class LoraLinear(nn.Module):
    """peft.tuners.lora.layer.Linear with one adapter."""

    def __init__(self, base, r, alpha, use_rslora, dropout):
        super().__init__()
        self.base_layer = base
        self.lora_A = nn.Linear(base.in_features, r, bias=False)
        self.lora_B = nn.Linear(r, base.out_features, bias=False)
        self.lora_dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.scaling = alpha / math.sqrt(r) if use_rslora else alpha / r

    def forward(self, x):
        return self.base_layer(x) + self.lora_B(self.lora_A(self.lora_dropout(x))) * self.scaling


def check_config(config):
    """What LoraConfig.from_pretrained would refuse: unknown keys, wrong types."""
    unknown = set(config) - LORA_CONFIG_FIELDS
    assert not unknown, f"keys LoraConfig does not know: {sorted(unknown)}"
    assert config["peft_type"] == "LORA"
    assert isinstance(config["r"], int) and config["r"] > 0
    assert isinstance(config["lora_alpha"], (int, float))
    assert isinstance(config["lora_dropout"], (int, float))
    assert config["bias"] in ("none", "all", "lora_only")
    assert isinstance(config["use_rslora"], bool)
    assert config.get("fan_in_fan_out", False) is False
    tm = config["target_modules"]
    assert isinstance(tm, str) or (isinstance(tm, list) and all(isinstance(t, str) for t in tm)), tm
    for name in ("rank_pattern", "alpha_pattern"):
        assert isinstance(config.get(name, {}), dict)


def target_matches(config, key):
    """peft.tuners.tuners_utils.check_target_module_exists, for target_modules only."""
    tm = config["target_modules"]
    if isinstance(tm, str):
        return re.fullmatch(tm, key) is not None
    return key in tm or any(key.endswith(f".{t}") for t in tm)


def pattern_value(pattern, key, default):
    """peft.utils.other.get_pattern_key: the first key matching (.*\\.)?(key)$."""
    for k, v in pattern.items():
        if re.match(rf"(.*\.)?({k})$", key):
            return v
    return default


class PeftModel(nn.Module):
    """PeftModel(LoraModel(model)): the base model at base_model.model, adapted in place."""

    def __init__(self, model, config):
        super().__init__()
        self.base_model = nn.Module()
        self.base_model.model = model
        self.adapted = []
        for key, module in list(model.named_modules()):
            if not key or not target_matches(config, key):
                continue
            if not isinstance(module, nn.Linear):
                raise ValueError(f"Target module {module} is not supported.")
            r = pattern_value(config.get("rank_pattern", {}), key, config["r"])
            alpha = pattern_value(config.get("alpha_pattern", {}), key, config["lora_alpha"])
            parent = model.get_submodule(key.rpartition(".")[0]) if "." in key else model
            setattr(parent, key.rpartition(".")[2], LoraLinear(module, r, alpha, config["use_rslora"], config["lora_dropout"]))
            self.adapted.append(key)

    def forward(self, x):
        return self.base_model.model(x)

    def adapter_state_dict(self, bias):
        """get_peft_model_state_dict: lora_ weights, plus biases by the config's bias mode."""
        sd = self.state_dict()
        if bias == "none":
            return {k: v for k, v in sd.items() if "lora_" in k}
        if bias == "all":
            return {k: v for k, v in sd.items() if "lora_" in k or "bias" in k}
        out = {k: v for k, v in sd.items() if "lora_" in k}
        for k in list(out):
            b = k.split("lora_")[0] + "base_layer.bias"
            if b in sd:
                out[b] = sd[b]
        return out

    def load_adapter_state_dict(self, tensors):
        """set_peft_model_state_dict + load_state_dict(strict=False): every key must be used."""
        result = self.load_state_dict(tensors, strict=False)
        assert not result.unexpected_keys, f"keys the model does not have: {result.unexpected_keys}"
