// The tokenizer of a GGUF file from its `tokenizer.ggml.*` metadata, with llama.cpp's (llama-vocab.cpp) defaults:
// model "llama" → spm (scores, byte tokens, space prefix on by default, BOS added); model "gpt2" → byte-level
// bpe with merges and the pre-tokenizer regexes named by `tokenizer.ggml.pre`. Explicit keys (add_bos_token,
// add_eos_token, add_space_prefix, *_token_id) override the defaults. Anything else is refused by name.

extension TokenizerSpec {
    /// Pre-tokenizer names of `tokenizer.ggml.pre` that llama.cpp maps to the patterns implemented here.
    static let ggufPreTokenizers: [String: [SplitPattern]] = {
        var m: [String: [SplitPattern]] = [:]
        for n in ["llama3", "llama-v3", "llama-bpe", "falcon3", "dbrx", "smaug-bpe"] { m[n] = [.llama3] }
        for n in ["qwen2", "deepseek-r1-qwen"] { m[n] = [.qwen2] }
        for n in ["gpt-2", "phi-2", "mpt", "olmo", "jais", "roberta-bpe"] { m[n] = [.gpt2] }
        m["default"] = [.punctuation, .gpt2, .numbers, .asciiDigitTriples]
        return m
    }()

    public init(ggufMetadata: [(String, GGUFValue)], file: String) throws {
        func fail(_ m: String) -> TLLMError { TLLMError(file, "GGUF tokenizer: \(m)") }
        var kv: [String: GGUFValue] = [:]
        for (k, v) in ggufMetadata where k.hasPrefix("tokenizer.ggml.") { kv[String(k.dropFirst(15))] = v }
        guard let modelName = kv["model"]?.string else { throw fail("no tokenizer.ggml.model (the file carries no tokenizer)") }
        guard let tokenValues = kv["tokens"]?.array else { throw fail("no tokenizer.ggml.tokens array") }
        let tokens = try tokenValues.map { v -> String in
            guard let s = v.string else { throw fail("tokenizer.ggml.tokens holds a non-string") }
            return s
        }
        let n = tokens.count
        guard n > 0 else { throw fail("tokenizer.ggml.tokens is empty") }

        var types = [TokenType](repeating: .normal, count: n)
        if let tv = kv["token_type"]?.array {
            guard tv.count == n else { throw fail("tokenizer.ggml.token_type has \(tv.count) entries for \(n) tokens") }
            for (i, v) in tv.enumerated() {
                guard let t = v.int.flatMap(TokenType.init(rawValue:)) else {
                    throw fail("token \(i) has unknown type \(v) (1…6 are defined)")
                }
                types[i] = t
            }
        }
        func tokenId(_ key: String, _ dflt: Int32?) throws -> Int32? {
            guard let v = kv[key] else { return dflt }
            guard let i = v.int else { throw fail("tokenizer.ggml.\(key) is not an integer") }
            if i < 0 || i == Int(UInt32.max) { return nil }  // llama.cpp writes -1 (as u32) for "none"
            guard i < n else { throw fail("tokenizer.ggml.\(key) = \(i) is outside the vocabulary of \(n)") }
            return Int32(i)
        }
        func flag(_ key: String, _ dflt: Bool) throws -> Bool {
            guard let v = kv[key] else { return dflt }
            guard let b = v.bool else { throw fail("tokenizer.ggml.\(key) is not a bool") }
            return b
        }

        switch modelName {
        case "llama":
            var scores = [Float](repeating: 0, count: n)
            if let sv = kv["scores"]?.array {
                guard sv.count == n else { throw fail("tokenizer.ggml.scores has \(sv.count) entries for \(n) tokens") }
                for (i, v) in sv.enumerated() {
                    guard let d = v.double else { throw fail("tokenizer.ggml.scores holds a non-number") }
                    scores[i] = Float(d)
                }
            }
            let prefix = try flag("add_space_prefix", true)
            self.init(model: .spm, tokens: tokens, types: types, scores: scores,
                      normalizers: (prefix ? [.prepend("▁")] : []) + [.replace(from: " ", to: "▁")],
                      addSpacePrefix: prefix, addBOS: try flag("add_bos_token", true), addEOS: try flag("add_eos_token", false),
                      bosId: try tokenId("bos_token_id", n > 1 ? 1 : nil), eosId: try tokenId("eos_token_id", n > 2 ? 2 : nil),
                      unkId: try tokenId("unknown_token_id", 0), padId: try tokenId("padding_token_id", nil), origin: "gguf llama")

        case "gpt2":
            let pre = kv["pre"]?.string ?? "default"
            guard let patterns = TokenizerSpec.ggufPreTokenizers[pre] else {
                let known = TokenizerSpec.ggufPreTokenizers.keys.sorted().joined(separator: ", ")
                throw fail("unsupported pre-tokenizer tokenizer.ggml.pre = \"\(pre)\" (supported: \(known))")
            }
            guard let mv = kv["merges"]?.array else { throw fail("model gpt2 without tokenizer.ggml.merges") }
            let merges = try mv.map { v -> Merge in
                // llama.cpp splits at the first space after the first byte.
                guard let s = v.string, let sp = s.utf8.dropFirst().firstIndex(of: 0x20) else {
                    throw fail("bad merge \(v) (expected \"left right\")")
                }
                return Merge(String(s[..<sp]), String(s[s.utf8.index(after: sp)...]))
            }
            let isLlama3 = patterns == [.llama3] && pre != "dbrx" && pre != "smaug-bpe"
            self.init(model: .bpe, tokens: tokens, types: types, merges: merges, byteLevel: true,
                      ignoreMerges: isLlama3, preTokenizers: patterns.map { .split($0, .isolated, invert: false) },
                      addBOS: try flag("add_bos_token", isLlama3), addEOS: try flag("add_eos_token", false),
                      bosId: try tokenId("bos_token_id", nil), eosId: try tokenId("eos_token_id", nil),
                      unkId: try tokenId("unknown_token_id", nil), padId: try tokenId("padding_token_id", nil),
                      origin: "gguf gpt2 pre=\(pre)")

        default:
            throw fail("unsupported tokenizer model \"\(modelName)\" (supported: llama (SentencePiece BPE), gpt2 (byte-level BPE))")
        }
        if addBOS && bosId == nil { addBOS = false }
        if addEOS && eosId == nil { addEOS = false }
        try validate(file: file)
    }
}
