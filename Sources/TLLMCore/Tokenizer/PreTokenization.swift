// Normalizers and pre-tokenizers applied to one run of text between special tokens (HF tokenizers' pipeline:
// normalize, then split into words; llama.cpp's unicode_regex_split). Words are byte ranges into one buffer;
// a split scans code points with a SplitPattern (leftmost-first, like regex iteration) and keeps matches and
// the gaps between them as HF's SplitDelimiterBehavior says. Linear in the text length.

import Foundation

extension TokenizerSpec.Normalizer {
    /// The run after this normalizer.
    func apply(_ s: [UInt8]) -> [UInt8] {
        switch self {
        case .nfc:
            guard s.contains(where: { $0 >= 0x80 }) else { return s }  // ASCII is always NFC
            return Array(String(decoding: s, as: UTF8.self).precomposedStringWithCanonicalMapping.utf8)
        case let .prepend(p):
            return s.isEmpty ? s : Array(p.utf8) + s
        case let .replace(from, to):
            return replaceAll(s, Array(from.utf8), Array(to.utf8))
        }
    }
}

/// Every non-overlapping occurrence of `a` in `s` (left to right) replaced by `b`.
func replaceAll(_ s: [UInt8], _ a: [UInt8], _ b: [UInt8]) -> [UInt8] {
    guard let a0 = a.first, s.count >= a.count else { return s }
    var out: [UInt8] = []
    out.reserveCapacity(s.count + s.count / 4 * max(0, b.count - a.count))
    var i = 0
    while i < s.count {
        if s[i] == a0, i + a.count <= s.count, s[i..<i + a.count].elementsEqual(a) {
            out.append(contentsOf: b)
            i += a.count
        } else {
            out.append(s[i])
            i += 1
        }
    }
    return out
}

/// A run of text cut into words: byte ranges into `buffer`, in order, and whether each word begins at offset 0
/// of the original text (HF's Metaspace "first" scheme asks).
struct PreTokenizedText {
    var buffer: [UInt8]
    var words: [Range<Int>]
    var atStart: [Bool]

    init(_ text: [UInt8], atStart: Bool) {
        buffer = text
        words = text.isEmpty ? [] : [0..<text.count]
        self.atStart = [atStart]
    }

    mutating func apply(_ step: TokenizerSpec.PreTokenizer) {
        switch step {
        case let .split(pattern, behavior, invert):
            split(behavior, invert: invert) { c, p, e in pattern.match(c, p, e) }
        case let .splitLiteral(text, behavior, invert):
            let lit = Array(text.unicodeScalars.map(\.value))
            guard !lit.isEmpty else { return }
            split(behavior, invert: invert) { c, p, e in
                guard e - p >= lit.count else { return 0 }
                for k in 0..<lit.count where c[p + k] != lit[k] { return 0 }
                return lit.count
            }
        case let .byteLevel(addPrefixSpace, useRegex):
            if addPrefixSpace { rewrite { w, _ in w.first == 0x20 ? w : [0x20] + w } }
            if useRegex { split(.isolated, invert: false) { c, p, e in TokenizerSpec.SplitPattern.gpt2.match(c, p, e) } }
        case let .metaspace(scheme, split):
            let mark = Array("▁".utf8)
            rewrite { w, first in
                var r = replaceAll(w, [0x20], mark)
                let starts = r.starts(with: mark)
                if !starts && (scheme == .always || (scheme == .first && first)) { r = mark + r }
                return r
            }
            if split {
                self.split(.mergedWithNext, invert: false) { c, p, _ in c[p] == 0x2581 ? 1 : 0 }
            }
        }
    }

    /// Replaces each word by `f(word, atStart)`, rebuilding the buffer.
    private mutating func rewrite(_ f: ([UInt8], Bool) -> [UInt8]) {
        var nb: [UInt8] = []
        nb.reserveCapacity(buffer.count + words.count)
        var nw: [Range<Int>] = []
        nw.reserveCapacity(words.count)
        for (i, w) in words.enumerated() {
            let r = f(Array(buffer[w]), atStart[i])
            nw.append(nb.count..<nb.count + r.count)
            nb.append(contentsOf: r)
        }
        buffer = nb
        words = nw
    }

