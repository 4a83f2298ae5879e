// The normalized tokenizer as JSON ("format": "tllm-tokenizer", version 1): the container's `tokenizer.json`.
// Settings first, then the big arrays (tokens, types, scores, merges) so the head of the file reads well.
// Scores are f32 values printed as the shortest decimal that reads back to the same float ("inf", "-inf",
// "nan" as strings); merges are [left, right] pairs. `init(normalizedJSON:)` rejects unknown fields' values with the field named.

extension TokenizerSpec {
    public static let formatName = "tllm-tokenizer"
    public static let formatVersion = 1

    public func toJSON() -> JSON {
        func id(_ v: Int32?) -> JSON { v.map { JSON(Int($0)) } ?? .null }
        let norm: [JSON] = normalizers.map {
            switch $0 {
            case .nfc: return .object([("type", "nfc")])
            case let .prepend(s): return .object([("type", "prepend"), ("text", .string(s))])
            case let .replace(a, b): return .object([("type", "replace"), ("from", .string(a)), ("to", .string(b))])
            }
        }
        let pre: [JSON] = preTokenizers.map {
            switch $0 {
            case let .split(p, b, inv):
                return .object([("type", "split"), ("pattern", .string(p.rawValue)), ("behavior", .string(b.rawValue)), ("invert", .bool(inv))])
            case let .splitLiteral(s, b, inv):
                return .object([("type", "split_literal"), ("text", .string(s)), ("behavior", .string(b.rawValue)), ("invert", .bool(inv))])
            case let .byteLevel(a, r):
                return .object([("type", "byte_level"), ("add_prefix_space", .bool(a)), ("use_regex", .bool(r))])
            case let .metaspace(s, split):
                return .object([("type", "metaspace"), ("prepend_scheme", .string(s.rawValue)), ("split", .bool(split))])
            }
        }
        return .object([
            ("format", .string(TokenizerSpec.formatName)),
            ("version", JSON(TokenizerSpec.formatVersion)),
            ("origin", .string(origin)),
            ("model", .string(model.rawValue)),
            ("vocab_size", JSON(tokens.count)),
            ("byte_level", .bool(byteLevel)),
            ("byte_fallback", .bool(byteFallback)),
            ("ignore_merges", .bool(ignoreMerges)),
            ("fuse_unk", .bool(fuseUnknown)),
            ("add_space_prefix", .bool(addSpacePrefix)),
            ("add_bos", .bool(addBOS)),
            ("add_eos", .bool(addEOS)),
            ("bos_id", id(bosId)),
            ("eos_id", id(eosId)),
            ("unk_id", id(unkId)),
            ("pad_id", id(padId)),
            ("normalizers", .array(norm)),
            ("pre_tokenizers", .array(pre)),
            ("tokens", .array(tokens.map { .string($0) })),
            ("types", .array(types.map { JSON($0.rawValue) })),
            ("scores", .array(scores.map { $0.isFinite ? .double(shortestDouble($0)) : .string("\($0)") })),
            ("merges", .array(merges.map { .array([.string($0.left), .string($0.right)]) })),
        ])
    }

