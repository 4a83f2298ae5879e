// Sampler: same seed → same tokens; temperature 0 is argmax; top-k / top-p / min-p keep exactly the expected
// sets (checked against sets computed here by brute force); repetition penalty as llama.cpp applies it.

import Foundation
import Testing
@testable import TLLMCore

@Suite("Forward: sampler")
struct ForwardSamplerTests {
    static func logits(_ n: Int, seed: UInt64) -> [Float] {
        var rng = TestRNG(seed)
        return rng.floats(n, scale: 4)
    }

    static func probs(_ z: [Float]) -> [Double] {
        let m = Double(z.max()!)
        let e = z.map { Foundation.exp(Double($0) - m) }
        let s = e.reduce(0, +)
        return e.map { $0 / s }
    }

    @Test func sameSeedSameOutput() {
        let z = Self.logits(300, seed: 1)
        func run(_ seed: UInt64) -> [Int32] {
            var s = Sampler(temperature: 1.0, topK: 0, topP: 1, minP: 0, seed: seed)
            return (0..<200).map { _ in s.sample(z) }
        }
        #expect(run(42) == run(42))
        #expect(run(42) != run(43))
        #expect(Set(run(7)).count > 10)  // it really samples
        var a = SeededRNG(seed: 5), b = SeededRNG(seed: 5)
        #expect((0..<10).map { _ in a.next() } == (0..<10).map { _ in b.next() })
    }

    @Test func temperatureZeroIsArgmax() {
        for seed in 0..<20 as Range<UInt64> {
            let z = Self.logits(97, seed: seed)
            var s = Sampler(temperature: 0, seed: seed)
            let best = z.indices.max { z[$0] < z[$1] }!
            #expect(s.sample(z) == Int32(best))
            var g = Sampler.greedy
            #expect(g.sample(z) == Int32(best))
        }
    }

    @Test func topKKeepsTheKLargest() {
        let z = Self.logits(200, seed: 3)
        for k in [1, 5, 40, 199] {
            let s = Sampler(temperature: 1, topK: k, topP: 1, minP: 0)
            let c = s.candidates(z)
            let expected = Set(z.indices.sorted { z[$0] > z[$1] }.prefix(k).map { Int32($0) })
            #expect(Set(c.map(\.id)) == expected)
            #expect(abs(c.map(\.p).reduce(0, +) - 1) < 1e-5)
            #expect(zip(c, c.dropFirst()).allSatisfy { $0.p >= $1.p })
        }
    }

    @Test func topPKeepsTheSmallestPrefixReachingP() {
        let z = Self.logits(150, seed: 4)
        let p = Self.probs(z)
        let order = z.indices.sorted { z[$0] > z[$1] }
        for topP in [0.05, 0.5, 0.9, 0.99] as [Float] {
            var cum = 0.0, keep = 0
            for i in order { cum += p[i]; keep += 1; if cum >= Double(topP) { break } }
            let s = Sampler(temperature: 1, topK: 0, topP: topP, minP: 0)
            let c = s.candidates(z)
            #expect(c.map(\.id) == order.prefix(keep).map { Int32($0) }, "top-p \(topP)")
            // Renormalized at temperature 1: proportional to the original probabilities.
            let mass = order.prefix(keep).reduce(0.0) { $0 + p[$1] }
            for x in c { #expect(abs(Double(x.p) - p[Int(x.id)] / mass) < 1e-5) }
        }
    }

    @Test func minPKeepsTokensAboveTheRatio() {
        let z = Self.logits(150, seed: 5)
        let p = Self.probs(z)
        let pmax = p.max()!
        for minP in [0.01, 0.1, 0.5, 1.0] as [Float] {
            let s = Sampler(temperature: 1, topK: 0, topP: 1, minP: minP)
            let expected = Set(p.indices.filter { p[$0] >= Double(minP) * pmax }.map { Int32($0) })
            #expect(Set(s.candidates(z).map(\.id)) == expected, "min-p \(minP)")
        }
    }

    @Test func temperatureReshapesTheKeptSet() {
        let z = Self.logits(50, seed: 6)
        let t: Float = 0.5
        let c = Sampler(temperature: t, topK: 0, topP: 1, minP: 0).candidates(z)
        let expected = Self.probs(z.map { $0 / t })
        for x in c { #expect(abs(Double(x.p) - expected[Int(x.id)]) < 1e-5) }
    }

    @Test func repetitionPenalty() {
        let z: [Float] = [2, -2, 1, 0.5, 3]
        let s = Sampler(temperature: 0, repeatPenalty: 2, repeatLastN: 2)
        // Only the last 2 tokens count; each distinct token is penalized once.
        #expect(s.penalized(z, history: [4, 0, 1, 1]) == [2, -4, 1, 0.5, 3])
        #expect(s.penalized(z, history: [0, 4]) == [1, -2, 1, 0.5, 1.5])
        var g = Sampler(temperature: 0, repeatPenalty: 4, repeatLastN: 8)
        #expect(g.sample(z, history: []) == 4)
        #expect(g.sample(z, history: [4]) == 0)  // 3 → 0.75: token 0 (2) wins
        #expect(g.sample(z, history: [4, 0]) == 2)  // 0 → 0.5 and 2 (1) wins
    }

    @Test func samplingFollowsTheDistribution() {
        let z: [Float] = [0, log(3), -50]  // p ≈ [0.25, 0.75, 0]
        var s = Sampler(temperature: 1, topK: 0, topP: 1, minP: 0, seed: 9)
        var counts = [0, 0, 0]
        for _ in 0..<20000 { counts[Int(s.sample(z))] += 1 }
        #expect(counts[2] == 0)
        #expect(abs(Double(counts[1]) / 20000 - 0.75) < 0.02)
    }
}
