// GGUF tokenizer metadata (`tokenizer.ggml.*`) for a model imported from Hugging Face files, so an exported GGUF
// runs in llama.cpp. SentencePiece-style BPE (byte_fallback): pieces, scores and types from tokenizer.model when
// present (SentencePiece ModelProto: field 1 = pieces {1 piece, 2 score, 3 type}), else from tokenizer.json with
// score = −(rank of the merge that forms the token). Byte-level BPE: tokens, merges and token types.

import Foundation

/// Pieces of a SentencePiece model file (protobuf), as (piece, score, type).
func sentencePiecePieces(_ bytes: [UInt8], file: String) throws -> [(String, Float, Int32)] {
    var r = ProtoReader(bytes: bytes, file: file)
    var out: [(String, Float, Int32)] = []
    while let (field, wire) = try r.key() {
        guard field == 1, wire == 2 else { try r.skip(wire); continue }
        var sub = ProtoReader(bytes: try r.lengthDelimited(), file: file)
        var piece = "", score: Float = 0, type: Int32 = 1
        while let (f, w) = try sub.key() {
            switch (f, w) {
            case (1, 2): piece = String(decoding: try sub.lengthDelimited(), as: UTF8.self)
            case (2, 5): score = Float(bitPattern: try sub.fixed32())
            case (3, 0): type = Int32(truncatingIfNeeded: try sub.varint())
            default: try sub.skip(w)
            }
        }
        out.append((piece, score, type))
    }
    return out
}

/// Minimal protobuf wire-format reader (varint, fixed32/64, length-delimited), bounds-checked.
struct ProtoReader {
    let bytes: [UInt8]
    let file: String
    var i = 0

    mutating func varint() throws -> UInt64 {
        var v: UInt64 = 0, shift: UInt64 = 0
        while true {
            guard i < bytes.count, shift < 64 else { throw TLLMError(file, "malformed protobuf at byte \(i)") }
            let b = bytes[i]; i += 1
            v |= UInt64(b & 0x7F) << shift
            if b & 0x80 == 0 { return v }
            shift += 7
        }
    }

    mutating func key() throws -> (UInt64, UInt64)? {
        guard i < bytes.count else { return nil }
        let k = try varint()
        return (k >> 3, k & 7)
    }

    mutating func fixed32() throws -> UInt32 {
        guard bytes.count - i >= 4 else { throw TLLMError(file, "malformed protobuf at byte \(i)") }
        defer { i += 4 }
        return UInt32(bytes[i]) | UInt32(bytes[i + 1]) << 8 | UInt32(bytes[i + 2]) << 16 | UInt32(bytes[i + 3]) << 24
    }

    mutating func lengthDelimited() throws -> [UInt8] {
        let n = try varint()
        guard n <= UInt64(bytes.count - i) else { throw TLLMError(file, "malformed protobuf at byte \(i)") }
        defer { i += Int(n) }
        return Array(bytes[i..<i + Int(n)])
    }

    mutating func skip(_ wire: UInt64) throws {
        switch wire {
        case 0: _ = try varint()
        case 1: guard bytes.count - i >= 8 else { throw TLLMError(file, "malformed protobuf") }; i += 8
        case 2: _ = try lengthDelimited()
        case 5: _ = try fixed32()
        default: throw TLLMError(file, "malformed protobuf: wire type \(wire)")
        }
    }
}

