// The batched forward pass over a whole sequence (perplexity, calibration, training, prompt prefill):
//   x = embed(tokens); per block: x += o(attn(rope(q(n1(x))), rope(k(n1(x))), v(n1(x))));
//                                 x += down(silu(gate(n2(x))) ⊙ up(n2(x)));  logits = head(norm(x))
// Every projection is one sgemm over the T tokens, split by output columns over the worker pool. Buffers: x, xb
// [T × C]; q, att [T × H·D]; k, v [T × Hkv·D] (or rows of a KVCache); hb, hb2 [T × F]; per-thread attention
// scores [T × L]; logits [(T − logitsFrom) × V].

import Foundation

extension FloatModel {
    /// Hidden state of every block for the tokens of the call: (layer index, residual stream after that block
    /// [T × C], row-major). The buffer is only valid during the call.
    public typealias BlockOutputHandler = (_ layer: Int, _ hidden: UnsafeBufferPointer<Float>) -> Void

    /// Runs `tokens` at positions start..<start+T, start = `cache.count` (0 without a cache), and returns the
    /// logits of rows logitsFrom..<T, [(T − logitsFrom) × V] row-major (row i predicts the token after
    /// tokens[logitsFrom + i]). With a cache, the keys and values are appended to it (prompt prefill); attention
    /// then covers the cached positions too. `blockOutput` receives each block's output [T × C].
    public func forward(tokens: [Int32], cache: KVCache? = nil, logitsFrom: Int = 0,
                        blockOutput: BlockOutputHandler? = nil) throws -> [Float]
    {
        let c = config
        let T = tokens.count, C = c.hiddenSize, qDim = c.qDim, kvDim = c.kvDim, F = c.intermediateSize, V = c.vocabSize
        let H = c.numHeads, Hkv = c.numKVHeads, D = c.headDim
        guard T > 0 else { return [] }
        guard logitsFrom >= 0, logitsFrom <= T else { throw TLLMError("", "logitsFrom \(logitsFrom) outside 0...\(T)") }
        try checkTokens(tokens)
        let start = cache?.count ?? 0, L = start + T
        if let cache, L > cache.capacity {
            throw TLLMError("", "sequence of \(L) positions exceeds the KV cache capacity \(cache.capacity)")
        }
        rope.reserve(L)
        setBLASThreads(1)  // the pool splits every product itself (Ops/MatMul.swift)
        let pool = self.pool

        func buf(_ n: Int) -> UnsafeMutablePointer<Float> { UnsafeMutablePointer<Float>.allocate(capacity: max(1, n)) }
        let x = buf(T * C), xb = buf(T * C), q = buf(T * qDim), att = buf(T * qDim)
        let hb = buf(T * F), hb2 = buf(T * F)
        let kLocal = cache == nil ? buf(T * kvDim) : nil, vLocal = cache == nil ? buf(T * kvDim) : nil
        defer { for p in [x, xb, q, att, hb, hb2] { p.deallocate() }; kLocal?.deallocate(); vLocal?.deallocate() }
        let rows = T * C >= 1 << 14  // elementwise work worth splitting by rows

        tokens.withUnsafeBufferPointer { embeddingForward(x, $0, embedding) }
        let eps = Float(c.rmsNormEps)
        for (li, l) in layers.enumerated() {
            // attention
            l.inputNorm.withUnsafeBufferPointer { w in
                pool.forRanges(T, parallel: rows) { r in
                    rmsnormForward(xb + r.lowerBound * C, nil, x + r.lowerBound * C, w.baseAddress!, r.count, C, eps: eps)
                }
            }
            let kAll = cache?.k[li] ?? kLocal!, vAll = cache?.v[li] ?? vLocal!
            let kNew = kAll + start * kvDim, vNew = vAll + start * kvDim
            withOptionalPointer(l.qBias) { matmul(xb, T, l.q, bias: $0, q, pool: pool) }
            withOptionalPointer(l.kBias) { matmul(xb, T, l.k, bias: $0, kNew, pool: pool) }
            withOptionalPointer(l.vBias) { matmul(xb, T, l.v, bias: $0, vNew, pool: pool) }
            rope.cos.withUnsafeBufferPointer { cs in
                rope.sin.withUnsafeBufferPointer { sn in
                    pool.forRanges(T, parallel: rows) { r in
                        let p0 = start + r.lowerBound
                        ropeForward(q + r.lowerBound * qDim, r.count, nHeads: H, headDim: D, pos0: p0, cos: cs.baseAddress!, sin: sn.baseAddress!)
                        ropeForward(kNew + r.lowerBound * kvDim, r.count, nHeads: Hkv, headDim: D, pos0: p0, cos: cs.baseAddress!, sin: sn.baseAddress!)
                    }
                }
            }
            attentionForward(att, nil, q, kAll, vAll, T: T, L: L, H: H, Hkv: Hkv, D: D, pool: pool)
            matmul(att, T, l.o, xb, pool: pool)
            addInPlace(x, xb, T * C)
            // MLP
            l.postNorm.withUnsafeBufferPointer { w in
                pool.forRanges(T, parallel: rows) { r in
                    rmsnormForward(xb + r.lowerBound * C, nil, x + r.lowerBound * C, w.baseAddress!, r.count, C, eps: eps)
                }
            }
            matmul(xb, T, l.gate, hb, pool: pool)
            matmul(xb, T, l.up, hb2, pool: pool)
            pool.forRanges(T, parallel: rows) { r in
                swigluForward(hb + r.lowerBound * F, hb + r.lowerBound * F, hb2 + r.lowerBound * F, r.count * F)
            }
            matmul(hb, T, l.down, xb, pool: pool)
            addInPlace(x, xb, T * C)
            blockOutput?(li, UnsafeBufferPointer(start: x, count: T * C))
        }
        if let cache { cache.count = L }

        let R = T - logitsFrom
        guard R > 0 else { return [] }
        norm.withUnsafeBufferPointer { rmsnormForward(xb, nil, x + logitsFrom * C, $0.baseAddress!, R, C, eps: eps) }
        return [Float](unsafeUninitializedCapacity: R * V) { out, n in
            matmul(xb, R, head, out.baseAddress!, pool: pool)
            n = R * V
        }
    }

    /// Feeds `tokens` into `cache` (batched) and returns the logits after the last one [V].
    public func prefill(tokens: [Int32], cache: KVCache) throws -> [Float] {
        try forward(tokens: tokens, cache: cache, logitsFrom: max(0, tokens.count - 1))
    }

    /// A KV cache for up to `capacity` positions (default: the model's max positions).
    public func makeCache(capacity: Int? = nil) -> KVCache {
        KVCache(config: config, capacity: capacity ?? config.maxPositions)
    }
}

/// x += y over n elements.
@inline(__always)
func addInPlace(_ x: UnsafeMutablePointer<Float>, _ y: UnsafePointer<Float>, _ n: Int) {
    for i in 0..<n { x[i] += y[i] }
}

/// Calls `body` with a pointer to the array's elements, or nil.
@inline(__always)
func withOptionalPointer<R>(_ a: [Float]?, _ body: (UnsafePointer<Float>?) -> R) -> R {
    guard let a else { return body(nil) }
    return a.withUnsafeBufferPointer { body($0.baseAddress!) }
}
