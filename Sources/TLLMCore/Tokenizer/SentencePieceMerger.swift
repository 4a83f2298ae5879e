// SentencePiece-style BPE with scores, exactly llama.cpp's `llm_tokenizer_spm_session::tokenize`: start from
// UTF-8 chars, repeatedly merge the adjacent pair whose concatenation is a token with the highest score (ties:
// leftmost), then emit each symbol as its token or, if it is none, as `<0xXX>` byte tokens (byte fallback).
// A max-heap of candidate bigrams with lazy invalidation: O(n log n) for n chars, no rescans.

/// One candidate merge: symbols `left` and `right` (adjacent when pushed) whose joined text is a token.
private struct Bigram: Comparable {
    var score: Float
    var left: Int32
    var right: Int32
    var size: Int32  // bytes of the joined text; a stale entry no longer matches the symbols' sizes

    /// Pops first: higher score, then the smaller left index (llama.cpp's llm_bigram_spm::comparator).
    static func < (a: Bigram, b: Bigram) -> Bool { a.score > b.score || (a.score == b.score && a.left < b.left) }
    static func == (a: Bigram, b: Bigram) -> Bool { a.score == b.score && a.left == b.left }
}

/// Arrays reused from word to word.
struct SPMScratch {
    fileprivate var start: [Int32] = [], len: [Int32] = [], prev: [Int32] = [], next: [Int32] = []
    fileprivate var queue = MergeQueue<Bigram>()
}

struct SentencePieceMerger: Sendable {
    let table: TokenTable
    let scores: [Float]
    /// Token of each byte value: `<0xXX>`, else the one-byte token, else -1.
    let byteTokens: [Int32]
    let unkId: Int32?

    init(table: TokenTable, scores: [Float], unkId: Int32?) {
        self.table = table
        self.scores = scores
        self.unkId = unkId
        let hex = Array("0123456789ABCDEF".utf8)
        byteTokens = (0..<256).map { b -> Int32 in
            let name: [UInt8] = [0x3C, 0x30, 0x78, hex[b >> 4], hex[b & 15], 0x3E]  // "<0xXX>"
            return table.lookup(name) ?? table.lookup([UInt8(b)]) ?? -1
        }
    }

    /// Appends the ids of `text` (already normalized: "▁" for spaces, prefix added) to `out`.
    func encode(_ text: UnsafeBufferPointer<UInt8>, into out: inout [Int32], _ s: inout SPMScratch) {
        let n = text.count
        guard n > 0 else { return }
        // Symbols: one per UTF-8 char (llama.cpp's unicode_len_utf8 on the lead byte), linked both ways.
        var start = s.start, len = s.len, prev = s.prev, next = s.next, queue = s.queue
        s = SPMScratch()  // the arrays are uniquely ours while we work, handed back at the end
        defer { (s.start, s.len, s.prev, s.next, s.queue) = (start, len, prev, next, queue) }
        start.removeAll(keepingCapacity: true); len.removeAll(keepingCapacity: true)
        prev.removeAll(keepingCapacity: true); next.removeAll(keepingCapacity: true)
        queue.removeAll()
        var off = 0
        while off < n {
            let l = min(utf8Length(text[off]), n - off)
            prev.append(Int32(start.count) - 1)
            start.append(Int32(off))
            len.append(Int32(l))
            off += l
            next.append(off == n ? -1 : Int32(start.count))
        }

        func tryAdd(_ l: Int32, _ r: Int32) {
            guard l >= 0, r >= 0 else { return }
            let s = Int(start[Int(l)]), size = Int(len[Int(l)] + len[Int(r)])
            guard let id = table.lookup(UnsafeBufferPointer(rebasing: text[s..<s + size])) else { return }
            queue.push(Bigram(score: scores[Int(id)], left: l, right: r, size: Int32(size)))
        }

        for i in 1..<max(start.count, 1) { tryAdd(Int32(i - 1), Int32(i)) }
        while let b = queue.pop() {
            let l = Int(b.left), r = Int(b.right)
            if len[l] == 0 || len[r] == 0 || len[l] + len[r] != b.size { continue }  // already merged: stale
            len[l] += len[r]
            len[r] = 0
            next[l] = next[r]
            if next[r] >= 0 { prev[Int(next[r])] = b.left }
            tryAdd(prev[l], b.left)
            tryAdd(b.left, next[l])
        }

        var i: Int32 = 0
        while i >= 0 {
            let s = Int(start[Int(i)]), l = Int(len[Int(i)])
            if let id = table.lookup(UnsafeBufferPointer(rebasing: text[s..<s + l])) {
                out.append(id)
            } else {
                for k in s..<s + l {
                    let t = byteTokens[Int(text[k])]
                    if t >= 0 { out.append(t) } else if let u = unkId { out.append(u) }
                }
            }
            i = next[Int(i)]
        }
    }
}

/// Bytes of the UTF-8 sequence a lead byte starts (1 for ASCII and stray continuation bytes), as llama.cpp's
/// `unicode_len_utf8`.
@inline(__always)
func utf8Length(_ b: UInt8) -> Int {
    b < 0xC0 ? 1 : b < 0xE0 ? 2 : b < 0xF0 ? 3 : 4
}
