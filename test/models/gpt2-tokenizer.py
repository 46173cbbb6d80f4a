# Reference ids for test/models/gpt2-tokenizer.test.ts, from two Hugging Face implementations of
# GPT-2's tokenizer:
#   fast: transformers' GPT2Tokenizer (in transformers 5 it is the Rust `tokenizers` BPE; the old
#         GPT2TokenizerFast name is an alias of it), whose save_pretrained writes the tokenizer.json
#         the tests read;
#   slow: transformers 4's pure-Python GPT2Tokenizer (OpenAI's encoder.py with the `regex` module),
#         which transformers 5 no longer ships, restated below on transformers' own slow-tokenizer
#         base class (PythonBackend), which still splits out added tokens as it always did.
# Usage: python gpt2-tokenizer.py request.json; the request names tokenizers (vocab.json,
# merges.txt, added tokens, a folder for save_pretrained, or a folder to load) and the strings and
# ids to run through them. Prints JSON.
import json
import sys
import unicodedata
from functools import lru_cache

import regex
from transformers import AddedToken, GPT2Tokenizer
from transformers.tokenization_python import PythonBackend


@lru_cache
def bytes_to_unicode():
    bs = list(range(ord("!"), ord("~") + 1)) + list(range(ord("¡"), ord("¬") + 1)) + list(range(ord("®"), ord("ÿ") + 1))
    cs = bs[:]
    n = 0
    for b in range(2**8):
        if b not in bs:
            bs.append(b)
            cs.append(2**8 + n)
            n += 1
    return dict(zip(bs, [chr(c) for c in cs]))


def get_pairs(word):
    return {(word[i], word[i + 1]) for i in range(len(word) - 1)}


class SlowGPT2Tokenizer(PythonBackend):
    """transformers 4's tokenization_gpt2.GPT2Tokenizer (the slow one), unchanged in substance."""

    def __init__(self, vocab_file, merges_file, **kwargs):
        with open(vocab_file, encoding="utf-8") as f:
            self.encoder = json.load(f)
        self.decoder = {v: k for k, v in self.encoder.items()}
        self.byte_encoder = bytes_to_unicode()
        self.byte_decoder = {v: k for k, v in self.byte_encoder.items()}
        with open(merges_file, encoding="utf-8") as f:
            bpe_merges = f.read().split("\n")[1:-1]
        bpe_merges = [tuple(merge.split()) for merge in bpe_merges]
        self.bpe_ranks = dict(zip(bpe_merges, range(len(bpe_merges))))
        self.cache = {}
        self.pat = regex.compile(r"""'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+""")
        eot = "<|endoftext|>"
        super().__init__(unk_token=eot, bos_token=eot, eos_token=eot, **kwargs)

    @property
    def vocab_size(self):
        return len(self.encoder)

    def get_vocab(self):
        return dict(self.encoder, **self._added_tokens_encoder)

    def bpe(self, token):
        if token in self.cache:
            return self.cache[token]
        word = tuple(token)
        pairs = get_pairs(word)
        if not pairs:
            return token
        while True:
            bigram = min(pairs, key=lambda pair: self.bpe_ranks.get(pair, float("inf")))
            if bigram not in self.bpe_ranks:
                break
            first, second = bigram
            new_word = []
            i = 0
            while i < len(word):
                try:
                    j = word.index(first, i)
                except ValueError:
                    new_word.extend(word[i:])
                    break
                else:
                    new_word.extend(word[i:j])
                    i = j
                if word[i] == first and i < len(word) - 1 and word[i + 1] == second:
                    new_word.append(first + second)
                    i += 2
                else:
                    new_word.append(word[i])
                    i += 1
            word = tuple(new_word)
            if len(word) == 1:
                break
            pairs = get_pairs(word)
        word = " ".join(word)
        self.cache[token] = word
        return word

    def _tokenize(self, text):
        bpe_tokens = []
        for token in regex.findall(self.pat, text):
            token = "".join(self.byte_encoder[b] for b in token.encode("utf-8"))
            bpe_tokens.extend(self.bpe(token).split(" "))
        return bpe_tokens

    def _convert_token_to_id(self, token):
        return self.encoder.get(token, self.encoder.get(self.unk_token))

    def _convert_id_to_token(self, index):
        return self.decoder.get(index)

    def convert_tokens_to_string(self, tokens):
        return bytearray([self.byte_decoder[c] for c in "".join(tokens)]).decode("utf-8", errors="replace")


def added(spec):
    return AddedToken(spec["content"], lstrip=spec.get("lstrip", False), rstrip=spec.get("rstrip", False), normalized=spec.get("normalized", False), special=spec.get("special", False))


def unassigned_in_14(s):
    """Characters that Unicode 14 (Python 3.11's unicodedata) leaves unassigned, with whether the newer
    `regex` module calls them letters or digits: the regex engines of the two implementations (and
    JavaScript's) follow different Unicode versions, so they may split such text differently."""
    return [[ord(c), bool(regex.fullmatch(r"[\p{L}\p{N}]", c))] for c in s if unicodedata.category(c) == "Cn"]


def main():
    with open(sys.argv[1], encoding="utf-8") as f:
        request = json.load(f)
    out = {}
    for spec in request["tokenizers"]:
        if "load" in spec:
            # A folder as transformers 4 left it: vocab.json, merges.txt, tokenizer_config.json.
            fast, slow = GPT2Tokenizer.from_pretrained(spec["load"]), None
        else:
            fast = GPT2Tokenizer(vocab=spec["vocab"], merges=spec["merges"], add_prefix_space=spec.get("addPrefixSpace", False))
            slow = None if spec.get("addPrefixSpace") else SlowGPT2Tokenizer(spec["vocab"], spec["merges"])
            extra = [added(t) for t in spec.get("addedTokens", [])]
            if extra:
                fast.add_tokens(extra)
                if slow is not None:
                    slow.add_tokens(extra)
            fast.save_pretrained(spec["saveTo"])
        texts = spec.get("encode", [])
        ids = [fast.encode(t) for t in texts]
        result = {
            "fast": ids,
            "fastTokens": [fast.convert_ids_to_tokens(i) for i in ids],
            "decodeFast": [fast.decode(i) for i in spec.get("decode", [])],
            "decodeFastSkip": [fast.decode(i, skip_special_tokens=True) for i in spec.get("decode", [])],
            "unassigned14": [unassigned_in_14(t) for t in texts],
            "vocabSize": fast.vocab_size,
            "length": len(fast),
            "eos": fast.eos_token_id,
            "bos": fast.bos_token_id,
        }
        if "encodeFiles" in spec:
            result["fastFiles"] = []
            for path in spec["encodeFiles"]:
                with open(path, encoding="utf-8") as f:
                    result["fastFiles"].append(fast.encode(f.read()))
        if slow is not None:
            result["slow"] = [slow.encode(t) for t in texts]
            result["decodeSlow"] = [slow.decode(i) for i in spec.get("decodeSlow", [])]
        out[spec["name"]] = result
    json.dump(out, sys.stdout)


main()
