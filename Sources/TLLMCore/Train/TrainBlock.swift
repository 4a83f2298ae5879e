// One decoder block, forward and backward, over B sequences of T tokens (N = B·T rows, each sequence at
// positions 0..<T), in the llm.c manner: the forward pass keeps every intermediate in BlockActivations, the
// backward pass walks the same ops in reverse, adding into the parameter gradients (ParamStore, ∂L/∂Ŵ of the
// ternarized linears). Activation checkpointing is the caller's: it keeps each block's input and recomputes
// the block's forward just before its backward, so one BlockActivations serves every block.
//   n1 = rmsnorm(x; w1)   q, k, v = n1·Ŵqᵀ (+b), …   q, k = rope(q, k)   a = attention(q, k, v)
//   x1 = x + a·Ŵoᵀ        n2 = rmsnorm(x1; w2)      g, u = n2·Ŵgᵀ, n2·Ŵuᵀ   h = silu(g)⊙u   y = x1 + h·Ŵdᵀ

import Foundation

/// Every intermediate of one block's forward pass, and the backward pass's scratch, for up to B·T rows.
public final class BlockActivations {
    public let B: Int, T: Int
    let n1, rstd1, q, k, v, probs, att, x1, n2, rstd2, g, u, h: UnsafeMutablePointer<Float>
    // backward scratch
    let dx1, dn, dq, dk, dv, datt, dh, dg, du: UnsafeMutablePointer<Float>
    private var all: [UnsafeMutablePointer<Float>] = []

    public init(config c: ModelConfig, B: Int, T: Int) {
        self.B = B
        self.T = T
        let N = B * T, C = c.hiddenSize, F = c.intermediateSize, qD = c.qDim, kvD = c.kvDim
        var list: [UnsafeMutablePointer<Float>] = []
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> {
            let p = UnsafeMutablePointer<Float>.allocate(capacity: max(1, n))
            p.initialize(repeating: 0, count: max(1, n))
            list.append(p)
            return p
        }
        n1 = buf(N * C); rstd1 = buf(N); q = buf(N * qD); k = buf(N * kvD); v = buf(N * kvD)
        probs = buf(B * c.numHeads * T * T); att = buf(N * qD); x1 = buf(N * C); n2 = buf(N * C); rstd2 = buf(N)
        g = buf(N * F); u = buf(N * F); h = buf(N * F)
        dx1 = buf(N * C); dn = buf(N * C); dq = buf(N * qD); dk = buf(N * kvD); dv = buf(N * kvD); datt = buf(N * qD)
        dh = buf(N * F); dg = buf(N * F); du = buf(N * F)
        all = list
    }

    deinit { for p in all { p.deallocate() } }
}

extension TrainModel {
    /// Rows worth splitting across the pool for elementwise work.
    func rowsParallel(_ n: Int, _ width: Int) -> Bool { n * width >= 1 << 14 }

    /// RMSNorm of N rows split over the pool.
    func normForward(_ out: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>,
                     _ w: Int, _ N: Int)
    {
        let C = config.hiddenSize, eps = Float(config.rmsNormEps), wp = params.value(w)
        pool.forRanges(N, parallel: rowsParallel(N, C)) { r in
            rmsnormForward(out + r.lowerBound * C, rstd + r.lowerBound, x + r.lowerBound * C, wp, r.count, C, eps: eps)
        }
    }

    /// dx += ∂/∂x of RMSNorm, and the weight's gradient when it is trained.
    func normBackward(_ dx: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ x: UnsafePointer<Float>,
                      _ rstd: UnsafePointer<Float>, _ w: Int, _ N: Int)
    {
        let C = config.hiddenSize, wp = params.value(w)
        pool.forRanges(N, parallel: rowsParallel(N, C)) { r in
            rmsnormBackward(dx + r.lowerBound * C, dout + r.lowerBound * C, x + r.lowerBound * C, wp, rstd + r.lowerBound, r.count, C)
        }
        if let dw = params.gradIfTrained(w) { rmsnormWeightBackward(dw, dout, x, rstd, N, C) }
    }

    /// y = x·Ŵᵀ (+ bias).
    func linear(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ lin: TrainLinear, bias: Int? = nil, _ N: Int) {
        linearForward(y, x, lin.hat, N, lin.rows, lin.cols, pool: pool)
        if let bias {
            let b = params.value(bias), n = lin.rows
            for t in 0..<N { for j in 0..<n { y[t * n + j] += b[j] } }
        }
    }

    /// dx += dy·Ŵ (when dx is given); ∂L/∂Ŵ += dyᵀ·x when the weight (or its α, γ) is trained; bias gradient.
    func linearBack(_ dx: UnsafeMutablePointer<Float>?, _ dy: UnsafePointer<Float>, _ x: UnsafePointer<Float>, _ lin: TrainLinear,
                    bias: Int? = nil, _ N: Int)
    {
        let trained = lin.quantizer != nil
            ? params.trainable(lin.w) || params.trainable(lin.alpha!) || params.trainable(lin.gamma!)
            : params.trainable(lin.w)
        linearBackward(dx, trained ? lin.dhat : nil, dy, x, lin.hat, N, lin.rows, lin.cols, pool: pool)
        if let db = params.gradIfTrained(bias) {
            let n = lin.rows
            for t in 0..<N { for j in 0..<n { db[j] += dy[t * n + j] } }
        }
    }

