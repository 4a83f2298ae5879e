#!/usr/bin/env python3
# Why per-row dlt loses to twn on stories260K (issue 5's table): splits the output error E = X(W − Ŵ)ᵀ of each
# q/k/v projection over calibration tokens into its token-consistent part (the mean over tokens, which attention's
# averaging over positions passes through) and the rest (which averaging shrinks). numpy only; reads the tars.
# usage: consistent-error.py CALIB_WITH_HIDDEN.tllm A.tllm B.tllm   (calib from: tllm-calib … --layers all)
import json, sys, tarfile
import numpy as np

def members(path):
    t = tarfile.open(path)
    man = json.load(t.extractfile("manifest.json"))
    info = {x["name"]: x for x in man["tensors"]}
    def get(name):
        e = info[name]
        dt = {"f32": np.float32, "f16": np.float16, "i8": np.int8, "i32": np.int32, "u8": np.uint8}[e["dtype"]]
        return np.frombuffer(t.extractfile(e["member"]).read(), dtype=dt).reshape(e["shape"]).astype(
            np.float32 if e["dtype"] in ("f16", "f32") else dt)
    return man, get

def dequantize(get, n):
    c, a, g = get(n + ".codes").astype(np.float32), get(n + ".alpha"), get(n + ".gamma")
    K = c.shape[1]
    G = -(-K // a.shape[1])
    idx = np.arange(K) // G
    return c * a[:, idx] + g[:, idx]

def main():
    calib, a_path, b_path = sys.argv[1:4]
    cman, cget = members(calib)
    cfg = cman["config"]
    C, eps = cfg["hidden_size"], cfg["rms_norm_eps"]
    tok = cget("tokens").reshape(-1)
    models = [(p, *members(p)) for p in (a_path, b_path)]
    emb = models[0][2]("model.embed_tokens.weight")
    print("layer proj    " + "  ".join(f"{p.split('/')[-1]:>28}" for p, _, _ in models))
    print("              " + "  ".join(f"{'rel.err  consistent  |Ē|/|Ȳ|':>28}" for _ in models))
    for l in range(cfg["num_layers"]):
        h = emb[tok] if l == 0 else cget(f"hidden.{l - 1}").reshape(-1, C)
        w_in = models[0][2](f"model.layers.{l}.input_layernorm.weight")
        x = h / np.sqrt((h * h).mean(-1, keepdims=True) + eps) * w_in
        for proj in ("q_proj", "k_proj", "v_proj"):
            n = f"model.layers.{l}.self_attn.{proj}.weight"
            W = models[0][2](n)
            Y = x @ W.T
            cols = []
            for _, _, get in models:
                E = x @ (W - dequantize(get, n)).T
                m = E.mean(0)
                tot = (E ** 2).sum()
                cols.append(f"{np.sqrt(tot / (Y ** 2).sum()):7.4f}  {len(E) * (m ** 2).sum() / tot:10.3f}  "
                            f"{np.linalg.norm(m) / np.linalg.norm(Y.mean(0)):7.3f}")
            print(f"{l:5d} {proj:7s} " + "  ".join(cols))

if __name__ == "__main__":
    main()
