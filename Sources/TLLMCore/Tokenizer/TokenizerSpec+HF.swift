// The tokenizer of a Hugging Face `tokenizer.json` (tokenizers library format) and its `tokenizer_config.json`:
// BPE model (vocab, merges by rank, byte_fallback, ignore_merges, unk), added tokens, normalizers (NFC, Prepend,
// Replace), pre-tokenizers (ByteLevel, Split with the GPT-2 / LLaMA-3 / Qwen2 regexes, Metaspace, Digits) and
// the post-processor's BOS/EOS. Everything else is refused with its name, so a wrong tokenization never slips by.

extension TokenizerSpec {
    public init(hfTokenizerJSON j: JSON, config: JSON?, file: String) throws {
        func fail(_ m: String) -> TLLMError { TLLMError(file, "tokenizer.json: \(m)") }
        guard let model = j["model"], model.object != nil else { throw fail("no \"model\" object") }
        let type = model["type"]?.string ?? (model["merges"] != nil ? "BPE" : "?")
        guard type == "BPE" else { throw fail("unsupported tokenizer model \"\(type)\" (only BPE is supported)") }
        for k in ["continuing_subword_prefix", "end_of_word_suffix"] {
            if let s = model[k]?.string, !s.isEmpty { throw fail("BPE \(k) \"\(s)\" is not supported") }
        }
        if let d = model["dropout"]?.double, d > 0 { throw fail("BPE dropout \(d) is not supported") }

        // Vocabulary: model vocab plus added tokens, by id; holes become unused "[PADn]" tokens.
        guard let vocab = model["vocab"]?.object else { throw fail("BPE model without a \"vocab\" object") }
        var byId: [Int: String] = [:]
        for (t, v) in vocab {
            guard let id = v.int, id >= 0, id < Int(Int32.max) else { throw fail("vocab entry \"\(t)\" has a bad id") }
            byId[id] = t
        }
        var added: [(id: Int, content: String, special: Bool)] = []
        for a in j["added_tokens"]?.array ?? [] {
            guard let id = a["id"]?.int, id >= 0, id < Int(Int32.max), let c = a["content"]?.string else {
                throw fail("added token without an id and content: \(a.text(pretty: false).prefix(80))")
            }
            added.append((id, c, a["special"]?.bool ?? false))
            byId[id] = c
        }
        let n = (byId.keys.max() ?? -1) + 1
        guard n > 0 else { throw fail("empty vocabulary") }
        let tokens = (0..<n).map { byId[$0] ?? "[PAD\($0)]" }
        var types = (0..<n).map { byId[$0] == nil ? TokenType.unused : .normal }
        let byteFallback = model["byte_fallback"]?.bool ?? false
        if byteFallback {
            for i in 0..<n where types[i] == .normal && TokenPieces.byteTokenValue(tokens[i]) != nil { types[i] = .byte }
        }
        for a in added { types[a.id] = a.special ? .control : .userDefined }
        var textToId: [String: Int32] = [:]
        for (i, t) in tokens.enumerated() where types[i] != .unused { textToId[t] = Int32(i) }
        var unk: Int32? = nil
        if let u = model["unk_token"]?.string {
            guard let id = textToId[u] else { throw fail("unk_token \"\(u)\" is not in the vocabulary") }
            unk = id
            types[Int(id)] = .unknown
        }

        // Merges: "left right" strings or [left, right] pairs, rank order.
        let merges = try (model["merges"]?.array ?? []).map { m -> Merge in
            if let a = m.array, a.count == 2, let l = a[0].string, let r = a[1].string { return Merge(l, r) }
            if let s = m.string {
                let parts = s.split(separator: " ", omittingEmptySubsequences: false)
                if parts.count == 2 { return Merge(String(parts[0]), String(parts[1])) }
            }
            throw fail("bad merge \(m.text(pretty: false).prefix(60))")
        }
        for m in merges where textToId[m.left] == nil || textToId[m.right] == nil || textToId[m.left + m.right] == nil {
            throw fail("merge \"\(m.left) \(m.right)\" uses a token that is not in the vocabulary")
        }

        let norm = try HFPipeline.normalizers(j["normalizer"] ?? .null, fail)
        let pre = try HFPipeline.preTokenizers(j["pre_tokenizer"] ?? .null, fail)
        let byteLevel = pre.contains { if case .byteLevel = $0 { return true }; return false }
        if !byteLevel, j["decoder"]?["type"]?.string == "ByteLevel" {
            throw fail("a ByteLevel decoder without a ByteLevel pre-tokenizer is not supported")
        }
        let spacePrefix = norm.contains(.prepend("▁")) || pre.contains {
            if case let .metaspace(s, _) = $0 { return s != .never }
            return false
        }
        var post = try HFPipeline.postProcessor(j["post_processor"] ?? .null, textToId, fail)

        // tokenizer_config.json: special token names and add_bos_token / add_eos_token.
        func configToken(_ k: String) throws -> Int32? {
            guard let v = config?[k], !v.isNull else { return nil }
            guard let s = v.string ?? v["content"]?.string else { throw fail("tokenizer_config \(k) is neither a string nor {content}") }
            guard let id = textToId[s] else { throw fail("tokenizer_config \(k) \"\(s)\" is not in the vocabulary") }
            return id
        }
        if post.bos == nil { post.bos = try configToken("bos_token") }
        if post.eos == nil { post.eos = try configToken("eos_token") }
        if let b = config?["add_bos_token"]?.bool { post.addBOS = b && post.bos != nil }
        if let e = config?["add_eos_token"]?.bool { post.addEOS = e && post.eos != nil }

        self.init(model: .bpe, tokens: tokens, types: types, merges: merges, byteLevel: byteLevel,
                  byteFallback: byteFallback, ignoreMerges: model["ignore_merges"]?.bool ?? false,
                  fuseUnknown: model["fuse_unk"]?.bool ?? false, normalizers: norm, preTokenizers: pre,
                  addSpacePrefix: spacePrefix, addBOS: post.addBOS, addEOS: post.addEOS, bosId: post.bos, eosId: post.eos,
                  unkId: unk, padId: try configToken("pad_token"), origin: "hf tokenizer.json")
        try validate(file: file)
    }
}

