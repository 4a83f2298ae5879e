// BPE with ranked merges, as HF tokenizers' `Word::merge_all` and llama.cpp's `llm_tokenizer_bpe_session`:
// start from one symbol per byte (byte-level) or per char (with byte fallback / unknown token), repeatedly
// apply the lowest-rank merge among adjacent pairs (ties: leftmost), stale heap entries skipped lazily.
// O(n log n) in the word length; words are encoded one at a time with reused scratch arrays.

/// A pending merge at symbol `pos` (with its next symbol) of rank `rank` giving token `merged`.
private struct PairMerge: Comparable {
    var rank: Int32
    var pos: Int32
    var merged: Int32

    /// Pops first: the lower rank, then the leftmost position (HF's `Merge` ordering).
    static func < (a: PairMerge, b: PairMerge) -> Bool { a.rank < b.rank || (a.rank == b.rank && a.pos < b.pos) }
}

/// Arrays reused from word to word.
struct BPEScratch {
    fileprivate var ids: [Int32] = []
    fileprivate var prev: [Int32] = []
    fileprivate var next: [Int32] = []
    fileprivate var alive: [Bool] = []
    fileprivate var mapped: [UInt8] = []
    fileprivate var queue = MergeQueue<PairMerge>()
}

struct RankedBPEMerger: Sendable {
    let table: TokenTable
    let pairs: PairTable
    let byteLevel: Bool
    /// Byte-level: the token of each byte's GPT-2 char, and that char's UTF-8 (-1 / empty when absent).
    let byteSymbols: [Int32]
    let mappedChars: [[UInt8]]
    /// Byte fallback: the `<0xXX>` token of each byte, or -1.
    let fallbackTokens: [Int32]
    let byteFallback: Bool
    let ignoreMerges: Bool
    let unkId: Int32?
    let fuseUnknown: Bool

    /// `merges` whose parts or result are not tokens cannot apply and are skipped (llama.cpp would carry their
    /// text along; HF refuses such files); the number skipped is `skippedMerges`.
    init(spec: TokenizerSpec, table: TokenTable) {
        self.table = table
        var p = PairTable(capacity: spec.merges.count)
        var skipped = 0
        for (rank, m) in spec.merges.enumerated() {
            guard let a = table.lookup(m.left), let b = table.lookup(m.right), let c = table.lookup(m.left + m.right) else {
                skipped += 1
                continue
            }
            p.insert(a, b, MergeRule(rank: Int32(rank), merged: c))
        }
        pairs = p
        skippedMerges = skipped
        byteLevel = spec.byteLevel
        mappedChars = (0..<256).map { Array(String(ByteLevel.char(of: UInt8($0))).utf8) }
        byteSymbols = mappedChars.map { table.lookup($0) ?? -1 }
        let hex = Array("0123456789ABCDEF".utf8)
        fallbackTokens = (0..<256).map { b in table.lookup([0x3C, 0x30, 0x78, hex[b >> 4], hex[b & 15], 0x3E]) ?? -1 }
        byteFallback = spec.byteFallback
        ignoreMerges = spec.ignoreMerges
        unkId = spec.unkId
        fuseUnknown = spec.fuseUnknown
    }

    let skippedMerges: Int

    /// Appends the ids of one pre-tokenized word (raw UTF-8 bytes) to `out`.
    func encode(_ word: UnsafeBufferPointer<UInt8>, into out: inout [Int32], _ s: inout BPEScratch) {
        guard !word.isEmpty else { return }
        if ignoreMerges, let id = wholeWord(word, &s) {
            out.append(id)
            return
        }
        s.ids.removeAll(keepingCapacity: true)
        if byteLevel {
            for b in word { s.ids.append(byteSymbols[Int(b)]) }
        } else {
            initialChars(word, &s.ids)
        }
        let n = s.ids.count
        s.prev.removeAll(keepingCapacity: true)
        s.next.removeAll(keepingCapacity: true)
        s.alive.removeAll(keepingCapacity: true)
        for i in 0..<n {
            s.prev.append(Int32(i) - 1)
            s.next.append(i + 1 < n ? Int32(i + 1) : -1)
            s.alive.append(true)
        }
        s.queue.removeAll()
        for i in 0..<max(n - 1, 0) {
            if let r = pairs.lookup(s.ids[i], s.ids[i + 1]) { s.queue.push(PairMerge(rank: r.rank, pos: Int32(i), merged: r.merged)) }
        }
        while let top = s.queue.pop() {
            let i = Int(top.pos)
            guard s.alive[i], s.next[i] >= 0 else { continue }
            let j = Int(s.next[i])
            // A stale entry: the pair at `i` is no longer one that merges into `top.merged`.
            guard let r = pairs.lookup(s.ids[i], s.ids[j]), r.merged == top.merged else { continue }
            s.ids[i] = top.merged
            s.alive[j] = false
            s.next[i] = s.next[j]
            if s.next[j] >= 0 { s.prev[Int(s.next[j])] = top.pos }
            let pv = s.prev[i]
            if pv >= 0, let r = pairs.lookup(s.ids[Int(pv)], s.ids[i]) { s.queue.push(PairMerge(rank: r.rank, pos: pv, merged: r.merged)) }
            let nx = s.next[i]
            if nx >= 0, let r = pairs.lookup(s.ids[i], s.ids[Int(nx)]) { s.queue.push(PairMerge(rank: r.rank, pos: top.pos, merged: r.merged)) }
        }
        for i in 0..<n where s.alive[i] {
            if s.ids[i] >= 0 { out.append(s.ids[i]) } else if let u = unkId { out.append(u) }
        }
    }

    /// The token that is the whole word (in its byte-level char form when byte-level), if any.
    private func wholeWord(_ word: UnsafeBufferPointer<UInt8>, _ s: inout BPEScratch) -> Int32? {
        guard byteLevel else { return table.lookup(word) }
        s.mapped.removeAll(keepingCapacity: true)
        for b in word { s.mapped.append(contentsOf: mappedChars[Int(b)]) }
        return s.mapped.withUnsafeBufferPointer { table.lookup($0) }
    }

    /// One symbol per UTF-8 char: its token, else its byte tokens (byte fallback), else the unknown token
    /// (consecutive ones fused when `fuseUnknown`), else nothing — HF's `BPE::merge_word`.
    private func initialChars(_ word: UnsafeBufferPointer<UInt8>, _ ids: inout [Int32]) {
        var pendingUnk = false
        var off = 0
        let n = word.count
        while off < n {
            let l = min(utf8Length(word[off]), n - off)
            defer { off += l }
            if let id = table.lookup(UnsafeBufferPointer(rebasing: word[off..<off + l])) {
                if pendingUnk { ids.append(unkId!); pendingUnk = false }
                ids.append(id)
                continue
            }
            if byteFallback, (off..<off + l).allSatisfy({ fallbackTokens[Int(word[$0])] >= 0 }) {
                if pendingUnk { ids.append(unkId!); pendingUnk = false }
                for k in off..<off + l { ids.append(fallbackTokens[Int(word[k])]) }
                continue
            }
            guard unkId != nil else { continue }
            if pendingUnk && !fuseUnknown { ids.append(unkId!) }
            pendingUnk = true
        }
        if pendingUnk { ids.append(unkId!) }
    }
}
