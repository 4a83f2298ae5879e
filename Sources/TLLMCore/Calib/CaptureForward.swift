// The batched forward pass of Forward.swift with a hook on the inputs of the linear layers, for calibration
// statistics (XᵀX per input site): per block, n1(x) → q/k/v (site qkv), attention output → o (site o),
// n2(x) → gate/up (site gateUp), silu(gate)⊙up → down (site down). Same ops in the same order as
// FloatModel.forward, so block outputs agree bit for bit (tested). Buffers as there: x, xb [T × C] …

extension FloatModel {
    /// The input X [T × K] of the linear layers at `site` of block `layer`; valid during the call only.
    public typealias LinearInputHandler = (_ layer: Int, _ site: CalibSite, _ x: UnsafeBufferPointer<Float>) -> Void

    /// Runs `tokens` (positions 0..<T, no cache) calling `linearInput` for every site of every block and
    /// `blockOutput` with each block's output; returns the logits of rows logitsFrom..<T (none by default).
    @discardableResult
    public func forwardCapturing(tokens: [Int32], logitsFrom: Int? = nil, linearInput: LinearInputHandler,
                                 blockOutput: BlockOutputHandler? = nil) throws -> [Float]
    {
        let c = config
        let T = tokens.count, C = c.hiddenSize, qDim = c.qDim, kvDim = c.kvDim, F = c.intermediateSize, V = c.vocabSize
        let H = c.numHeads, Hkv = c.numKVHeads, D = c.headDim
        guard T > 0 else { return [] }
        let from = logitsFrom ?? T
        guard from >= 0, from <= T else { throw TLLMError("", "logitsFrom \(from) outside 0...\(T)") }
        try checkTokens(tokens)
        rope.reserve(T)
        setBLASThreads(1)
        let pool = self.pool
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> { UnsafeMutablePointer<Float>.allocate(capacity: max(1, n)) }
        let x = buf(T * C), xb = buf(T * C), q = buf(T * qDim), att = buf(T * qDim)
        let hb = buf(T * F), hb2 = buf(T * F), k = buf(T * kvDim), v = buf(T * kvDim)
        defer { for p in [x, xb, q, att, hb, hb2, k, v] { p.deallocate() } }
        let rows = T * C >= 1 << 14
        func view(_ p: UnsafeMutablePointer<Float>, _ n: Int) -> UnsafeBufferPointer<Float> { UnsafeBufferPointer(start: p, count: n) }

        tokens.withUnsafeBufferPointer { embeddingForward(x, $0, embedding) }
        let eps = Float(c.rmsNormEps)
        for (li, l) in layers.enumerated() {
            l.inputNorm.withUnsafeBufferPointer { w in
                pool.forRanges(T, parallel: rows) { r in
                    rmsnormForward(xb + r.lowerBound * C, nil, x + r.lowerBound * C, w.baseAddress!, r.count, C, eps: eps)
                }
            }
            linearInput(li, .qkv, view(xb, T * C))
            withOptionalPointer(l.qBias) { matmul(xb, T, l.q, bias: $0, q, pool: pool) }
            withOptionalPointer(l.kBias) { matmul(xb, T, l.k, bias: $0, k, pool: pool) }
            withOptionalPointer(l.vBias) { matmul(xb, T, l.v, bias: $0, v, pool: pool) }
            rope.cos.withUnsafeBufferPointer { cs in
                rope.sin.withUnsafeBufferPointer { sn in
                    pool.forRanges(T, parallel: rows) { r in
                        let p0 = r.lowerBound
                        ropeForward(q + r.lowerBound * qDim, r.count, nHeads: H, headDim: D, pos0: p0, cos: cs.baseAddress!, sin: sn.baseAddress!)
                        ropeForward(k + r.lowerBound * kvDim, r.count, nHeads: Hkv, headDim: D, pos0: p0, cos: cs.baseAddress!, sin: sn.baseAddress!)
                    }
                }
            }
            attentionForward(att, nil, q, k, v, T: T, L: T, H: H, Hkv: Hkv, D: D, pool: pool)
            linearInput(li, .o, view(att, T * qDim))
            matmul(att, T, l.o, xb, pool: pool)
            addInPlace(x, xb, T * C)
            l.postNorm.withUnsafeBufferPointer { w in
                pool.forRanges(T, parallel: rows) { r in
                    rmsnormForward(xb + r.lowerBound * C, nil, x + r.lowerBound * C, w.baseAddress!, r.count, C, eps: eps)
                }
            }
            linearInput(li, .gateUp, view(xb, T * C))
            matmul(xb, T, l.gate, hb, pool: pool)
            matmul(xb, T, l.up, hb2, pool: pool)
            pool.forRanges(T, parallel: rows) { r in
                swigluForward(hb + r.lowerBound * F, hb + r.lowerBound * F, hb2 + r.lowerBound * F, r.count * F)
            }
            linearInput(li, .down, view(hb, T * F))
            matmul(hb, T, l.down, xb, pool: pool)
            addInPlace(x, xb, T * C)
            blockOutput?(li, view(x, T * C))
        }
        let R = T - from
        guard R > 0 else { return [] }
        norm.withUnsafeBufferPointer { rmsnormForward(xb, nil, x + from * C, $0.baseAddress!, R, C, eps: eps) }
        return [Float](unsafeUninitializedCapacity: R * V) { out, n in
            matmul(xb, R, head, out.baseAddress!, pool: pool)
            n = R * V
        }
    }
}