    /// Rotary embedding of q and k in place (forward) or of their gradients (backward), every sequence from 0.
    func rotate(_ q: UnsafeMutablePointer<Float>, _ k: UnsafeMutablePointer<Float>, B: Int, T: Int, backward: Bool) {
        let c = config
        rope.reserve(T)
        rope.cos.withUnsafeBufferPointer { cs in
            rope.sin.withUnsafeBufferPointer { sn in
                pool.forRanges(B * T, parallel: rowsParallel(B * T, c.qDim)) { r in
                    for row in r {
                        let pos = row % T
                        let f = backward ? ropeBackward : ropeForward
                        f(q + row * c.qDim, 1, c.numHeads, c.headDim, pos, cs.baseAddress!, sn.baseAddress!)
                        f(k + row * c.kvDim, 1, c.numKVHeads, c.headDim, pos, cs.baseAddress!, sn.baseAddress!)
                    }
                }
            }
        }
    }

    /// Block l's forward pass: y = block(x), every intermediate kept in `a`. y may not alias x.
    public func blockForward(_ l: Int, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ a: BlockActivations) {
        let c = config, L = layers[l], B = a.B, T = a.T, N = B * T, C = c.hiddenSize, F = c.intermediateSize
        normForward(a.n1, a.rstd1, x, L.inputNorm, N)
        linear(a.q, a.n1, L.q, bias: L.qBias, N)
        linear(a.k, a.n1, L.k, bias: L.kBias, N)
        linear(a.v, a.n1, L.v, bias: L.vBias, N)
        rotate(a.q, a.k, B: B, T: T, backward: false)
        attentionForwardTrain(a.att, a.probs, a.q, a.k, a.v, B: B, T: T, H: c.numHeads, Hkv: c.numKVHeads, D: c.headDim, pool: pool)
        linear(a.x1, a.att, L.o, N)
        addInPlace(a.x1, x, N * C)
        normForward(a.n2, a.rstd2, a.x1, L.postNorm, N)
        linear(a.g, a.n2, L.gate, N)
        linear(a.u, a.n2, L.up, N)
        pool.forRanges(N, parallel: rowsParallel(N, F)) { r in
            swigluForward(a.h + r.lowerBound * F, a.g + r.lowerBound * F, a.u + r.lowerBound * F, r.count * F)
        }
        linear(y, a.h, L.down, N)
        addInPlace(y, a.x1, N * C)
    }

    /// Block l's backward pass from the intermediates of its forward pass over input x: dx = ∂L/∂x given
    /// dy = ∂L/∂y (dx may alias dy); parameter gradients accumulate.
    public func blockBackward(_ l: Int, _ x: UnsafePointer<Float>, _ dy: UnsafePointer<Float>, _ dx: UnsafeMutablePointer<Float>,
                              _ a: BlockActivations)
    {
        let c = config, L = layers[l], B = a.B, T = a.T, N = B * T, C = c.hiddenSize, F = c.intermediateSize
        a.dx1.update(from: dy, count: N * C)
        // MLP
        a.dh.update(repeating: 0, count: N * F)
        linearBack(a.dh, dy, a.h, L.down, N)
        a.dg.update(repeating: 0, count: N * F)
        a.du.update(repeating: 0, count: N * F)
        pool.forRanges(N, parallel: rowsParallel(N, F)) { r in
            let o = r.lowerBound * F
            swigluBackward(a.dg + o, a.du + o, a.dh + o, a.g + o, a.u + o, r.count * F)
        }
        a.dn.update(repeating: 0, count: N * C)
        linearBack(a.dn, a.dg, a.n2, L.gate, N)
        linearBack(a.dn, a.du, a.n2, L.up, N)
        normBackward(a.dx1, a.dn, a.x1, a.rstd2, L.postNorm, N)
        // attention
        a.datt.update(repeating: 0, count: N * c.qDim)
        linearBack(a.datt, a.dx1, a.att, L.o, N)
        a.dq.update(repeating: 0, count: N * c.qDim)
        a.dk.update(repeating: 0, count: N * c.kvDim)
        a.dv.update(repeating: 0, count: N * c.kvDim)
        attentionBackward(a.dq, a.dk, a.dv, a.datt, a.probs, a.q, a.k, a.v, B: B, T: T, H: c.numHeads, Hkv: c.numKVHeads,
                          D: c.headDim, pool: pool)
        rotate(a.dq, a.dk, B: B, T: T, backward: true)
        a.dn.update(repeating: 0, count: N * C)
        linearBack(a.dn, a.dq, a.n1, L.q, bias: L.qBias, N)
        linearBack(a.dn, a.dk, a.n1, L.k, bias: L.kBias, N)
        linearBack(a.dn, a.dv, a.n1, L.v, bias: L.vBias, N)
        dx.update(from: a.dx1, count: N * C)
        normBackward(dx, a.dn, x, a.rstd1, L.inputNorm, N)
    }
}
