#!/usr/bin/env python3
"""Where a distilled student loses to its teacher, token by token (numpy, float64; forward_ref.py's forward pass).

  gap.py TEACHER_DIR STUDENT_DIR IDS [IDS...] [--ctx 256] [--positions N]

TEACHER_DIR / STUDENT_DIR are Hugging Face directories (tllm-convert model.tllm -o dir/ writes one from any float
or ternary container: a ternary one as its dequantized weights α·T + γ). IDS is a token-id file of a text
(tllm-gen -m model.tllm --tokenize -f text.txt > text.ids). Each file is scored as tllm-gen --perplexity does
(chunks of --ctx tokens, BOS first, the second half scored), and for each the script prints, per scored token:
both models' mean negative log-likelihood and perplexity, their mean entropies, KL(teacher ‖ student), the
perplexity of the student's logits scaled by a few factors (is it under- or over-confident?), and how much of the
excess NLL falls on byte-fallback tokens. Run it on text the student was trained on and on held-out text: a KL
that is already high on the training text says the student cannot represent the teacher (capacity); a KL that
is low there and high on held-out text says it memorized (data). --positions N adds the same comparison over every
position of the chunks in N ranges (does the student lose more with a long context than with a short one?).
"""
import argparse, json, math, os, sys
import numpy as np

sys.path.insert(0, os.path.join(os.path.dirname(os.path.abspath(__file__)), "..", "reference"))
import forward_ref as ref  # noqa: E402


def load(d):
    return ref.read_safetensors(os.path.join(d, "model.safetensors")), json.load(open(os.path.join(d, "config.json")))


def chunk_logits(model, toks, ctx, bos):
    """Logits of every position of each chunk [n_chunks, ctx, V] and the chunks' next tokens [n_chunks, ctx - 1]."""
    W, cfg = model
    zs, ys = [], []
    for i in range(len(toks) // ctx):
        chunk = list(toks[i * ctx:(i + 1) * ctx])
        chunk[0] = bos
        zs.append(ref.forward(W, cfg, chunk))
        ys.append(chunk[1:])
    return np.stack(zs), np.array(ys)


def scored(z, y, ctx):
    """The rows tllm-gen --perplexity scores: predictions from positions ctx/2 … ctx − 2 of each chunk."""
    return z[:, ctx // 2:ctx - 1].reshape(-1, z.shape[2]), y[:, ctx // 2:].reshape(-1)


def log_softmax(z):
    z = z - z.max(axis=1, keepdims=True)
    return z - np.log(np.exp(z).sum(axis=1, keepdims=True))


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("teacher"), ap.add_argument("student"), ap.add_argument("ids", nargs="+")
    ap.add_argument("--ctx", type=int, default=256)
    ap.add_argument("--positions", type=int, default=0, metavar="N",
                    help="also break every prediction of the chunks down by position, in N ranges")
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
        zt_all, y_all = chunk_logits(teacher, toks, a.ctx, bos)
        zs_all, _ = chunk_logits(student, toks, a.ctx, bos)
        (zt, y), (zs, _) = scored(zt_all, y_all, a.ctx), scored(zs_all, y_all, a.ctx)
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
        if a.positions:
            by_position(zt_all, zs_all, y_all, a.positions)


def by_position(zt, zs, y, buckets):
    """Every prediction of every chunk (not only the scored half), in `buckets` ranges of the position in the chunk."""
    n, ctx = y.shape[0], y.shape[1] + 1
    print(f"  by position in the chunk (all {n * (ctx - 1)} predictions; the perplexity protocol scores {ctx // 2}…{ctx - 2}):")
    edges = [round(i * (ctx - 1) / buckets) for i in range(buckets + 1)]
    for p0, p1 in zip(edges, edges[1:]):
        lt = log_softmax(zt[:, p0:p1].reshape(-1, zt.shape[2]))
        ls = log_softmax(zs[:, p0:p1].reshape(-1, zs.shape[2]))
        yy, r = y[:, p0:p1].reshape(-1), np.arange((p1 - p0) * n)
        nt, ns = -lt[r, yy].mean(), -ls[r, yy].mean()
        kl = (np.exp(lt) * (lt - ls)).sum(1).mean()
        print(f"    {p0:4d}-{p1 - 1:<4d} teacher ppl {math.exp(nt):7.3f}  student {math.exp(ns):7.3f}  x {math.exp(ns - nt):.3f}  KL {kl:.4f}")


if __name__ == "__main__":
    main()
