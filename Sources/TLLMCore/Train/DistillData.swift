// The sequences a distillation run trains and evaluates on, from a calibration container (DESIGN §9): the train
// split in a seeded order (one shuffle per epoch, so the batch of any step follows from the seed and the step
// alone: resuming needs no other data state), the held-out split for perplexity, and the teacher's captured block
// outputs (f16) read for any batch.

import Foundation

public final class DistillData {
    public let calib: CalibData
    public let seqLen: Int
    public let tokens: [Int32]
    /// Sequence indices of the train and held-out splits.
    public let train: [Int]
    public let heldOut: [Int]
    public let seed: UInt64
    /// Captured hidden states by block.
    private let hidden: [Int: Tensor]
    private var orderCache: (epoch: Int, order: [Int])?

    public init(calib: CalibData, seed: UInt64) throws {
        self.calib = calib
        self.seed = seed
        seqLen = calib.seqLen
        tokens = calib.tokens()
        let split = calib.split()
        guard split.count == calib.samples, tokens.count == calib.samples * seqLen else {
            throw TLLMError(calib.path, "calib container: tokens and split disagree on the number of sequences")
        }
        train = split.indices.filter { split[$0] == 0 }
        heldOut = split.indices.filter { split[$0] != 0 }
        guard !train.isEmpty else { throw TLLMError(calib.path, "calib container has no train sequences") }
        var h: [Int: Tensor] = [:]
        let C = calib.config.hiddenSize
        for l in 0..<calib.config.numLayers {
            guard let t = calib.hidden(l) else { continue }
            guard t.dtype == .f16, t.shape == [calib.samples, seqLen, C] else {
                throw TLLMError(calib.path, "\(t.name) is \(t.dtype.rawValue) \(t.shape), expected f16 [\(calib.samples), \(seqLen), \(C)]")
            }
            h[l] = t
        }
        hidden = h
    }

    /// Blocks whose outputs were captured.
    public var capturedLayers: [Int] { hidden.keys.sorted() }

    /// The train order of one epoch: a seeded Fisher–Yates shuffle of the train split.
    public func order(epoch: Int) -> [Int] {
        if let c = orderCache, c.epoch == epoch { return c.order }
        var rng = SeededRNG(seed: seed &+ 0x5EED_0000 &+ UInt64(epoch) &* 0x9E37_79B9_7F4A_7C15)
        var o = train
        if o.count > 1 {
            for i in stride(from: o.count - 1, to: 0, by: -1) {
                let j = Int(rng.next() % UInt64(i + 1))
                o.swapAt(i, j)
            }
        }
        orderCache = (epoch, o)
        return o
    }

    /// The sequence indices of step s's batch of B, and the (epoch, offset) the step starts at.
    public func batch(step s: Int, size B: Int) -> (sequences: [Int], epoch: Int, offset: Int) {
        let n = train.count, start = s * B
        var out: [Int] = []
        for i in 0..<B {
            let p = start + i
            out.append(order(epoch: p / n)[p % n])
        }
        return (out, start / n, start % n)
    }

    /// Tokens of the given sequences, concatenated [B × L].
    public func tokens(of seqs: [Int]) -> [Int32] {
        var out: [Int32] = []
        out.reserveCapacity(seqs.count * seqLen)
        for s in seqs { out += tokens[(s * seqLen)..<((s + 1) * seqLen)] }
        return out
    }

    /// The held-out sequences.
    public var heldOutSequences: [[Int32]] { heldOut.map { Array(tokens[($0 * seqLen)..<(($0 + 1) * seqLen)]) } }

    /// Writes block l's captured output for `seqs` [B·L × C] as f32; false when block l was not captured.
    public func capturedHidden(_ l: Int, _ seqs: [Int], into out: UnsafeMutablePointer<Float>) -> Bool {
        guard let t = hidden[l] else { return false }
        let row = seqLen * calib.config.hiddenSize
        let src = t.bytes.bindMemory(to: Float16.self)
        for (b, s) in seqs.enumerated() {
            let o = out + b * row, base = s * row
            for i in 0..<row { o[i] = Float(src[base + i]) }
        }
        return true
    }
}
