// A tokenizer built from a TokenizerSpec (DESIGN §5): encode = BOS, then special/added tokens matched in the
// raw text first (leftmost, longest), each run between them normalized, pre-tokenized and merged by the
// model (SentencePieceMerger or RankedBPEMerger), then EOS if the vocabulary adds one; decode = the tokens'
// pieces joined, one leading space dropped when encoding added it. Immutable after init; safe to share.

public final class Tokenizer: Sendable {
    public let spec: TokenizerSpec
    let table: TokenTable
    let pieceTable: TokenPieces
    let spm: SentencePieceMerger?
    let bpe: RankedBPEMerger?
    /// Tokens matched in raw text before the model, indexed by their first byte, longest first.
    private let specialsByFirstByte: [[SpecialToken]]
    /// A word may be cut before each "▁" that follows another char: true when "▁" is a token and no token has
    /// "▁" right after a char other than "▁", so no merge can cross such a cut and the ids are the same as for
    /// the whole word (only the merge heaps get small). Not with ignore_merges, which looks at whole words.
    let cutsAtSpaceMarks: Bool

    private struct SpecialToken: Sendable {
        var id: Int32
        var text: [UInt8]
        /// Control and unknown tokens match only when special tokens are parsed; user-defined ones always.
        var needsParseSpecial: Bool
    }

    /// Work arrays of one `encode` call, reused from word to word.
    struct EncodeScratch {
        var spm = SPMScratch()
        var bpe = BPEScratch()
    }

    public init(spec: TokenizerSpec, file: String = "") throws {
        try spec.validate(file: file)
        self.spec = spec
        table = TokenTable(spec.tokens)
        pieceTable = TokenPieces(spec: spec)
        switch spec.model {
        case .spm:
            spm = SentencePieceMerger(table: table, scores: spec.scores, unkId: spec.unkId)
            bpe = nil
        case .bpe:
            spm = nil
            bpe = RankedBPEMerger(spec: spec, table: table)
        }
        var index = [[SpecialToken]](repeating: [], count: 256)
        for (i, t) in spec.tokens.enumerated() where !t.isEmpty {
            let ty = spec.types[i]
            guard ty == .control || ty == .unknown || ty == .userDefined else { continue }
            let b = Array(t.utf8)
            index[Int(b[0])].append(SpecialToken(id: Int32(i), text: b, needsParseSpecial: ty != .userDefined))
        }
        specialsByFirstByte = index.map { $0.sorted { ($0.text.count, -$0.id) > ($1.text.count, -$1.id) } }
        cutsAtSpaceMarks = !spec.byteLevel && !spec.ignoreMerges && spec.tokens.contains("▁")
            && !spec.tokens.contains { t in
                var prev: Character? = nil
                for c in t {
                    if c == "▁", let p = prev, p != "▁" { return true }
                    prev = c
                }
                return false
            }
    }

    public convenience init(ggufMetadata: [(String, GGUFValue)], file: String) throws {
        try self.init(spec: try TokenizerSpec(ggufMetadata: ggufMetadata, file: file), file: file)
    }

    public convenience init(hfTokenizerJSON: JSON, config: JSON?, file: String) throws {
        try self.init(spec: try TokenizerSpec(hfTokenizerJSON: hfTokenizerJSON, config: config, file: file), file: file)
    }

    public convenience init(normalizedJSON: JSON, file: String) throws {
        try self.init(spec: try TokenizerSpec(normalizedJSON: normalizedJSON, file: file), file: file)
    }

    public var bosId: Int32? { spec.bosId }
    public var eosId: Int32? { spec.eosId }
    /// Whether `encode` puts BOS first by default.
    public var addsBOS: Bool { spec.addBOS }
    public var vocabSize: Int { spec.tokens.count }

    /// The normalized description (the container's `tokenizer.json`).
    public func toJSON() -> JSON { spec.toJSON() }

    /// The vocabulary entry of `id` as stored (byte-level tokens in their char form), or nil outside the vocabulary.
    public func tokenText(_ id: Int32) -> String? {
        id >= 0 && Int(id) < spec.tokens.count ? spec.tokens[Int(id)] : nil
    }

    /// The id of the token whose stored text is exactly `text`.
    public func tokenId(_ text: String) -> Int32? { table.lookup(text) }

    // MARK: encode

