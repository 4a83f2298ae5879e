#!/usr/bin/env python3
"""Byte-level BPE test fixtures for tllm's tokenizer tests (there is no byte-level model in ../shared).

Trains one small byte-level BPE vocabulary with the Hugging Face `tokenizers` package and writes it in three
pipelines, each as HF `tokenizer.json` and as GGUF tokenizer metadata (a tensor-less .gguf written by the
`gguf` package, the way llama.cpp's convert_hf_to_gguf.py writes a "gpt2" vocabulary):

  llama3  Split(LLaMA-3 regex) + ByteLevel, ignore_merges, BOS by TemplateProcessing  (gguf pre "llama-bpe")
  gpt2    ByteLevel(use_regex) (the GPT-2 regex), no BOS                              (gguf pre "gpt-2")
  qwen2   NFC + Split(Qwen2 regex) + ByteLevel, no BOS                               (gguf pre "qwen2")

and expected.json: for a varied text set (ASCII, accents, CJK, emoji, long digit runs, contractions, runs of
spaces/tabs/newlines, mixed scripts, odd-but-valid UTF-8, seeded random mixtures) the ids `tokenizers` gives
for each pipeline and the pieces (lengths in code points) each pre-tokenizer regex cuts the text into. Regenerate, never hand-edit:

    pip install tokenizers gguf
    python3 scripts/tokenizer/make_bpe_fixture.py [--shared ../shared] [--out Tests/TLLMCoreTests/Fixtures/tokenizer]

The training text is the start of ../shared/data/tinystories/calib.txt plus the multilingual lines below.
"""

import argparse
import json
import os
import random

import gguf
import tokenizers
from tokenizers import AddedToken, Regex, Tokenizer, decoders, models, normalizers, pre_tokenizers, processors, trainers

LLAMA3 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
QWEN2 = r"(?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+"
GPT2 = r"'s|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+"

SPECIALS = ["<|begin_of_text|>", "<|end_of_text|>", "<|eot_id|>", "<|im_start|>", "<|im_end|>"]
USER_DEFINED = "<tool>"  # a non-special added token

MULTILINGUAL = [
    "Le café est très bon, n'est-ce pas? Voilà une crème brûlée à la française.",
    "Über den Wolken muss die Freiheit wohl grenzenlos sein. Straße, Größe, Ärger.",
    "El niño comió piña y jamón en la montaña. ¿Qué tal? ¡Olé!",
    "東京は日本の首都です。今日はいい天気ですね。猫が好きです。",
    "我们今天去公园散步，天气很好。中文分词测试，你好世界！",
    "한국어 문장입니다. 안녕하세요, 만나서 반갑습니다.",
    "Привет, мир! Как дела? Это тестовая строка на русском языке.",
    "Γειά σου κόσμε! Η γλώσσα μας είναι ελληνική.",
    "مرحبا بالعالم، هذا نص تجريبي باللغة العربية ١٢٣٤٥٦",
    "नमस्ते दुनिया, यह एक परीक्षण वाक्य है। १२३",
    "I love 🦙 llamas and 🤖 robots! 🎉🎉 Party time 👍🏽 ❤️",
    "Prices: $1,234.56 or €99.99; 3.14159265358979 is pi; 2024-11-30 12:34:56.",
    "don't won't can't I'm you're we've they'll she'd it's I'LL YOU'RE WE'VE",
    "def main():\n    print('hello')\n\treturn 0  # done\n",
]