    /// Splits every word at the matches of `match` (code-point length of a match at a position, 0 for none).
    private mutating func split(_ behavior: TokenizerSpec.SplitBehavior, invert: Bool,
                                _ match: (UnsafeBufferPointer<UInt32>, Int, Int) -> Int)
    {
        var cpts: [UInt32] = []
        var offs: [Int] = []  // byte offset of each code point, and the end
        var nw: [Range<Int>] = []
        var ns: [Bool] = []
        nw.reserveCapacity(words.count)
        for (wi, w) in words.enumerated() {
            decodeScalars(buffer[w], base: w.lowerBound, &cpts, &offs)
            var pieces: [(lo: Int, hi: Int, match: Bool)] = []
            cpts.withUnsafeBufferPointer { c in
                var p = 0, gap = 0
                let n = c.count
                while p < n {
                    let len = match(c, p, n)
                    if len > 0 {
                        if gap < p { pieces.append((gap, p, invert)) }
                        pieces.append((p, p + len, !invert))
                        p += len
                        gap = p
                    } else {
                        p += 1
                    }
                }
                if gap < n { pieces.append((gap, n, invert)) }
            }
            for r in SplitPieces.apply(behavior, pieces) where r.lo < r.hi {
                nw.append(offs[r.lo]..<offs[r.hi])
                ns.append(atStart[wi] && r.lo == 0)
            }
        }
        words = nw
        atStart = ns
    }
}

/// HF's SplitDelimiterBehavior on a list of pieces (code-point ranges) that cover a word, matches flagged.
enum SplitPieces {
    static func apply(_ b: TokenizerSpec.SplitBehavior, _ pieces: [(lo: Int, hi: Int, match: Bool)]) -> [(lo: Int, hi: Int)] {
        var out: [(lo: Int, hi: Int)] = []
        out.reserveCapacity(pieces.count)
        var previousMatch = false
        switch b {
        case .isolated:
            return pieces.map { ($0.lo, $0.hi) }
        case .removed:
            return pieces.filter { !$0.match }.map { ($0.lo, $0.hi) }
        case .mergedWithPrevious:
            for p in pieces {
                if p.match && !previousMatch, !out.isEmpty { out[out.count - 1].hi = p.hi } else { out.append((p.lo, p.hi)) }
                previousMatch = p.match
            }
        case .mergedWithNext:
            for p in pieces.reversed() {
                if p.match && !previousMatch, !out.isEmpty { out[out.count - 1].lo = p.lo } else { out.append((p.lo, p.hi)) }
                previousMatch = p.match
            }
            out.reverse()
        case .contiguous:
            for (i, p) in pieces.enumerated() {
                if i > 0 && p.match == previousMatch { out[out.count - 1].hi = p.hi } else { out.append((p.lo, p.hi)) }
                previousMatch = p.match
            }
        }
        return out
    }
}

/// Code points of valid UTF-8 `bytes` into `cpts`, with each one's byte offset (plus `base`) into `offs` and
/// the end offset last.
func decodeScalars(_ bytes: ArraySlice<UInt8>, base: Int, _ cpts: inout [UInt32], _ offs: inout [Int]) {
    cpts.removeAll(keepingCapacity: true)
    offs.removeAll(keepingCapacity: true)
    bytes.withUnsafeBufferPointer { b in
        var i = 0
        let n = b.count
        while i < n {
            let c0 = UInt32(b[i])
            offs.append(base + i)
            var len = 1, v = c0
            if c0 >= 0xF0 { len = 4; v = c0 & 0x07 } else if c0 >= 0xE0 { len = 3; v = c0 & 0x0F } else if c0 >= 0xC0 { len = 2; v = c0 & 0x1F }
            len = min(len, n - i)
            for k in 1..<max(len, 1) { v = v << 6 | (UInt32(b[i + k]) & 0x3F) }
            cpts.append(v)
            i += len
        }
        offs.append(base + n)
    }
}
