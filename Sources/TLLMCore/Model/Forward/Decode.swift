// Incremental decoding: one token at one position against the KV cache, the same block as Forward.swift with
// every projection a mat-vec (Ops/MatVec.swift: SIMD, weights converted in registers, rows split over the
// worker pool). Buffers live in the cache's DecodeScratch: x, xb, xb2 [C]; q, att [H·D]; hb, hb2 [F]; logits [V].

extension FloatModel {
    /// Logits [V] after `token` at `position`, appending its key and value to `cache`. `position` may be at most
    /// `cache.count` (positions after it are dropped, so a cache can be rewound to a shared prefix).
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
        guard position < cache.capacity else {
            throw TLLMError("", "position \(position) exceeds the KV cache capacity \(cache.capacity)")
        }
        let C = c.hiddenSize, F = c.intermediateSize, kvDim = c.kvDim
        let H = c.numHeads, Hkv = c.numKVHeads, D = c.headDim
        let L = position + 1
        rope.reserve(L)
        let s = cache.scratch
        let eps = Float(c.rmsNormEps)
        embedding.rowsAsFloat(Int(token)..<(Int(token) + 1), into: s.x)
        for (li, l) in layers.enumerated() {
            // attention
            l.inputNorm.withUnsafeBufferPointer { rmsnormForward(s.xb, nil, s.x, $0.baseAddress!, 1, C, eps: eps) }
            let kRow = cache.k[li] + position * kvDim, vRow = cache.v[li] + position * kvDim
            matvec(l.q, s.xb, s.q, pool: pool, scratch: s.matvec)
            matvec(l.k, s.xb, kRow, pool: pool, scratch: s.matvec)
            matvec(l.v, s.xb, vRow, pool: pool, scratch: s.matvec)
            if let b = l.qBias { addInPlace(s.q, b, c.qDim) }
            if let b = l.kBias { addInPlace(kRow, b, kvDim) }
            if let b = l.vBias { addInPlace(vRow, b, kvDim) }
            rope.cos.withUnsafeBufferPointer { cs in
                rope.sin.withUnsafeBufferPointer { sn in
                    ropeForward(s.q, 1, nHeads: H, headDim: D, pos0: position, cos: cs.baseAddress!, sin: sn.baseAddress!)
                    ropeForward(kRow, 1, nHeads: Hkv, headDim: D, pos0: position, cos: cs.baseAddress!, sin: sn.baseAddress!)
                }
            }
            attentionDecode(s.att, s.scores, s.q, cache.k[li], cache.v[li], L: L, H: H, Hkv: Hkv, D: D, pool: pool)
            matvec(l.o, s.att, s.xb2, pool: pool, scratch: s.matvec)
            addInPlace(s.x, s.xb2, C)
            // MLP
            l.postNorm.withUnsafeBufferPointer { rmsnormForward(s.xb, nil, s.x, $0.baseAddress!, 1, C, eps: eps) }
            matvec(l.gate, s.xb, s.hb, pool: pool, scratch: s.matvec)
            matvec(l.up, s.xb, s.hb2, pool: pool, scratch: s.matvec)
            swigluForward(s.hb, s.hb, s.hb2, F)
            matvec(l.down, s.hb, s.xb2, pool: pool, scratch: s.matvec)
            addInPlace(s.x, s.xb2, C)
        }
        cache.count = L
        norm.withUnsafeBufferPointer { rmsnormForward(s.xb, nil, s.x, $0.baseAddress!, 1, C, eps: eps) }
        matvec(head, s.xb, s.logits, pool: pool, scratch: s.matvec)
        return s.logits
    }
}
