"""Tiny GPT-2s made and run by transformers, for test/models/gpt2.test.ts.

make OUT: writes checkpoint folders under OUT (plain, sharded, float16, bfloat16, noprefix,
untied) and prints, as JSON, the inputs and what transformers computes from them: logits with and
without an attention mask, greedy generations, and one training step's loss and gradient norms.

check DIRS IDS: loads each folder of the JSON list DIRS with GPT2LMHeadModel.from_pretrained and
prints its logits for IDS, and whether lm_head is tied.
"""
import json
import os
import sys

import torch
from safetensors.torch import save_file
from transformers import GPT2Config, GPT2LMHeadModel
from transformers.generation.logits_process import TemperatureLogitsWarper, TopKLogitsWarper, TopPLogitsWarper

VOCAB = 101
WARP_CASES = [{'topK': 5}, {'topP': 0.9}, {'temperature': 0.7, 'topK': 10, 'topP': 0.8}, {'temperature': 1.3, 'topP': 0.5}, {'topK': 1}]


def tiny_config(**overrides):
    return GPT2Config(vocab_size=VOCAB, n_positions=32, n_embd=64, n_layer=2, n_head=4,
                      bos_token_id=0, eos_token_id=0, **overrides)


def load32(path):
    return GPT2LMHeadModel.from_pretrained(path, dtype=torch.float32).eval()


def logits_of(model, ids, mask=None):
    with torch.no_grad():
        return model(torch.tensor(ids), attention_mask=None if mask is None else torch.tensor(mask)).logits.tolist()


def greedy(model, ids, mask=None, **kwargs):
    with torch.no_grad():
        out = model.generate(torch.tensor(ids), attention_mask=None if mask is None else torch.tensor(mask),
                             do_sample=False, max_new_tokens=12, **kwargs)
    return out.tolist()


def make(out):
    torch.manual_seed(0)
    model = GPT2LMHeadModel(tiny_config()).eval()
    # Larger weights than the init's, so greedy paths wander instead of repeating one token, and
    # non-zero LayerNorm and Conv1D biases, so a swapped weight and bias would show.
    with torch.no_grad():
        for name, p in model.named_parameters():
            p.add_(torch.randn_like(p) * (0.1 if name.endswith('bias') or 'ln_' in name else 0.2))
    model.save_pretrained(f'{out}/plain')
    model.save_pretrained(f'{out}/sharded', max_shard_size='40KB')
    model.half().save_pretrained(f'{out}/float16')
    model.float()
    model.to(torch.bfloat16).save_pretrained(f'{out}/bfloat16')
    model.float()

    # The hub's `gpt2` layout: GPT2Model's keys (no `transformer.`), no lm_head, and the causal-mask
    # buffers older transformers saved.
    os.makedirs(f'{out}/noprefix', exist_ok=True)
    state = {k.removeprefix('transformer.'): v.contiguous() for k, v in model.state_dict().items() if k != 'lm_head.weight'}
    for i in range(2):
        state[f'h.{i}.attn.bias'] = torch.tril(torch.ones(32, 32, dtype=torch.uint8)).view(1, 1, 32, 32).float()
        state[f'h.{i}.attn.masked_bias'] = torch.tensor(-1e4)
    save_file(state, f'{out}/noprefix/model.safetensors', metadata={'format': 'pt'})
    with open(f'{out}/noprefix/config.json', 'w') as f:
        json.dump(model.config.to_dict(), f)

    torch.manual_seed(1)
    untied = GPT2LMHeadModel(tiny_config(tie_word_embeddings=False, n_inner=96, activation_function='gelu')).eval()
    untied.save_pretrained(f'{out}/untied')

    g = torch.Generator().manual_seed(2)
    ids = torch.randint(1, VOCAB, (2, 10), generator=g).tolist()
    mask = [[0, 0, 0, 1, 1, 1, 1, 1, 1, 1], [1] * 10]
    prompt = [ids[0][:5]]

    plain = load32(f'{out}/plain')
    free = greedy(plain, ids, mask, eos_token_id=None, pad_token_id=0)
    # An eos the greedy path reaches: row 0 stops there and is padded, row 1 goes on.
    eos = free[0][10 + 3]
    stopped = greedy(plain, ids, mask, eos_token_id=eos, pad_token_id=VOCAB - 1)

    # One training step in eval mode (dropout off): transformers' shifted loss and every gradient's norm.
    plain.zero_grad()
    loss = plain(torch.tensor(ids), labels=torch.tensor(ids)).loss
    loss.backward()
    grad_norms = {n: p.grad.norm().item() for n, p in plain.named_parameters()}

    # transformers' logits processors on fixed logits: which tokens survive, and their scores.
    raw = torch.randn(3, VOCAB, generator=torch.Generator().manual_seed(3)) * 3
    warped = []
    for case in WARP_CASES:
        scores = raw.clone()
        if 'temperature' in case:
            scores = TemperatureLogitsWarper(case['temperature'])(None, scores)
        if 'topK' in case:
            scores = TopKLogitsWarper(case['topK'])(None, scores)
        if 'topP' in case:
            scores = TopPLogitsWarper(case['topP'])(None, scores)
        warped.append([[v if v != float('-inf') else None for v in row] for row in scores.tolist()])

    result = {
        'defaults': GPT2Config().to_dict(),
        'raw': raw.tolist(),
        'warpCases': WARP_CASES,
        'warped': warped,
        'ids': ids,
        'mask': mask,
        'logits': {v: logits_of(load32(f'{out}/{v}'), ids) for v in ['plain', 'sharded', 'float16', 'bfloat16', 'noprefix', 'untied']},
        'maskedLogits': logits_of(plain, ids, mask),
        'greedy': {
            'prompt': prompt,
            'single': greedy(plain, prompt, eos_token_id=None),
            'padded': free,
            'eos': eos,
            'stopped': stopped,
            'untied': greedy(load32(f'{out}/untied'), prompt, eos_token_id=None),
        },
        'loss': loss.item(),
        'gradNorms': grad_norms,
        'files': {v: sorted(os.listdir(f'{out}/{v}')) for v in ['plain', 'sharded', 'noprefix']},
    }
    json.dump(result, sys.stdout)


def check(paths, ids):
    out = []
    for path in json.loads(paths):
        model = GPT2LMHeadModel.from_pretrained(path).eval()
        tied = model.lm_head.weight.data_ptr() == model.transformer.wte.weight.data_ptr()
        out.append({'logits': logits_of(model, json.loads(ids)), 'tied': tied, 'dtype': str(model.dtype),
                    'activation': model.config.activation_function, 'extra': getattr(model.config, 'task_specific_params', None)})
    json.dump(out, sys.stdout)


if __name__ == '__main__':
    torch.set_num_threads(1)
    if sys.argv[1] == 'make':
        make(sys.argv[2])
    else:
        check(sys.argv[2], sys.argv[3])
