// The pre-tokenizer regexes of GPT-2, LLaMA-3, Qwen2 and llama.cpp's "default", written as hand matchers over
// code points (ports of llama.cpp's unicode_regex_split_custom_gpt2/_llama3, which equal the regexes under
// leftmost-first alternation). \p{L}, \p{N}, \p{P} come from Unicode.Scalar.Properties.generalCategory for
// all of Unicode; \s is the White_Space property. A BMP table caches the classes; O(1) per code point.

/// The character classes the patterns use, as bits.
struct CharClass: OptionSet, Sendable {
    let rawValue: UInt8
    static let letter = CharClass(rawValue: 1)  // \p{L}: Lu Ll Lt Lm Lo
    static let number = CharClass(rawValue: 2)  // \p{N}: Nd Nl No
    static let whitespace = CharClass(rawValue: 4)  // \s: White_Space
    static let punctuation = CharClass(rawValue: 8)  // \p{P}: Pc Pd Ps Pe Pi Pf Po

    static func compute(_ v: UInt32) -> CharClass {
        guard let u = Unicode.Scalar(v) else { return [] }
        var c: CharClass = u.properties.isWhitespace ? .whitespace : []
        switch u.properties.generalCategory {
        case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter: c.insert(.letter)
        case .decimalNumber, .letterNumber, .otherNumber: c.insert(.number)
        case .connectorPunctuation, .dashPunctuation, .openPunctuation, .closePunctuation, .initialPunctuation,
            .finalPunctuation, .otherPunctuation:
            c.insert(.punctuation)
        default: break
        }
        return c
    }

    /// Classes of U+0000…U+FFFF, computed once (about 3 ms).
    static let bmp: [CharClass] = (0..<0x10000).map { compute(UInt32($0)) }

    @inline(__always)
    static func of(_ v: UInt32) -> CharClass { v < 0x10000 ? bmp[Int(v)] : compute(v) }
}

private let CR: UInt32 = 0x0D, LF: UInt32 = 0x0A, SPACE: UInt32 = 0x20, APOS: UInt32 = 0x27

extension TokenizerSpec.SplitPattern {
    /// Length in code points of this pattern's match starting at `pos` in `c[..<end]` (a match never looks past
    /// `end`), or 0 when none starts there.
    func match(_ c: UnsafeBufferPointer<UInt32>, _ pos: Int, _ end: Int) -> Int {
        switch self {
        case .gpt2: return matchGPT2(c, pos, end)
        case .llama3: return matchLlama3(c, pos, end, maxDigits: 3)
        case .qwen2: return matchLlama3(c, pos, end, maxDigits: 1)
        case .punctuation:
            var p = pos
            while p < end, CharClass.of(c[p]).contains(.punctuation) || isPunctuationSymbol(c[p]) { p += 1 }
            return p - pos
        case .numbers:
            var p = pos
            while p < end, CharClass.of(c[p]).contains(.number) { p += 1 }
            return p - pos
        case .asciiDigitTriples:
            guard end - pos >= 3 else { return 0 }
            for k in 0..<3 where !(0x30...0x39).contains(c[pos + k]) { return 0 }
            return 3
        case .numberChar:
            return CharClass.of(c[pos]).contains(.number) ? 1 : 0
        }
    }
}

/// `$ + < = > ^ ~ |`, the symbols llama.cpp's default punctuation regex adds to \p{P}.
private func isPunctuationSymbol(_ v: UInt32) -> Bool {
    v == 0x24 || v == 0x2B || v == 0x3C || v == 0x3D || v == 0x3E || v == 0x5E || v == 0x7E || v == 0x7C
}

@inline(__always)
private func asciiLower(_ v: UInt32) -> UInt32 { (0x41...0x5A).contains(v) ? v + 0x20 : v }