TEXTS = [
    "Hello world! This is a test.",
    "The quick brown fox jumps over the lazy dog.",
    "Once upon a time, there was a little girl named Lily.",
    "don't stop, I'LL go, we've, they're, she'd, it's, I'M, 'S 'T 'Re",
    "naïve café résumé — Ångström, Ærø, Øresund, Łódź, İstanbul, straße",
    "東京は日本の首都です。中文测试，你好世界！한국어 텍스트도 있어요.",
    "I love 🦙 and 🤖! 👨‍👩‍👧‍👦 family, flags 🇫🇷🇯🇵, skin 👍🏽, keycap 1️⃣",
    "1234567890 3.14159 1,000,000 00042 ١٢٣٤٥ １２３ ½ ² Ⅻ ①②③",
    "9" * 100,
    "12345678901234567890123456789012345678901234567890 and 7",
    "a  b   c    d     e",
    "   leading and trailing   ",
    "tabs\tand\t\tmore\ttabs\t",
    "line1\nline2\r\nline3\n\n\nend\n",
    "\n\n",
    " ",
    "",
    "mixed \t\n \u00a0nbsp\u3000ideographic\u2009thin\u2003em \u0085nel \u2028ls",
    "Привет мир, γειά σου κόσμε, שלום עולם, مرحبا بالعالم, नमस्ते दुनिया, สวัสดีชาวโลก",
    "def f(x):\n    return x**2  # comment\n\tif (a<=b && c!=d) { y++; }\n",
    "Wait... what?!?! (really) [yes] {no} <tag> $100 + 5% = ~|^ «quotes» “curly” 'single'",
    "a" * 120,
    "the" * 40,
    "supercalifragilisticexpialidocious_" * 4,
    "\ufeffBOM at start, \u200bzero\u200cwidth\u200djoiners, \ufffd replacement, \u00ad soft hyphen",
    "\ue000 private use, \U000f0000 plane 15, \U0010ffff last, \ufffe nonchar, \x7f del, \x80\x9f C1",
    "Z̸̢̧a̵l̶g̷o̸ text with combining marks, \u0301leading mark, e\u0301 decomposed",
    "<|begin_of_text|>Hello<|eot_id|> world<|end_of_text|>",
    "<|im_start|>user\nHi there<|im_end|>\n<|im_start|>assistant\n",
    "use the <tool> now: <tool><tool> and < tool>",
    "The end.<|end_of_text|>",
]

# Code point pools for the seeded random texts: every category the regexes distinguish.
POOLS = {
    "ascii_letters": "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ",
    "latin1": "àáâãäåæçèéêëìíîïñòóôõöøùúûüýÿÀÉÎÕÜßÆÐÞ",
    "greek_cyrillic": "αβγδεζηθλμπσςωΑΒΓΔΩабвгдежзийклмнопрстуфхцчшщъыьэюяЖЩ",
    "cjk": "日本語中文字漢東京猫犬山川天気好你我他的是",
    "hangul_kana": "한국어텍스트안녕ひらがなカタカナーゝ",
    "arabic_hebrew": "مرحبابالعالمשלוםעולם",
    "devanagari": "नमस्तेदुनियाकखगघ\u093f\u0940\u094d\u0902",
    "digits": "0123456789٠١٢٣٤٥٦٧٨٩०१२३४५６７８９",
    "other_numbers": "½¼²³①②ⅫⅣ〇",
    "punct": ".,;:!?'\"()[]{}-_/\\@#%&*«»“”‘’—–…。、！？・",
    "symbols": "$+<=>^`|~€£¥©®°±×÷∑∞≤≥→★♥☃",
    "emoji": ["🦙", "🤖", "🎉", "👍🏽", "❤️", "👨‍👩‍👧", "🇫🇷", "😀", "🚀", "1️⃣"],
    "marks": "\u0301\u0308\u0327\u200d\u200c\ufe0f",
    "space": [" ", " ", " ", "  ", "\t", "\n", "\r\n", "\n\n", "\u00a0", "\u3000", "\u2003", " \n", "\t\t"],
    "contractions": ["'s", "'t", "'re", "'ve", "'m", "'ll", "'d", "'S", "'LL", "'Re", "'x", "''"],
}


def random_texts(n, seed=1234):
    rnd = random.Random(seed)
    names = sorted(POOLS)
    out = []
    for _ in range(n):
        parts = []
        for _ in range(rnd.randint(1, 30)):
            pool = POOLS[rnd.choice(names)]
            k = rnd.randint(1, 6)
            parts.append("".join(rnd.choice(pool) for _ in range(k)))
        out.append("".join(parts))
    return out


def train(corpus):
    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.Sequence(
        [pre_tokenizers.Split(Regex(LLAMA3), behavior="isolated"), pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=False)])
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(vocab_size=640, min_frequency=2, special_tokens=SPECIALS,
                                  initial_alphabet=pre_tokenizers.ByteLevel.alphabet(), show_progress=False)
    tok.train_from_iterator(corpus, trainer)
    tok.add_tokens([AddedToken(USER_DEFINED, special=False, normalized=False)])
    return tok