    /// Token ids of `text`. `addBOS` nil: as the vocabulary says (`addsBOS`, and EOS when it adds one); false: no
    /// BOS/EOS (llama.cpp's add_special = false). `parseSpecial`: control tokens written in the text ("<s>",
    /// "<|eot_id|>") become their ids; user-defined tokens always do.
    public func encode(_ text: String, addBOS: Bool? = nil, parseSpecial: Bool = true) -> [Int32] {
        var out: [Int32] = []
        let bytes = Array(text.utf8)
        out.reserveCapacity(bytes.count / 3 + 2)
        if addBOS ?? spec.addBOS, let b = spec.bosId { out.append(b) }
        var scratch = EncodeScratch()
        bytes.withUnsafeBufferPointer { buf in
            var runStart = 0, i = 0
            while i < buf.count {
                if let (id, len) = special(at: i, in: buf, parseSpecial: parseSpecial) {
                    encodeRun(UnsafeBufferPointer(rebasing: buf[runStart..<i]), atStart: runStart == 0, &out, &scratch)
                    out.append(id)
                    i += len
                    runStart = i
                } else {
                    i += 1
                }
            }
            encodeRun(UnsafeBufferPointer(rebasing: buf[runStart..<buf.count]), atStart: runStart == 0, &out, &scratch)
        }
        if addBOS ?? true, spec.addEOS, let e = spec.eosId { out.append(e) }
        return out
    }

    /// The longest special token starting at byte `i`, if any.
    @inline(__always)
    private func special(at i: Int, in buf: UnsafeBufferPointer<UInt8>, parseSpecial: Bool) -> (Int32, Int)? {
        let cands = specialsByFirstByte[Int(buf[i])]
        guard !cands.isEmpty else { return nil }
        for c in cands where (parseSpecial || !c.needsParseSpecial) && c.text.count <= buf.count - i {
            var k = 1
            while k < c.text.count && buf[i + k] == c.text[k] { k += 1 }
            if k == c.text.count { return (c.id, k) }
        }
        return nil
    }

    /// Normalizes, pre-tokenizes and merges one run of text between special tokens.
    private func encodeRun(_ run: UnsafeBufferPointer<UInt8>, atStart: Bool, _ out: inout [Int32], _ scratch: inout EncodeScratch) {
        guard !run.isEmpty else { return }
        var text = Array(run)
        for n in spec.normalizers { text = n.apply(text) }
        if spec.preTokenizers.isEmpty {
            text.withUnsafeBufferPointer { encodeWord($0, &out, &scratch) }
            return
        }
        var words = PreTokenizedText(text, atStart: atStart)
        for step in spec.preTokenizers { words.apply(step) }
        words.buffer.withUnsafeBufferPointer { buf in
            for w in words.words { encodeWord(UnsafeBufferPointer(rebasing: buf[w]), &out, &scratch) }
        }
    }

    /// One word through the model, cut before space marks when that cannot change the ids.
    private func encodeWord(_ w: UnsafeBufferPointer<UInt8>, _ out: inout [Int32], _ scratch: inout EncodeScratch) {
        guard cutsAtSpaceMarks else { return merge(w, &out, &scratch) }
        var start = 0, i = 1
        while i + 2 < w.count {  // "▁" is E2 96 81
            if w[i] == 0xE2 && w[i + 1] == 0x96 && w[i + 2] == 0x81
                && !(i >= 3 && w[i - 3] == 0xE2 && w[i - 2] == 0x96 && w[i - 1] == 0x81)
            {
                merge(UnsafeBufferPointer(rebasing: w[start..<i]), &out, &scratch)
                start = i
                i += 3
            } else {
                i += 1
            }
        }
        merge(UnsafeBufferPointer(rebasing: w[start..<w.count]), &out, &scratch)
    }

    @inline(__always)
    private func merge(_ w: UnsafeBufferPointer<UInt8>, _ out: inout [Int32], _ scratch: inout EncodeScratch) {
        if let spm { spm.encode(w, into: &out, &scratch.spm) } else { bpe!.encode(w, into: &out, &scratch.bpe) }
    }

    // MARK: decode

    /// The bytes token `id` decodes to on its own; `special`: control tokens as their text.
    public func piece(_ id: Int32, special: Bool = false) -> [UInt8] { pieceTable.bytes(id, special: special) }

    /// The text of `ids`: pieces joined, the first non-empty piece without one leading space when the
    /// vocabulary adds a space prefix (so decode(encode(t)) == t). Control tokens (BOS, EOS) print only with
    /// `special`. Invalid UTF-8 (a split character) becomes U+FFFD.
    public func decode(_ ids: [Int32], special: Bool = false) -> String {
        String(decoding: decodeBytes(ids, special: special), as: UTF8.self)
    }

    /// The bytes of `ids`, as `decode` joins them.
    public func decodeBytes(_ ids: [Int32], special: Bool = false) -> [UInt8] {
        var out: [UInt8] = []
        var first = true
        for id in ids {
            let p = pieceTable.bytes(id, special: special)
            guard !p.isEmpty else { continue }
            if first && spec.addSpacePrefix && p[0] == 0x20 { out.append(contentsOf: p.dropFirst()) } else { out.append(contentsOf: p) }
            first = false
        }
        return out
    }
}
