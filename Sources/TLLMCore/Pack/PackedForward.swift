// The forward passes of a packed model, block for block those of FloatModel (Forward.swift, Decode.swift):
//   x = embed(tokens); per block: x += o(attn(rope(q(n1(x))), rope(k(n1(x))), v(n1(x))));
//                                 x += down(silu(gate(n2(x))) ⊙ up(n2(x)));  logits = head(norm(x))
// with every projection through projectBatch / projectVector (packed int8 kernels for ternary weights).
// Buffers as in FloatModel: x, xb [T × C]; q, att [T × H·D]; k, v [T × Hkv·D] or cache rows; hb, hb2 [T × F].

import Foundation

extension PackedModel {
    /// Logits of rows logitsFrom..<T [(T − logitsFrom) × V] after `tokens` at positions cache.count..<+T
    /// (appended to `cache` when given); `blockOutput` sees each block's output [T × C].
    public func forward(tokens: [Int32], cache: KVCache? = nil, logitsFrom: Int = 0,
                        blockOutput: FloatModel.BlockOutputHandler? = nil) throws -> [Float]
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
        setBLASThreads(1)
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> { UnsafeMutablePointer<Float>.allocate(capacity: max(1, n)) }
        let x = buf(T * C), xb = buf(T * C), q = buf(T * qDim), att = buf(T * qDim), hb = buf(T * F), hb2 = buf(T * F)
        let kLocal = cache == nil ? buf(T * kvDim) : nil, vLocal = cache == nil ? buf(T * kvDim) : nil
        defer { for p in [x, xb, q, att, hb, hb2] { p.deallocate() }; kLocal?.deallocate(); vLocal?.deallocate() }
        let rows = T * C >= 1 << 14
        let eps = Float(c.rmsNormEps)
        tokens.withUnsafeBufferPointer { embed($0, into: x) }
        for (li, l) in layers.enumerated() {
            l.inputNorm.withUnsafeBufferPointer { w in
                pool.forRanges(T, parallel: rows) { r in
                    rmsnormForward(xb + r.lowerBound * C, nil, x + r.lowerBound * C, w.baseAddress!, r.count, C, eps: eps)
                }
            }
            let kAll = cache?.k[li] ?? kLocal!, vAll = cache?.v[li] ?? vLocal!
            let kNew = kAll + start * kvDim, vNew = vAll + start * kvDim
            projectBatch(xb, T, [(l.q, l.qBias, q), (l.k, l.kBias, kNew), (l.v, l.vBias, vNew)])
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
            projectBatch(att, T, [(l.o, nil, xb)])
            addInPlace(x, xb, T * C)
            l.postNorm.withUnsafeBufferPointer { w in
                pool.forRanges(T, parallel: rows) { r in
                    rmsnormForward(xb + r.lowerBound * C, nil, x + r.lowerBound * C, w.baseAddress!, r.count, C, eps: eps)
                }
            }
            projectBatch(xb, T, [(l.gate, nil, hb), (l.up, nil, hb2)])
            pool.forRanges(T, parallel: rows) { r in
                swigluForward(hb + r.lowerBound * F, hb + r.lowerBound * F, hb2 + r.lowerBound * F, r.count * F)
            }
            projectBatch(hb, T, [(l.down, nil, xb)])
            addInPlace(x, xb, T * C)
            blockOutput?(li, UnsafeBufferPointer(start: x, count: T * C))
        }
        if let cache { cache.count = L }
        let R = T - logitsFrom
        guard R > 0 else { return [] }
        norm.withUnsafeBufferPointer { rmsnormForward(xb, nil, x + logitsFrom * C, $0.baseAddress!, R, C, eps: eps) }
        return [Float](unsafeUninitializedCapacity: R * V) { out, n in
            if R == 1 { projectVector(xb, [(head, nil, out.baseAddress!)]) } else { projectBatch(xb, R, [(head, nil, out.baseAddress!)]) }
            n = R * V
        }
    }

    /// Feeds `tokens` into `cache` (batched) and returns the logits after the last one [V].
    public func prefill(tokens: [Int32], cache: KVCache) throws -> [Float] {
        try forward(tokens: tokens, cache: cache, logitsFrom: max(0, tokens.count - 1))
    }

    /// Logits [V] after `token` at `position` (≤ cache.count), appending its key and value to `cache`.
    public func step(token: Int32, position: Int, cache: KVCache) throws -> [Float] {
        let s = try stepInPlace(token: token, position: position, cache: cache)
        return Array(UnsafeBufferPointer(start: s, count: config.vocabSize))
    }

    /// `step` without the copy: the logits stay in the cache's scratch until its next step.
    func stepInPlace(token: Int32, position: Int, cache: KVCache) throws -> UnsafeMutablePointer<Float> {
        let c = config
        guard token >= 0, Int(token) < c.vocabSize else {
            throw TLLMError("", "token id \(token) is outside the vocabulary (size \(c.vocabSize))")
        }
        guard position >= 0, position <= cache.count else {
            throw TLLMError("", "position \(position) skips positions: the cache holds \(cache.count)")
        }
        guard position < cache.capacity else { throw TLLMError("", "position \(position) exceeds the KV cache capacity \(cache.capacity)") }
        let C = c.hiddenSize, F = c.intermediateSize, kvDim = c.kvDim, H = c.numHeads, Hkv = c.numKVHeads, D = c.headDim
        let L = position + 1
        rope.reserve(L)
        let s = cache.scratch
        let eps = Float(c.rmsNormEps)
        [token].withUnsafeBufferPointer { embed($0, into: s.x) }
        for (li, l) in layers.enumerated() {
            l.inputNorm.withUnsafeBufferPointer { rmsnormForward(s.xb, nil, s.x, $0.baseAddress!, 1, C, eps: eps) }
            let kRow = cache.k[li] + position * kvDim, vRow = cache.v[li] + position * kvDim
            projectVector(s.xb, [(l.q, l.qBias, s.q), (l.k, l.kBias, kRow), (l.v, l.vBias, vRow)])
            rope.cos.withUnsafeBufferPointer { cs in
                rope.sin.withUnsafeBufferPointer { sn in
                    ropeForward(s.q, 1, nHeads: H, headDim: D, pos0: position, cos: cs.baseAddress!, sin: sn.baseAddress!)
                    ropeForward(kRow, 1, nHeads: Hkv, headDim: D, pos0: position, cos: cs.baseAddress!, sin: sn.baseAddress!)
                }
            }
            attentionDecode(s.att, s.scores, s.q, cache.k[li], cache.v[li], L: L, H: H, Hkv: Hkv, D: D, pool: pool)
            projectVector(s.att, [(l.o, nil, s.xb2)])
            addInPlace(s.x, s.xb2, C)
            l.postNorm.withUnsafeBufferPointer { rmsnormForward(s.xb, nil, s.x, $0.baseAddress!, 1, C, eps: eps) }
            projectVector(s.xb, [(l.gate, nil, s.hb), (l.up, nil, s.hb2)])
            swigluForward(s.hb, s.hb, s.hb2, F)
            projectVector(s.hb, [(l.down, nil, s.xb2)])
            addInPlace(s.x, s.xb2, C)
        }
        cache.count = L
        norm.withUnsafeBufferPointer { rmsnormForward(s.xb, nil, s.x, $0.baseAddress!, 1, C, eps: eps) }
        projectVector(s.xb, [(head, nil, s.logits)])
        return s.logits
    }
}
