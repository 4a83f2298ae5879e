#!/usr/bin/env python3
"""Where a distilled student loses to its teacher, token by token (numpy, float64; forward_ref.py's forward pass).

  gap.py TEACHER_DIR STUDENT_DIR IDS [IDS...] [--ctx 256]

TEACHER_DIR / STUDENT_DIR are Hugging Face directories (tllm-convert model.tllm -o dir/ writes one from any float
or ternary container: a ternary one as its dequantized weights α·T + γ). IDS is a token-id file of a text
(tllm-gen -m model.tllm --tokenize -f text.txt > text.ids). Each file is scored as tllm-gen --perplexity does
(chunks of --ctx tokens, BOS first, the second half scored), and for each the script prints, per scored token:
both models' mean negative log-likelihood and perplexity, their mean entropies, KL(teacher ‖ student), the
perplexity of the student's logits scaled by a few factors (is it under- or over-confident?), and how much of the
excess NLL falls on byte-fallback tokens. Run it on text the student was trained on and on held-out text: a KL
that is already high on the training text says the student cannot represent the teacher (capacity); a KL that
is low there and high on held-out text says it memorized (data).
"""
import argparse, json, math, os, sys
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import forward_ref as ref  # noqa: E402


def load(d):
    return ref.read_safetensors(os.path.join(d, "model.safetensors")), json.load(open(os.path.join(d, "config.json")))


def scored_logits(model, toks, ctx, bos):
    W, cfg = model
    zs, ys = [], []
    for i in range(len(toks) // ctx):
        chunk = list(toks[i * ctx:(i + 1) * ctx])
        chunk[0] = bos
        z = ref.forward(W, cfg, chunk)
        zs.append(z[ctx // 2:ctx - 1])
        ys += chunk[ctx // 2 + 1:ctx]
    return np.concatenate(zs), np.array(ys)


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("teacher"), ap.add_argument("student"), ap.add_argument("ids", nargs="+")
    ap.add_argument("--ctx", type=int, default=256)
    a = ap.parse_args()
    teacher, student = load(a.teacher), load(a.student)
    bos = teacher[1].get("bos_token_id", 1)
    vocab = json.load(open(os.path.join(a.teacher, "tokenizer.json")))["model"]["vocab"]
    is_byte = np.zeros(max(vocab.values()) + 1, dtype=bool)
    for piece, i in vocab.items():
        is_byte[i] = piece.startswith("<0x")
    for path in a.ids:
        toks = [int(t) for t in open(path).read().split()]
        if len(toks) < a.ctx:
            sys.exit(f"gap.py: error: {path}: {len(toks)} tokens, fewer than one chunk of {a.ctx}")
        zt, y = scored_logits(teacher, toks, a.ctx, bos)
        zs, _ = scored_logits(student, toks, a.ctx, bos)
        lt, ls = log_softmax(zt), log_softmax(zs)
        r = np.arange(len(y))
        nt, ns = -lt[r, y], -ls[r, y]
        pt, ps = np.exp(lt), np.exp(ls)
        excess = ns - nt
        print(f"{path}: {len(y)} tokens scored")
        print(f"  teacher: nll {nt.mean():.4f} (ppl {math.exp(nt.mean()):.4f}), entropy {-(pt * lt).sum(1).mean():.4f}")
        print(f"  student: nll {ns.mean():.4f} (ppl {math.exp(ns.mean()):.4f}), entropy {-(ps * ls).sum(1).mean():.4f}")
        print(f"  student / teacher perplexity {math.exp(excess.mean()):.4f}; KL(teacher || student) {(pt * (lt - ls)).sum(1).mean():.4f}")
        print("  student logits scaled by " + ", ".join(
            f"{s}: ppl {math.exp(-log_softmax(zs * s)[r, y].mean()):.4f}" for s in (0.8, 0.9, 1.0, 1.1, 1.25)))
        b = is_byte[y]
        print(f"  byte-fallback tokens: {100 * b.mean():.1f}% of the scored, {100 * excess[b].sum() / excess.sum():.1f}% of the excess nll")


if __name__ == "__main__":
    main()