    public init(normalizedJSON j: JSON, file: String = "") throws {
        func fail(_ m: String) -> TLLMError { TLLMError(file, "normalized tokenizer: \(m)") }
        guard j["format"]?.string == TokenizerSpec.formatName else {
            throw fail("\"format\" is not \"\(TokenizerSpec.formatName)\"")
        }
        guard let v = j["version"]?.int else { throw fail("no \"version\"") }
        guard v == TokenizerSpec.formatVersion else {
            throw fail("version \(v) is not supported (this build reads version \(TokenizerSpec.formatVersion)); use a newer tllm")
        }
        func bool(_ k: String) throws -> Bool {
            guard let b = j[k]?.bool else { throw fail("\"\(k)\" must be true or false") }
            return b
        }
        func id(_ k: String) throws -> Int32? {
            guard let x = j[k] else { throw fail("no \"\(k)\"") }
            if x.isNull { return nil }
            guard let i = x.int, let i32 = Int32(exactly: i) else { throw fail("\"\(k)\" must be an integer or null") }
            return i32
        }
        func string(_ o: JSON, _ k: String) throws -> String {
            guard let s = o[k]?.string else { throw fail("\"\(k)\" must be a string in \(o.text(pretty: false).prefix(60))") }
            return s
        }
        func named<E: RawRepresentable>(_ o: JSON, _ k: String, _: E.Type) throws -> E where E.RawValue == String {
            guard let e = E(rawValue: try string(o, k)) else { throw fail("unknown \(k) \"\(try string(o, k))\"") }
            return e
        }
        func array(_ k: String) throws -> [JSON] {
            guard let a = j[k]?.array else { throw fail("\"\(k)\" must be an array") }
            return a
        }

        let m: Model = try named(j, "model", Model.self)
        let tokens = try array("tokens").map { t -> String in
            guard let s = t.string else { throw fail("\"tokens\" must hold strings") }
            return s
        }
        let types = try array("types").map { t -> TokenType in
            guard let i = t.int, let ty = TokenType(rawValue: i) else { throw fail("bad token type \(t.text(pretty: false))") }
            return ty
        }
        let scores = try array("scores").map { s -> Float in
            if let d = s.double { return Float(d) }
            if let t = s.string, let f = Float(t), !f.isFinite { return f }  // "inf", "-inf", "nan"
            throw fail("\"scores\" must hold numbers")
        }
        let merges = try array("merges").map { p -> Merge in
            guard let a = p.array, a.count == 2, let l = a[0].string, let r = a[1].string else {
                throw fail("a merge must be a [left, right] pair of strings")
            }
            return Merge(l, r)
        }
        let norm = try array("normalizers").map { n -> Normalizer in
            switch try string(n, "type") {
            case "nfc": return .nfc
            case "prepend": return .prepend(try string(n, "text"))
            case "replace": return .replace(from: try string(n, "from"), to: try string(n, "to"))
            case let t: throw fail("unknown normalizer \"\(t)\"")
            }
        }
        let pre = try array("pre_tokenizers").map { p -> PreTokenizer in
            func flag(_ k: String) throws -> Bool {
                guard let b = p[k]?.bool else { throw fail("pre-tokenizer \"\(k)\" must be true or false") }
                return b
            }
            switch try string(p, "type") {
            case "split":
                return .split(try named(p, "pattern", SplitPattern.self), try named(p, "behavior", SplitBehavior.self), invert: try flag("invert"))
            case "split_literal":
                return .splitLiteral(try string(p, "text"), try named(p, "behavior", SplitBehavior.self), invert: try flag("invert"))
            case "byte_level": return .byteLevel(addPrefixSpace: try flag("add_prefix_space"), useRegex: try flag("use_regex"))
            case "metaspace": return .metaspace(try named(p, "prepend_scheme", PrependScheme.self), split: try flag("split"))
            case let t: throw fail("unknown pre-tokenizer \"\(t)\"")
            }
        }
        self.init(model: m, tokens: tokens, types: types, scores: scores, merges: merges,
                  byteLevel: try bool("byte_level"), byteFallback: try bool("byte_fallback"),
                  ignoreMerges: try bool("ignore_merges"), fuseUnknown: try bool("fuse_unk"),
                  normalizers: norm, preTokenizers: pre, addSpacePrefix: try bool("add_space_prefix"),
                  addBOS: try bool("add_bos"), addEOS: try bool("add_eos"),
                  bosId: try id("bos_id"), eosId: try id("eos_id"), unkId: try id("unk_id"), padId: try id("pad_id"),
                  origin: j["origin"]?.string ?? "")
        if let n = j["vocab_size"]?.int, n != tokens.count { throw fail("vocab_size \(n) but \(tokens.count) tokens") }
        try validate(file: file)
    }
}

/// The double whose shortest text is that of `f` when it reads back to exactly `f` (prints "0.1", not
/// "0.10000000149011612"); otherwise `f` widened.
private func shortestDouble(_ f: Float) -> Double {
    guard f.isFinite, let d = Double("\(f)"), Float(d).bitPattern == f.bitPattern else { return Double(f) }
    return d
}