/// Readers of the tokenizer.json pipeline parts.
enum HFPipeline {
    typealias Fail = (String) -> TLLMError

    static func normalizers(_ j: JSON, _ fail: Fail) throws -> [TokenizerSpec.Normalizer] {
        if j.isNull { return [] }
        switch j["type"]?.string ?? "?" {
        case "Sequence": return try (j["normalizers"]?.array ?? []).flatMap { try normalizers($0, fail) }
        case "NFC": return [.nfc]
        case "Prepend":
            guard let p = j["prepend"]?.string else { throw fail("Prepend normalizer without \"prepend\"") }
            return [.prepend(p)]
        case "Replace":
            guard let c = j["content"]?.string else { throw fail("Replace normalizer without \"content\"") }
            guard let s = j["pattern"]?["String"]?.string else {
                throw fail("Replace normalizer with a regex pattern is not supported (only {\"String\": …})")
            }
            return [.replace(from: s, to: c)]
        case let t: throw fail("unsupported normalizer \"\(t)\" (supported: NFC, Prepend, Replace, Sequence)")
        }
    }

    /// The regexes of the Split pre-tokenizers this build implements, as tokenizer.json spells them.
    static let knownRegexes: [String: TokenizerSpec.SplitPattern] = {
        let contractionsI = "(?i:'s|'t|'re|'ve|'m|'ll|'d)"
        let contractionsC = "(?:'[sS]|'[tT]|'[rR][eE]|'[vV][eE]|'[mM]|'[lL][lL]|'[dD])"
        let tail = "| ?[^\\s\\p{L}\\p{N}]+[\\r\\n]*|\\s*[\\r\\n]+|\\s+(?!\\S)|\\s+"
        var m: [String: TokenizerSpec.SplitPattern] = [:]
        for c in [contractionsI, contractionsC] {
            m[c + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}{1,3}" + tail] = .llama3
            m[c + "|[^\\r\\n\\p{L}\\p{N}]?\\p{L}+|\\p{N}" + tail] = .qwen2
        }
        let gpt2 = "'s|'t|'re|'ve|'m|'ll|'d| ?\\p{L}+| ?\\p{N}+| ?[^\\s\\p{L}\\p{N}]+|\\s+(?!\\S)"
        m[gpt2] = .gpt2
        m[gpt2 + "|\\s+"] = .gpt2
        m["[\\p{P}\\$\\+<=>\\^~\\|]+"] = .punctuation
        m["\\p{N}+"] = .numbers
        m["\\p{N}"] = .numberChar
        m["[0-9][0-9][0-9]"] = .asciiDigitTriples
        return m
    }()