def pipeline(base, style):
    """The trained vocabulary and merges in one of the three pipelines."""
    j = json.loads(base.to_str())
    bl = {"type": "ByteLevel", "add_prefix_space": False, "trim_offsets": True, "use_regex": False}
    split = lambda rx: {"type": "Split", "pattern": {"Regex": rx}, "behavior": "Isolated", "invert": False}
    j["normalizer"] = None
    j["model"]["ignore_merges"] = style == "llama3"
    if style == "llama3":
        j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [split(LLAMA3), bl]}
    elif style == "gpt2":
        j["pre_tokenizer"] = dict(bl, use_regex=True)
    else:
        j["normalizer"] = {"type": "NFC"}
        j["pre_tokenizer"] = {"type": "Sequence", "pretokenizers": [split(QWEN2), bl]}
    tok = Tokenizer.from_str(json.dumps(j))
    if style == "llama3":
        bos = tok.token_to_id("<|begin_of_text|>")
        tok.post_processor = processors.TemplateProcessing(single="<|begin_of_text|> $A", special_tokens=[("<|begin_of_text|>", bos)])
    else:
        tok.post_processor = processors.ByteLevel(trim_offsets=False)
    return tok


def write_gguf(tok, style, path):
    j = json.loads(tok.to_str())
    vocab = j["model"]["vocab"]
    added = {a["id"]: a for a in j["added_tokens"]}
    n = max(list(vocab.values()) + list(added)) + 1
    tokens = [None] * n
    for t, i in vocab.items():
        tokens[i] = t
    types = [gguf.TokenType.NORMAL] * n
    for i, a in added.items():
        tokens[i] = a["content"]
        types[i] = gguf.TokenType.CONTROL if a["special"] else gguf.TokenType.USER_DEFINED
    assert all(t is not None for t in tokens)
    merges = [m if isinstance(m, str) else " ".join(m) for m in j["model"]["merges"]]
    w = gguf.GGUFWriter(path, arch="llama")
    w.add_tokenizer_model("gpt2")
    w.add_tokenizer_pre({"llama3": "llama-bpe", "gpt2": "gpt-2", "qwen2": "qwen2"}[style])
    w.add_token_list(tokens)
    w.add_token_types([int(t) for t in types])
    w.add_token_merges(merges)
    if style == "llama3":
        w.add_bos_token_id(tok.token_to_id("<|begin_of_text|>"))
        w.add_eos_token_id(tok.token_to_id("<|end_of_text|>"))
        w.add_add_bos_token(True)
    else:
        w.add_eos_token_id(tok.token_to_id("<|end_of_text|>"))
        w.add_add_bos_token(False)
    w.write_header_to_file()
    w.write_kv_data_to_file()
    w.write_tensors_to_file()
    w.close()


def main():
    here = os.path.dirname(os.path.abspath(__file__))
    root = os.path.dirname(os.path.dirname(here))
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--shared", default=os.path.join(os.path.dirname(root), "shared"))
    ap.add_argument("--out", default=os.path.join(root, "Tests/TLLMCoreTests/Fixtures/tokenizer"))
    a = ap.parse_args()
    os.makedirs(a.out, exist_ok=True)

    with open(os.path.join(a.shared, "data/tinystories/calib.txt"), encoding="utf-8") as f:
        stories = f.read(120_000).split("\n")
    base = train(stories + MULTILINGUAL * 20)

    texts = TEXTS + random_texts(24)
    expected = {"tokenizers_version": tokenizers.__version__, "texts": texts, "ids": {}, "pieces": {}}
    for style in ["llama3", "gpt2", "qwen2"]:
        tok = pipeline(base, style)
        tok.save(os.path.join(a.out, f"{style}.tokenizer.json"), pretty=False)
        write_gguf(tok, style, os.path.join(a.out, f"{style}.gguf"))
        expected["ids"][style] = [tok.encode(t).ids for t in texts]
    for name, rx in [("llama3", LLAMA3), ("qwen2", QWEN2), ("gpt2", GPT2)]:
        split = pre_tokenizers.Split(Regex(rx), behavior="isolated")
        # Each piece as its length in code points (the pieces cover the text in order).
        pieces = [[p for p, _ in split.pre_tokenize_str(t)] for t in texts]
        assert all("".join(p) == t for p, t in zip(pieces, texts))
        expected["pieces"][name] = [[len(p) for p in ps] for ps in pieces]
    with open(os.path.join(a.out, "expected.json"), "w", encoding="utf-8") as f:
        json.dump(expected, f, ensure_ascii=False, separators=(",", ":"))
        f.write("\n")
    for n in sorted(os.listdir(a.out)):
        print(f"{n}: {os.path.getsize(os.path.join(a.out, n))} bytes")


if __name__ == "__main__":
    main()