/// 's 't 're 've 'm 'll 'd at `pos` (case-insensitive when asked): its length, or 0.
@inline(__always)
private func contraction(_ c: UnsafeBufferPointer<UInt32>, _ pos: Int, _ end: Int, ignoreCase: Bool) -> Int {
    guard c[pos] == APOS, pos + 1 < end else { return 0 }
    let n = ignoreCase ? asciiLower(c[pos + 1]) : c[pos + 1]
    if n == 0x73 || n == 0x74 || n == 0x6D || n == 0x64 { return 2 }  // s t m d
    guard pos + 2 < end else { return 0 }
    let nn = ignoreCase ? asciiLower(c[pos + 2]) : c[pos + 2]
    if (n == 0x72 && nn == 0x65) || (n == 0x76 && nn == 0x65) || (n == 0x6C && nn == 0x6C) { return 3 }  // re ve ll
    return 0
}

/// The whitespace alternatives shared by both families: `\s+(?!\S)|\s+` (and, for LLaMA-3, `\s*[\r\n]+` first).
@inline(__always)
private func whitespaceRun(_ c: UnsafeBufferPointer<UInt32>, _ pos: Int, _ end: Int, newlines: Bool) -> Int {
    var n = 0
    var lastNewlineEnd = 0  // \s*[\r\n]+ ends after the last \r or \n of the run
    while pos + n < end, CharClass.of(c[pos + n]).contains(.whitespace) {
        if newlines && (c[pos + n] == CR || c[pos + n] == LF) { lastNewlineEnd = n + 1 }
        n += 1
    }
    if lastNewlineEnd > 0 { return lastNewlineEnd }
    if n > 1 && pos + n < end { return n - 1 }  // \s+(?!\S): leave the last space for the next word
    return n  // \s+ (or 0: no match)
}

/// 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
private func matchGPT2(_ c: UnsafeBufferPointer<UInt32>, _ pos: Int, _ end: Int) -> Int {
    let k = contraction(c, pos, end, ignoreCase: false)
    if k > 0 { return k }
    let cpt = c[pos]
    let start = cpt == SPACE ? pos + 1 : pos  // the optional leading space
    guard start < end else { return whitespaceRun(c, pos, end, newlines: false) }
    let f = CharClass.of(c[start])
    var p = start
    if f.contains(.letter) {
        while p < end, CharClass.of(c[p]).contains(.letter) { p += 1 }
        return p - pos
    }
    if f.contains(.number) {
        while p < end, CharClass.of(c[p]).contains(.number) { p += 1 }
        return p - pos
    }
    if f.isDisjoint(with: [.whitespace, .letter, .number]) {
        while p < end, CharClass.of(c[p]).isDisjoint(with: [.whitespace, .letter, .number]) { p += 1 }
        return p - pos
    }
    return whitespaceRun(c, pos, end, newlines: false)
}

/// (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,maxDigits}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
private func matchLlama3(_ c: UnsafeBufferPointer<UInt32>, _ pos: Int, _ end: Int, maxDigits: Int) -> Int {
    let k = contraction(c, pos, end, ignoreCase: true)
    if k > 0 { return k }
    let cpt = c[pos]
    let f = CharClass.of(cpt)
    // [^\r\n\p{L}\p{N}]?\p{L}+
    if !(cpt == CR || cpt == LF || f.contains(.number)) {
        if f.contains(.letter) || (pos + 1 < end && CharClass.of(c[pos + 1]).contains(.letter)) {
            var p = pos + 1
            while p < end, CharClass.of(c[p]).contains(.letter) { p += 1 }
            return p - pos
        }
    }
    // \p{N}{1,maxDigits}
    if f.contains(.number) {
        var p = pos + 1
        while p < end, p - pos < maxDigits, CharClass.of(c[p]).contains(.number) { p += 1 }
        return p - pos
    }
    // ' '?[^\s\p{L}\p{N}]+[\r\n]*
    let start = cpt == SPACE ? pos + 1 : pos
    if start < end, CharClass.of(c[start]).isDisjoint(with: [.whitespace, .letter, .number]) {
        var p = start + 1
        while p < end, CharClass.of(c[p]).isDisjoint(with: [.whitespace, .letter, .number]) { p += 1 }
        while p < end, c[p] == CR || c[p] == LF { p += 1 }
        return p - pos
    }
    return whitespaceRun(c, pos, end, newlines: true)
}
