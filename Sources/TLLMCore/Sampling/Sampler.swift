// Picks the next token from logits [V], in llama.cpp's default order: repetition penalty → top-k → top-p →
// min-p → temperature → draw with a seeded RNG. Temperature ≤ 0 is greedy (argmax after the penalty).
// Repetition penalty (CTRL, Keskar et al. 2019): a logit of a token among the last `repeatLastN` is divided
// by the penalty when positive, multiplied when negative. top-p keeps the smallest most-probable prefix whose
// mass reaches p; min-p keeps tokens with p ≥ minP · p_max; both on the distribution before temperature.

import Foundation

public struct Sampler: Sendable {
    /// ≤ 0: greedy.
    public var temperature: Float
    /// ≤ 0 or ≥ V: off.
    public var topK: Int
    /// ≥ 1: off.
    public var topP: Float
    /// ≤ 0: off.
    public var minP: Float
    /// 1: off.
    public var repeatPenalty: Float
    /// How many of the most recent tokens the penalty looks at (≤ 0: none).
    public var repeatLastN: Int
    public var rng: SeededRNG

    /// llama.cpp's defaults.
    public init(temperature: Float = 0.8, topK: Int = 40, topP: Float = 0.95, minP: Float = 0.05,
                repeatPenalty: Float = 1.0, repeatLastN: Int = 64, seed: UInt64 = 0)
    {
        self.temperature = temperature
        self.topK = topK
        self.topP = topP
        self.minP = minP
        self.repeatPenalty = repeatPenalty
        self.repeatLastN = repeatLastN
        rng = SeededRNG(seed: seed)
    }

    /// Argmax sampling.
    public static var greedy: Sampler { Sampler(temperature: 0, topK: 0, topP: 1, minP: 0) }

    /// The next token. `history` is the sequence so far (prompt and generated), for the repetition penalty.
    public mutating func sample(_ logits: [Float], history: [Int32] = []) -> Int32 {
        let z = penalized(logits, history: history)
        if temperature <= 0 { return Sampler.argmax(z) }
        let cands = candidates(penalizedLogits: z)
        var r = Float(rng.nextUnit())
        for c in cands {
            r -= c.p
            if r < 0 { return c.id }
        }
        return cands.last!.id  // rounding left r ≥ 0 after the last one
    }

    /// The distribution `sample` draws from: kept tokens, most probable first, with probabilities renormalized
    /// over them (softmax of logit/temperature); the argmax alone when temperature ≤ 0.
    public func candidates(_ logits: [Float], history: [Int32] = []) -> [(id: Int32, p: Float)] {
        let z = penalized(logits, history: history)
        if temperature <= 0 { return [(Sampler.argmax(z), 1)] }
        return candidates(penalizedLogits: z)
    }

    func candidates(penalizedLogits z: [Float]) -> [(id: Int32, p: Float)] {
        let V = z.count
        // top-k: the k largest logits (ties broken by lower id), sorted descending.
        var ids: [Int32]
        let byLogit: (Int32, Int32) -> Bool = { z[Int($0)] > z[Int($1)] || (z[Int($0)] == z[Int($1)] && $0 < $1) }
        if topK > 0 && topK < V {
            ids = Sampler.topIndices(z, topK)
        } else {
            ids = (0..<Int32(V)).sorted(by: byLogit)
        }
        // Probabilities before temperature, over the kept set.
        let m = z[Int(ids[0])]
        var p = ids.map { Double(Foundation.exp(z[Int($0)] - m)) }
        var total = p.reduce(0, +)
        // top-p
        if topP < 1 {
            var cum = 0.0, keep = ids.count
            for i in 0..<ids.count {
                cum += p[i] / total
                if cum >= Double(topP) { keep = i + 1; break }
            }
            ids.removeSubrange(keep...)
            p.removeSubrange(keep...)
            total = p.reduce(0, +)
        }
        // min-p: p_i ≥ minP · p_max (p[0] is the max)
        if minP > 0 {
            let threshold = Double(minP) * p[0]
            var keep = 1
            while keep < p.count && p[keep] >= threshold { keep += 1 }
            ids.removeSubrange(keep...)
            p.removeSubrange(keep...)
        }
        // temperature
        let inv = 1 / Double(temperature)
        var q = ids.map { Foundation.exp(Double(z[Int($0)] - m) * inv) }
        let s = q.reduce(0, +)
        for i in 0..<q.count { q[i] /= s }
        return zip(ids, q).map { ($0, Float($1)) }
    }

    /// Logits with the repetition penalty applied (each distinct recent token once).
    public func penalized(_ logits: [Float], history: [Int32]) -> [Float] {
        guard repeatPenalty != 1, repeatLastN > 0, !history.isEmpty else { return logits }
        var z = logits
        var seen = Set<Int32>()
        for t in history.suffix(repeatLastN) where t >= 0 && Int(t) < z.count && seen.insert(t).inserted {
            let i = Int(t)
            z[i] = z[i] > 0 ? z[i] / repeatPenalty : z[i] * repeatPenalty
        }
        return z
    }

    /// Index of the largest value (the lowest index among ties).
    public static func argmax(_ x: [Float]) -> Int32 {
        var best = 0
        for i in 1..<x.count where x[i] > x[best] { best = i }
        return Int32(best)
    }

    /// Indices of the k largest values, largest first (ties: lower index first), by a size-k min-heap.
    static func topIndices(_ z: [Float], _ k: Int) -> [Int32] {
        // "worse" = smaller value, or equal value and larger index.
        func worse(_ a: Int32, _ b: Int32) -> Bool { z[Int(a)] < z[Int(b)] || (z[Int(a)] == z[Int(b)] && a > b) }
        var heap: [Int32] = []
        heap.reserveCapacity(k)
        func siftDown(_ i0: Int) {
            var i = i0
            while true {
                let l = 2 * i + 1, r = l + 1
                var w = i
                if l < heap.count && worse(heap[l], heap[w]) { w = l }
                if r < heap.count && worse(heap[r], heap[w]) { w = r }
                if w == i { return }
                heap.swapAt(i, w)
                i = w
            }
        }
        for i in 0..<Int32(z.count) {
            if heap.count < k {
                heap.append(i)
                var c = heap.count - 1
                while c > 0 {
                    let parent = (c - 1) / 2
                    if worse(heap[c], heap[parent]) { heap.swapAt(c, parent); c = parent } else { break }
                }
            } else if worse(heap[0], i) {
                heap[0] = i
                siftDown(0)
            }
        }
        return heap.sorted { worse($1, $0) }
    }
}
