// What each token decodes to (its "piece", raw bytes), the inverse of encoding: GPT-2's byte ↔ char table for
// byte-level vocabularies, "▁" → " " and `<0xXX>` → one byte for SentencePiece-style ones. As llama.cpp's
// token_to_piece: control and unknown tokens decode to nothing unless special text is asked for, user-defined
// tokens to their text as written, unused tokens to nothing.

/// GPT-2's `bytes_to_unicode`: printable Latin-1 bytes stand for themselves, the other 68 bytes map to
/// U+0100… in byte order, so every byte string is a printable string of the same length in chars.
enum ByteLevel {
    private static let table: (toChar: [Unicode.Scalar], toByte: [Int16]) = {
        var printable = [Bool](repeating: false, count: 256)
        for r in [0x21...0x7E, 0xA1...0xAC, 0xAE...0xFF] { for b in r { printable[b] = true } }
        var toChar = [Unicode.Scalar](repeating: " ", count: 256)
        var extra: UInt32 = 256
        for b in 0..<256 {
            if printable[b] {
                toChar[b] = Unicode.Scalar(UInt32(b))!
            } else {
                toChar[b] = Unicode.Scalar(extra)!
                extra += 1
            }
        }
        var toByte = [Int16](repeating: -1, count: Int(extra))
        for b in 0..<256 { toByte[Int(toChar[b].value)] = Int16(b) }
        return (toChar, toByte)
    }()

    /// The char that stands for byte `b`.
    static func char(of b: UInt8) -> Unicode.Scalar { table.toChar[Int(b)] }

    /// The byte a char stands for, or nil if it stands for none.
    static func byte(of c: Unicode.Scalar) -> UInt8? {
        let v = Int(c.value)
        guard v < table.toByte.count, table.toByte[v] >= 0 else { return nil }
        return UInt8(table.toByte[v])
    }

    /// The text of a byte-level token as the bytes it stands for; a char that stands for no byte is kept as its
    /// own UTF-8 (llama.cpp would print "[UNK_BYTE_…]").
    static func bytes(ofToken text: String) -> [UInt8] {
        var out: [UInt8] = []
        out.reserveCapacity(text.utf8.count)
        for c in text.unicodeScalars {
            if let b = byte(of: c) { out.append(b) } else { out.append(contentsOf: String(c).utf8) }
        }
        return out
    }

    /// A byte string in byte-level char form.
    static func encode(_ bytes: [UInt8]) -> String {
        var s = String.UnicodeScalarView()
        for b in bytes { s.append(char(of: b)) }
        return String(s)
    }
}

/// The decoded bytes of every token, and which tokens are special (decoded only on request).
struct TokenPieces: Sendable {
    /// What the token decodes to in ordinary text.
    let pieces: [[UInt8]]
    /// Control and unknown tokens: their text, printed only when special tokens are asked for.
    let specialText: [[UInt8]?]

    init(spec: TokenizerSpec) {
        var pieces: [[UInt8]] = []
        var special: [[UInt8]?] = []
        pieces.reserveCapacity(spec.tokens.count)
        special.reserveCapacity(spec.tokens.count)
        for (i, t) in spec.tokens.enumerated() {
            var piece: [UInt8] = []
            var sp: [UInt8]? = nil
            switch spec.types[i] {
            case .control, .unknown: sp = Array(t.utf8)
            case .userDefined: piece = Array(t.utf8)
            case .unused: break
            case .byte: piece = TokenPieces.byteTokenValue(t).map { [$0] } ?? Array(t.utf8)
            case .normal:
                piece = spec.byteLevel ? ByteLevel.bytes(ofToken: t) : replaceAll(Array(t.utf8), TokenPieces.spaceMark, [0x20])
            }
            pieces.append(piece)
            special.append(sp)
        }
        self.pieces = pieces
        specialText = special
    }

    static let spaceMark = Array("▁".utf8)

    /// The byte of a `<0xAB>` token (hex digits in either case), or nil.
    static func byteTokenValue(_ t: String) -> UInt8? {
        let u = Array(t.utf8)
        guard u.count == 6, u[0] == 0x3C, u[1] == 0x30, u[2] == 0x78, u[5] == 0x3E else { return nil }
        return UInt8(String(decoding: u[3..<5], as: UTF8.self), radix: 16)
    }

    /// The bytes token `id` decodes to (empty for ids outside the vocabulary).
    @inline(__always)
    func bytes(_ id: Int32, special: Bool) -> [UInt8] {
        guard id >= 0, Int(id) < pieces.count else { return [] }
        if special, let s = specialText[Int(id)] { return s }
        return pieces[Int(id)]
    }
}
