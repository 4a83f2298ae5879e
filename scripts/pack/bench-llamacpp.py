#!/usr/bin/env python3
"""llama.cpp's side of the issue-7 comparison, measured on this machine in the same run as tllm's: the synthetic
model exported to GGUF (tllm-convert) and quantized by llama.cpp itself to TQ2_0 / TQ1_0 (all tensors: --pure;
and llama.cpp's default mix, which keeps the embedding in Q4_K and the head in Q6_K), then llama-bench's pp/tg on
$THREADS threads through the llama-cpp-python package (optional: `pip install llama-cpp-python`; the script says
so and exits 0 when it is missing). Prints one line per model in tllm-pack --bench-models' format.
usage: bench-llamacpp.py DIR/float.gguf THREADS PROMPT GEN REPS [NO_MMAP (1: read the models into memory)]"""
import ctypes, os, statistics, sys, time

try:
    import llama_cpp
except ImportError:
    print("bench-llamacpp: llama-cpp-python is not installed; skipping llama.cpp's figures", file=sys.stderr)
    sys.exit(0)

src, threads, npp, ntg, reps = sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), int(sys.argv[4]), int(sys.argv[5])
use_mmap = len(sys.argv) < 7 or sys.argv[6] != "1"
d = os.path.dirname(src)
models = []
for name, ftype, pure in [("TQ2_0 all ternary", llama_cpp.LLAMA_FTYPE_MOSTLY_TQ2_0, True),
                          ("TQ2_0 default mix", llama_cpp.LLAMA_FTYPE_MOSTLY_TQ2_0, False),
                          ("TQ1_0 all ternary", llama_cpp.LLAMA_FTYPE_MOSTLY_TQ1_0, True),
                          ("F16", llama_cpp.LLAMA_FTYPE_MOSTLY_F16, True)]:
    out = os.path.join(d, name.split()[0].lower() + ("-pure" if pure else "-mix") + ".gguf")
    if not os.path.exists(out):
        p = llama_cpp.llama_model_quantize_default_params()
        p.ftype, p.nthread, p.pure = ftype, threads, pure
        if llama_cpp.llama_model_quantize(src.encode(), (out + ".tmp").encode(), ctypes.byref(p)) != 0:
            sys.exit(f"bench-llamacpp: quantizing {src} to {name} failed")
        os.rename(out + ".tmp", out)
    models.append((name, out))

import random
rng = random.Random(1)
for name, path in models:
    llm = llama_cpp.Llama(model_path=path, n_ctx=npp + ntg + 8, n_batch=npp, n_ubatch=npp, n_threads=threads,
                          n_threads_batch=threads, use_mmap=use_mmap, verbose=False)
    pp, tg = [], []
    for _ in range(reps):
        toks = [rng.randrange(3, 32000) for _ in range(npp)]
        llm.reset()
        t0 = time.perf_counter(); llm.eval(toks); pp.append(npp / (time.perf_counter() - t0))
        llm.reset()
        llm.eval([1])
        t0 = time.perf_counter()
        for _ in range(ntg):
            llm.eval([rng.randrange(3, 32000)])
        tg.append(ntg / (time.perf_counter() - t0))
    sd = lambda v: statistics.stdev(v) if len(v) > 1 else 0.0
    print(f"llama.cpp {name:18s} {os.path.getsize(path) / 1e6:7.1f} MB file  pp{npp} {statistics.median(pp):7.1f} ± {sd(pp):5.1f} t/s"
          f"  tg{ntg} {statistics.median(tg):7.1f} ± {sd(tg):5.1f} t/s", flush=True)
    del llm
