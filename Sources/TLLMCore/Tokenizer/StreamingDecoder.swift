// Decoding one token at a time for generation (DESIGN §5): a token's piece may end inside a UTF-8 character
// (byte-fallback `<0xE4>` tokens, byte-level tokens that split a CJK char or an emoji), so bytes are held back
// until they form complete characters; `feed` never returns half a character. Bytes that can never become
// valid UTF-8 are emitted as U+FFFD at once, so the held tail is at most 3 bytes.

public struct StreamingDecoder: Sendable {
    public let tokenizer: Tokenizer
    /// Drop one leading space from the first text (decode's rule; false when continuing after a prompt).
    public var stripLeadingSpace: Bool
    /// Print control tokens (BOS, EOS, …) as their text.
    public var special: Bool
    private var pending: [UInt8] = []
    private var started = false

    /// `stripLeadingSpace` nil: as `decode` does (when the vocabulary adds a space prefix).
    public init(_ tokenizer: Tokenizer, stripLeadingSpace: Bool? = nil, special: Bool = false) {
        self.tokenizer = tokenizer
        self.stripLeadingSpace = stripLeadingSpace ?? tokenizer.spec.addSpacePrefix
        self.special = special
    }

    /// The text that token `id` completes (possibly empty).
    public mutating func feed(_ id: Int32) -> String {
        var p = tokenizer.piece(id, special: special)
        if p.isEmpty { return "" }
        if !started {
            started = true
            if stripLeadingSpace && p[0] == 0x20 { p.removeFirst() }
        }
        pending.append(contentsOf: p)
        let cut = completePrefixLength(pending)
        guard cut > 0 else { return "" }
        let s = String(decoding: pending[..<cut], as: UTF8.self)
        pending.removeFirst(cut)
        return s
    }

    /// Whatever is held back (an unfinished character, as U+FFFD), at the end of generation.
    public mutating func finish() -> String {
        defer { pending.removeAll() }
        return pending.isEmpty ? "" : String(decoding: pending, as: UTF8.self)
    }

    /// Bytes held back, waiting for the rest of a character.
    public var pendingByteCount: Int { pending.count }
}

/// Length of the longest prefix of `b` that does not end inside a UTF-8 sequence that could still complete:
/// everything except a trailing, so-far-valid, incomplete sequence. Invalid bytes count as complete (they
/// decode to U+FFFD and more bytes would not fix them).
func completePrefixLength(_ b: [UInt8]) -> Int {
    let n = b.count
    // A sequence is at most 4 bytes, so only the last 3 bytes can be an unfinished one.
    var start = n - 1
    while start >= 0 && start >= n - 3 {
        let c = b[start]
        if c < 0x80 { return n }  // ASCII: nothing after it can be a lead-less continuation of it
        if c >= 0xC0 {
            // A lead byte: is the sequence from here complete, or a valid prefix still waiting?
            let need = c >= 0xF0 ? 4 : c >= 0xE0 ? 3 : 2
            if c >= 0xF5 || c == 0xC0 || c == 0xC1 { return n }  // never valid
            let have = n - start
            if have >= need { return n }
            // Check the second byte's range (overlongs, surrogates, > U+10FFFF) when it is there.
            if have >= 2 {
                let c1 = b[start + 1]
                let lo: UInt8 = c == 0xE0 ? 0xA0 : c == 0xF0 ? 0x90 : 0x80
                let hi: UInt8 = c == 0xED ? 0x9F : c == 0xF4 ? 0x8F : 0xBF
                if c1 < lo || c1 > hi { return n }
                for k in (start + 2)..<n where b[k] & 0xC0 != 0x80 { return n }
            }
            return start
        }
        start -= 1  // a continuation byte: look further back for its lead
    }
    return n
}
