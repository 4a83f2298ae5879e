#!/usr/bin/env python3
"""Writes a seeded random-weight LLaMA model as a Hugging Face directory (config.json + model.safetensors),
for benchmarks only (never committed). Default: the ~0.5 B-parameter shape the benchmarks use
(dim 2048, FFN 5632, 8 layers, 32 heads, 4 KV heads, vocab 32000), F32 = 1.9 GB.
Needs numpy. Tensors are generated and written one at a time, so memory stays at one tensor."""
import argparse, json, os, struct
import numpy as np

p = argparse.ArgumentParser(description=__doc__)
p.add_argument("out", help="output directory")
p.add_argument("--dim", type=int, default=2048)
p.add_argument("--ffn", type=int, default=5632)
p.add_argument("--layers", type=int, default=8)
p.add_argument("--heads", type=int, default=32)
p.add_argument("--kv-heads", type=int, default=4)
p.add_argument("--vocab", type=int, default=32000)
p.add_argument("--dtype", choices=["F32", "F16", "BF16"], default="F32")
p.add_argument("--seed", type=int, default=1234)
a = p.parse_args()

hd = a.dim // a.heads
shapes = [("model.embed_tokens.weight", (a.vocab, a.dim))]
for l in range(a.layers):
    q = f"model.layers.{l}."
    shapes += [(q + "input_layernorm.weight", (a.dim,)),
               (q + "self_attn.q_proj.weight", (a.heads * hd, a.dim)),
               (q + "self_attn.k_proj.weight", (a.kv_heads * hd, a.dim)),
               (q + "self_attn.v_proj.weight", (a.kv_heads * hd, a.dim)),
               (q + "self_attn.o_proj.weight", (a.dim, a.heads * hd)),
               (q + "post_attention_layernorm.weight", (a.dim,)),
               (q + "mlp.gate_proj.weight", (a.ffn, a.dim)),
               (q + "mlp.up_proj.weight", (a.ffn, a.dim)),
               (q + "mlp.down_proj.weight", (a.dim, a.ffn))]
shapes += [("model.norm.weight", (a.dim,)), ("lm_head.weight", (a.vocab, a.dim))]

size = {"F32": 4, "F16": 2, "BF16": 2}[a.dtype]
header, off = {"__metadata__": {"format": "pt"}}, 0
for n, s in shapes:
    b = int(np.prod(s)) * size
    header[n] = {"dtype": a.dtype, "shape": list(s), "data_offsets": [off, off + b]}
    off += b
h = json.dumps(header, separators=(",", ":")).encode()
h += b" " * (-len(h) % 8)
os.makedirs(a.out, exist_ok=True)
rng = np.random.default_rng(a.seed)
with open(os.path.join(a.out, "model.safetensors"), "wb") as f:
    f.write(struct.pack("<Q", len(h)) + h)
    for n, s in shapes:
        x = (np.ones(s, np.float32) if len(s) == 1 else rng.standard_normal(s, dtype=np.float32) * 0.02)
        if a.dtype == "F16":
            x = x.astype(np.float16)
        elif a.dtype == "BF16":
            u = x.view(np.uint32)
            x = ((u + 0x7FFF + ((u >> 16) & 1)) >> 16).astype(np.uint16)
        f.write(x.tobytes())
config = {"architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": a.dim,
          "intermediate_size": a.ffn, "num_hidden_layers": a.layers, "num_attention_heads": a.heads,
          "num_key_value_heads": a.kv_heads, "vocab_size": a.vocab, "max_position_embeddings": 4096,
          "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": False,
          "bos_token_id": 1, "eos_token_id": 2, "torch_dtype": "float32"}
with open(os.path.join(a.out, "config.json"), "w") as f:
    json.dump(config, f, indent=2)
# A minimal SentencePiece-style tokenizer.json (byte fallback, no merges: one token per byte), so the text tools
# (tllm-calib, tllm-gen --perplexity) run on the synthetic model; the ids above 258 are fillers never produced.
vocab = {"<unk>": 0, "<s>": 1, "</s>": 2}
for b in range(256):
    vocab[f"<0x{b:02X}>"] = 3 + b
for i in range(len(vocab), a.vocab):
    vocab[f"tok{i}"] = i
tokenizer = {"version": "1.0", "added_tokens": [{"id": i, "content": t, "single_word": False, "lstrip": False, "rstrip": False,
                                                 "normalized": False, "special": True} for t, i in [("<unk>", 0), ("<s>", 1), ("</s>", 2)]],
             "normalizer": {"type": "Sequence", "normalizers": [{"type": "Prepend", "prepend": "\u2581"},
                                                                 {"type": "Replace", "pattern": {"String": " "}, "content": "\u2581"}]},
             "pre_tokenizer": None,
             "post_processor": {"type": "TemplateProcessing", "single": [{"SpecialToken": {"id": "<s>", "type_id": 0}},
                                                                          {"Sequence": {"id": "A", "type_id": 0}}],
                                "pair": [], "special_tokens": {"<s>": {"id": "<s>", "ids": [1], "tokens": ["<s>"]}}},
             "decoder": {"type": "Sequence", "decoders": [{"type": "Replace", "pattern": {"String": "\u2581"}, "content": " "},
                                                          {"type": "ByteFallback"}, {"type": "Fuse"}, {"type": "Strip", "content": " ", "start": 1, "stop": 0}]},
             "model": {"type": "BPE", "dropout": None, "unk_token": "<unk>", "continuing_subword_prefix": None,
                       "end_of_word_suffix": None, "fuse_unk": True, "byte_fallback": True, "vocab": vocab, "merges": []}}
with open(os.path.join(a.out, "tokenizer.json"), "w") as f:
    json.dump(tokenizer, f)
print(f"{a.out}: {off / 1e9:.2f} GB of {a.dtype} weights, {len(shapes)} tensors")