    static func preTokenizers(_ j: JSON, _ fail: Fail) throws -> [TokenizerSpec.PreTokenizer] {
        if j.isNull { return [] }
        switch j["type"]?.string ?? "?" {
        case "Sequence": return try (j["pretokenizers"]?.array ?? []).flatMap { try preTokenizers($0, fail) }
        case "ByteLevel":
            return [.byteLevel(addPrefixSpace: j["add_prefix_space"]?.bool ?? true, useRegex: j["use_regex"]?.bool ?? true)]
        case "Split":
            let behavior = try splitBehavior(j["behavior"]?.string ?? "?", fail)
            let invert = j["invert"]?.bool ?? false
            if let s = j["pattern"]?["String"]?.string { return [.splitLiteral(s, behavior, invert: invert)] }
            guard let r = j["pattern"]?["Regex"]?.string else { throw fail("Split pre-tokenizer without a pattern") }
            guard let p = knownRegexes[r] else { throw fail("unsupported Split regex \(r)") }
            return [.split(p, behavior, invert: invert)]
        case "Metaspace":
            let rep = j["replacement"]?.string ?? j["str_rep"]?.string ?? "▁"
            guard rep == "▁" else { throw fail("Metaspace replacement \"\(rep)\" is not supported (only \"▁\")") }
            let scheme: TokenizerSpec.PrependScheme
            if let s = j["prepend_scheme"]?.string {
                guard let p = TokenizerSpec.PrependScheme(rawValue: s) else { throw fail("unknown Metaspace prepend_scheme \"\(s)\"") }
                scheme = p
            } else {
                scheme = (j["add_prefix_space"]?.bool ?? true) ? .always : .never
            }
            return [.metaspace(scheme, split: j["split"]?.bool ?? true)]
        case "Digits":
            return [.split(.numberChar, (j["individual_digits"]?.bool ?? false) ? .isolated : .contiguous, invert: false)]
        case let t: throw fail("unsupported pre-tokenizer \"\(t)\" (supported: ByteLevel, Split, Metaspace, Digits, Sequence)")
        }
    }

    static func splitBehavior(_ s: String, _ fail: Fail) throws -> TokenizerSpec.SplitBehavior {
        switch s {
        case "Isolated": return .isolated
        case "Removed": return .removed
        case "MergedWithPrevious": return .mergedWithPrevious
        case "MergedWithNext": return .mergedWithNext
        case "Contiguous": return .contiguous
        default: throw fail("unknown Split behavior \"\(s)\"")
        }
    }

    struct Post {
        var addBOS = false, addEOS = false
        var bos: Int32? = nil, eos: Int32? = nil
    }

    /// BOS/EOS that the post-processor puts around a single sequence.
    static func postProcessor(_ j: JSON, _ ids: [String: Int32], _ fail: Fail) throws -> Post {
        var p = Post()
        if j.isNull { return p }
        switch j["type"]?.string ?? "?" {
        case "ByteLevel": return p
        case "Sequence":
            for q in j["processors"]?.array ?? [] {
                let r = try postProcessor(q, ids, fail)
                if r.addBOS { (p.addBOS, p.bos) = (true, r.bos) }
                if r.addEOS { (p.addEOS, p.eos) = (true, r.eos) }
            }
            return p
        case "TemplateProcessing":
            guard let single = j["single"]?.array else { throw fail("TemplateProcessing without \"single\"") }
            guard let a = single.firstIndex(where: { $0["Sequence"] != nil }) else { throw fail("TemplateProcessing \"single\" has no sequence") }
            func special(_ item: JSON) throws -> Int32 {
                guard let name = item["SpecialToken"]?["id"]?.string else { throw fail("TemplateProcessing item \(item.text(pretty: false)) is not supported") }
                if let list = j["special_tokens"]?[name]?["ids"]?.array {
                    guard list.count == 1, let id = list[0].int, let i32 = Int32(exactly: id) else {
                        throw fail("TemplateProcessing special token \"\(name)\" with \(list.count) ids is not supported")
                    }
                    return i32
                }
                guard let id = ids[name] else { throw fail("TemplateProcessing special token \"\(name)\" is not in the vocabulary") }
                return id
            }
            guard a <= 1, single.count - a <= 2 else { throw fail("TemplateProcessing with more than one token on a side is not supported") }
            if a == 1 { (p.addBOS, p.bos) = (true, try special(single[0])) }
            if a + 1 < single.count { (p.addEOS, p.eos) = (true, try special(single[a + 1])) }
            return p
        case "BertProcessing", "RobertaProcessing":
            guard let cls = j["cls"]?.array?.last?.int, let sep = j["sep"]?.array?.last?.int else { throw fail("\(j["type"]!.string!) without cls/sep") }
            return Post(addBOS: true, addEOS: true, bos: Int32(cls), eos: Int32(sep))
        case let t: throw fail("unsupported post-processor \"\(t)\"")
        }
    }
}
