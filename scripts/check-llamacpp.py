#!/usr/bin/env python3
"""Manual interop check (not part of `make test`): load GGUF files written by `tllm-convert -o X.gguf` in
llama.cpp (through the llama-cpp-python package: `pip install llama-cpp-python`), run stories260K's greedy
continuation of "Once upon a time" and compare with the golden ids recorded from llama.cpp itself, and compare
the logits of the first prompt positions with golden/logits_first8.npy.
Usage: check-llamacpp.py SHARED_STORIES_DIR file.gguf..."""
import json, sys
import numpy as np
from llama_cpp import Llama

stories, files = sys.argv[1], sys.argv[2:]
golden = json.load(open(f"{stories}/golden/greedy_once_upon_a_time.json"))
want = golden["greedy"]["generated_ids"]
ref = np.load(f"{stories}/golden/logits_first8.npy")
prompt_ids = golden["prompt_ids"]
ok = True
for f in files:
    llm = Llama(model_path=f, n_ctx=512, logits_all=True, verbose=False, seed=1)
    toks = llm.tokenize(b"Once upon a time", add_bos=True)
    got = []
    for t in llm.generate(toks, temp=0.0, top_k=1, repeat_penalty=1.0):
        got.append(t)
        if len(got) == len(want):
            break
    llm.reset()
    llm.eval(golden["logits_first8"]["token_ids"])
    logits = np.array(llm.scores[:8])
    diff = float(np.abs(logits - ref).max())
    same = toks == prompt_ids and got == want
    ok &= same
    print(f"{f}: prompt ids {'match' if toks == prompt_ids else 'DIFFER'}, greedy 64 tokens "
          f"{'identical to llama.cpp golden' if got == want else 'DIFFER'}; max |logit diff| vs golden {diff:.2e}")
sys.exit(0 if ok else 1)
