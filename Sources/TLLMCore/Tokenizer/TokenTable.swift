// Hash tables of the tokenizers, built once per vocabulary: token text (bytes) → id, and token pair → merge.
// Both are open-addressing tables over flat arrays, so a lookup in the merge loops hashes a few bytes and
// compares in place (no String is built per lookup). Load factor ≤ 1/2; a vocabulary of V tokens costs
// about 16·V bytes of slots plus the token bytes themselves.

/// Token text (its UTF-8 bytes) → token id. When two ids share a text, the later id wins (as llama.cpp's
/// `token_to_id` map does when it is filled in id order).
struct TokenTable: Sendable {
    private var bytes: [UInt8] = []  // all token texts, concatenated
    private var offsets: [Int32] = [0]  // token i is bytes[offsets[i]..<offsets[i + 1]]
    private var slots: [Int32]  // -1 = empty, else a token id
    private let mask: Int

    init(_ tokens: [String]) {
        var cap = 16
        while cap < tokens.count * 2 { cap <<= 1 }
        slots = [Int32](repeating: -1, count: cap)
        mask = cap - 1
        offsets.reserveCapacity(tokens.count + 1)
        for t in tokens {
            bytes.append(contentsOf: t.utf8)
            offsets.append(Int32(bytes.count))
        }
        for id in 0..<tokens.count { insert(Int32(id)) }
    }

    var count: Int { offsets.count - 1 }

    /// The bytes of token `id`.
    func text(_ id: Int32) -> ArraySlice<UInt8> { bytes[Int(offsets[Int(id)])..<Int(offsets[Int(id) + 1])] }

    private mutating func insert(_ id: Int32) {
        let lo = Int(offsets[Int(id)]), hi = Int(offsets[Int(id) + 1])
        var i = bytes.withUnsafeBufferPointer { TokenTable.hash(UnsafeBufferPointer(rebasing: $0[lo..<hi])) } & mask
        while slots[i] >= 0 {
            if equal(slots[i], lo, hi) { slots[i] = id; return }
            i = (i + 1) & mask
        }
        slots[i] = id
    }

    private func equal(_ other: Int32, _ lo: Int, _ hi: Int) -> Bool {
        let olo = Int(offsets[Int(other)]), ohi = Int(offsets[Int(other) + 1])
        return ohi - olo == hi - lo && bytes[olo..<ohi].elementsEqual(bytes[lo..<hi])
    }

    /// The id of the token whose text is exactly `key`, or nil.
    func lookup(_ key: UnsafeBufferPointer<UInt8>) -> Int32? {
        var i = TokenTable.hash(key) & mask
        return bytes.withUnsafeBufferPointer { all in
            while true {
                let id = slots[i]
                if id < 0 { return nil }
                let lo = Int(offsets[Int(id)]), n = Int(offsets[Int(id) + 1]) - lo
                if n == key.count, n == 0 || memoryEqual(all.baseAddress! + lo, key.baseAddress!, n) { return id }
                i = (i + 1) & mask
            }
        }
    }

    func lookup(_ key: [UInt8]) -> Int32? { key.withUnsafeBufferPointer { lookup($0) } }
    func lookup(_ key: String) -> Int32? { lookup(Array(key.utf8)) }

    /// FNV-1a over the bytes, finished with a multiply so the low bits (the slot index) mix well.
    @inline(__always)
    static func hash(_ b: UnsafeBufferPointer<UInt8>) -> Int {
        var h: UInt64 = 0xcbf2_9ce4_8422_2325
        for x in b { h = (h ^ UInt64(x)) &* 0x0000_0100_0000_01b3 }
        h = (h ^ (h >> 29)) &* 0xbf58_476d_1ce4_e5b9
        return Int(truncatingIfNeeded: h ^ (h >> 32))
    }
}

@inline(__always)
private func memoryEqual(_ a: UnsafePointer<UInt8>, _ b: UnsafePointer<UInt8>, _ n: Int) -> Bool {
    for k in 0..<n where a[k] != b[k] { return false }
    return true
}

/// One BPE merge as the merge loop sees it: its rank (0 = applied first) and the id of the merged token.
struct MergeRule: Sendable, Equatable {
    var rank: Int32
    var merged: Int32
}

/// (left id, right id) → merge rule. The first rule given for a pair is kept (the lower rank).
struct PairTable: Sendable {
    private var keys: [UInt64]  // UInt64.max = empty
    private var values: [MergeRule]
    private let mask: Int
    private(set) var count = 0

    init(capacity n: Int) {
        var cap = 16
        while cap < n * 2 { cap <<= 1 }
        keys = [UInt64](repeating: .max, count: cap)
        values = [MergeRule](repeating: MergeRule(rank: 0, merged: 0), count: cap)
        mask = cap - 1
    }

    @inline(__always)
    private static func key(_ a: Int32, _ b: Int32) -> UInt64 { UInt64(UInt32(bitPattern: a)) << 32 | UInt64(UInt32(bitPattern: b)) }

    @inline(__always)
    private func slot(_ k: UInt64) -> Int {
        var h = k &* 0x9e37_79b9_7f4a_7c15
        h ^= h >> 31
        return Int(truncatingIfNeeded: h) & mask
    }

    /// Adds the rule unless the pair already has one; returns whether it was added.
    @discardableResult
    mutating func insert(_ a: Int32, _ b: Int32, _ rule: MergeRule) -> Bool {
        let k = PairTable.key(a, b)
        var i = slot(k)
        while keys[i] != .max {
            if keys[i] == k { return false }
            i = (i + 1) & mask
        }
        keys[i] = k
        values[i] = rule
        count += 1
        return true
    }

    @inline(__always)
    func lookup(_ a: Int32, _ b: Int32) -> MergeRule? {
        let k = PairTable.key(a, b)
        var i = slot(k)
        while true {
            let s = keys[i]
            if s == k { return values[i] }
            if s == .max { return nil }
            i = (i + 1) & mask
        }
    }
}

/// A binary heap that pops its "least" element first, as `Element.<` orders them.
struct MergeQueue<Element: Comparable> {
    private var heap: [Element] = []

    init(capacity: Int = 0) { heap.reserveCapacity(capacity) }

    var isEmpty: Bool { heap.isEmpty }

    mutating func removeAll() { heap.removeAll(keepingCapacity: true) }

    /// Sift up / down move a "hole" instead of swapping, over unchecked buffer access (this heap is the
    /// encoder's hottest loop).
    mutating func push(_ e: Element) {
        heap.append(e)
        heap.withUnsafeMutableBufferPointer { h in
            var i = h.count - 1
            while i > 0 {
                let p = (i - 1) >> 1
                guard e < h[p] else { break }
                h[i] = h[p]
                i = p
            }
            h[i] = e
        }
    }

    mutating func pop() -> Element? {
        guard let last = heap.popLast() else { return nil }
        guard !heap.isEmpty else { return last }
        return heap.withUnsafeMutableBufferPointer { h in
            let top = h[0]
            let n = h.count
            var i = 0
            while true {
                let l = 2 * i + 1
                if l >= n { break }
                let c = l + 1 < n && h[l + 1] < h[l] ? l + 1 : l
                guard h[c] < last else { break }
                h[i] = h[c]
                i = c
            }
            h[i] = last
            return top
        }
    }
}
