// The keys and values of the positions seen so far, per layer, for incremental decoding (f32; rope already
// applied to the keys): k[l], v[l] [capacity × Hkv·D], rows 0..<count valid. Also holds the decode step's
// activation buffers, so a FloatModel stays immutable and one cache is one sequence being generated.

public final class KVCache {
    public let capacity: Int
    /// Positions 0..<count hold valid keys and values.
    public internal(set) var count = 0
    let kvDim: Int
    /// Per layer: [capacity × kvDim].
    let k: [UnsafeMutablePointer<Float>]
    let v: [UnsafeMutablePointer<Float>]
    let scratch: DecodeScratch

    /// A cache for `capacity` positions of a model with `config`.
    public init(config c: ModelConfig, capacity: Int) {
        self.capacity = max(1, capacity)
        kvDim = c.kvDim
        k = (0..<c.numLayers).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: max(1, capacity) * c.kvDim) }
        v = (0..<c.numLayers).map { _ in UnsafeMutablePointer<Float>.allocate(capacity: max(1, capacity) * c.kvDim) }
        scratch = DecodeScratch(config: c, capacity: self.capacity)
    }

    deinit {
        for p in k { p.deallocate() }
        for p in v { p.deallocate() }
    }

    /// Forgets every position (the memory is kept).
    public func reset() { count = 0 }

    /// Keeps positions 0..<n (rewinds for a new continuation of a shared prefix).
    public func truncate(to n: Int) { count = min(count, max(0, n)) }

    /// Bytes held by the keys and values.
    public var byteCount: Int { 2 * k.count * capacity * kvDim * 4 }
}

/// Activations of one decode step (one token).
final class DecodeScratch {
    let x, xb, xb2, q, kNew, vNew, att, hb, hb2, logits, scores: UnsafeMutablePointer<Float>
    let matvec = MatVecScratch()

    init(config c: ModelConfig, capacity: Int) {
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
            p.initialize(repeating: 0, count: max(1, n))
            return p
        }
        x = buf(c.hiddenSize)  // residual stream [C]
        xb = buf(max(c.hiddenSize, c.qDim))  // normed input [C]
        xb2 = buf(c.hiddenSize)  // block branch output [C]
        q = buf(c.qDim)  // [H·D]
        kNew = buf(c.kvDim)  // [Hkv·D]
        vNew = buf(c.kvDim)
        att = buf(c.qDim)  // attention output [H·D]
        hb = buf(c.intermediateSize)  // gate, then swiglu [F]
        hb2 = buf(c.intermediateSize)  // up [F]
        logits = buf(c.vocabSize)  // [V]
        scores = buf(c.numHeads * capacity)  // [H × capacity]
    }

    deinit {
        for p in [x, xb, xb2, q, kNew, vNew, att, hb, hb2, logits, scores] { p.deallocate() }
    }
}