/// tokenizer.ggml.* keys built from the carried Hugging Face tokenizer files.
func ggufTokenizerFromHF(_ src: ModelSource) throws -> [(String, GGUFValue)] {
    func file(_ n: String) -> [UInt8]? { src.files.first { $0.name == "source/" + n }?.bytes }
    guard let tj = file("tokenizer.json") else {
        throw TLLMError(src.path, "no tokenizer (tokenizer.json) to write into the GGUF")
    }
    let name = "\(src.path): tokenizer.json"
    let tok = try tj.withUnsafeBytes { try JSON.parse($0, file: name) }
    guard tok["model"]?["type"]?.string == "BPE", let vocabKV = tok["model"]?["vocab"]?.object else {
        throw TLLMError(name, "unsupported tokenizer model \(tok["model"]?["type"]?.string ?? "?") (BPE is supported)")
    }
    var tokens: [String?] = []
    func put(_ s: String, _ id: Int) throws {
        guard id >= 0, id < 1 << 24 else { throw TLLMError(name, "token id \(id) out of range") }
        if tokens.count <= id { tokens += [String?](repeating: nil, count: id + 1 - tokens.count) }
        tokens[id] = s
    }
    for (s, id) in vocabKV { try put(s, id.int ?? -1) }
    var special = Set<Int>()
    for a in tok["added_tokens"]?.array ?? [] {
        guard let id = a["id"]?.int, let s = a["content"]?.string else { continue }
        try put(s, id)
        if a["special"]?.bool == true { special.insert(id) }
    }
    if let gap = tokens.firstIndex(where: { $0 == nil }) { throw TLLMError(name, "vocabulary has no token with id \(gap)") }
    let vocab = tokens.map { $0! }
    let merges: [String] = (tok["model"]?["merges"]?.array ?? []).compactMap { m in
        if let s = m.string { return s }
        if let p = m.array, p.count == 2, let a = p[0].string, let b = p[1].string { return a + " " + b }
        return nil
    }
    let unk = tok["model"]?["unk_token"]?.string.flatMap { u in vocab.firstIndex(of: u) }
    var cfg: JSON = .object([])
    if let tc = file("tokenizer_config.json") { cfg = (try? tc.withUnsafeBytes { try JSON.parse($0, file: "tokenizer_config.json") }) ?? .object([]) }
    func tokenId(_ key: String) -> Int? {
        let v = cfg[key]
        let s = v?.string ?? v?["content"]?.string
        return s.flatMap { vocab.firstIndex(of: $0) }
    }
    var m: [(String, GGUFValue)] = []
    let byteFallback = tok["model"]?["byte_fallback"]?.bool == true
    if byteFallback {
        // SentencePiece-style.
        var scores = [Float](repeating: 0, count: vocab.count)
        var types = [Int32](repeating: 1, count: vocab.count)
        if let sp = file("tokenizer.model") {
            let pieces = try sentencePiecePieces(sp, file: "\(src.path): tokenizer.model")
            for (i, p) in pieces.enumerated() where i < vocab.count && p.0 == vocab[i] {
                scores[i] = p.1
                types[i] = p.2
            }
        } else {
            var rank: [String: Int] = [:]
            for (r, mg) in merges.enumerated() {
                let merged = mg.replacingOccurrences(of: " ", with: "")
                if rank[merged] == nil { rank[merged] = r }
            }
            for (i, t) in vocab.enumerated() {
                if let r = rank[t] { scores[i] = -Float(r) }
                if t.count == 6, t.hasPrefix("<0x"), t.hasSuffix(">") { types[i] = 6 }
            }
            if let u = unk { types[u] = 2 }
            for s in special { types[s] = 3 }
        }
        m.append(("tokenizer.ggml.model", .string("llama")))
        m.append(("tokenizer.ggml.tokens", .array(elem: .string, vocab.map { .string($0) })))
        m.append(("tokenizer.ggml.scores", .array(elem: .f32, scores.map { .f32($0) })))
        m.append(("tokenizer.ggml.token_type", .array(elem: .i32, types.map { .i32($0) })))
    } else {
        var types = [Int32](repeating: 1, count: vocab.count)
        for s in special { types[s] = 3 }
        m.append(("tokenizer.ggml.model", .string("gpt2")))
        m.append(("tokenizer.ggml.pre", .string(src.config.architecture == "qwen2" ? "qwen2" : "default")))
        m.append(("tokenizer.ggml.tokens", .array(elem: .string, vocab.map { .string($0) })))
        m.append(("tokenizer.ggml.token_type", .array(elem: .i32, types.map { .i32($0) })))
        m.append(("tokenizer.ggml.merges", .array(elem: .string, merges.map { .string($0) })))
    }
    if let b = tokenId("bos_token") ?? src.config.bosTokenId { m.append(("tokenizer.ggml.bos_token_id", .u32(UInt32(b)))) }
    if let e = tokenId("eos_token") ?? src.config.eosTokenId { m.append(("tokenizer.ggml.eos_token_id", .u32(UInt32(e)))) }
    if let u = unk { m.append(("tokenizer.ggml.unknown_token_id", .u32(UInt32(u)))) }
    if let p = tokenId("pad_token") { m.append(("tokenizer.ggml.padding_token_id", .u32(UInt32(p)))) }
    if let ab = cfg["add_bos_token"]?.bool { m.append(("tokenizer.ggml.add_bos_token", .bool(ab))) }
    if let ae = cfg["add_eos_token"]?.bool { m.append(("tokenizer.ggml.add_eos_token", .bool(ae))) }
    return m
}
