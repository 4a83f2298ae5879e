// Finite-difference checks of every backward pass (DESIGN §8): each op's gradient against central differences of
// L = Σ r ⊙ op(x) (r random, the sum in Double), on random inputs; the losses; the fake quantizer's α/γ gradients
// (and its straight-through rule, which finite differences cannot see); and the whole model's gradient on a
// seeded tiny model, float and ternary.

import Foundation
import Testing
@testable import TLLMCore

/// Compares an analytic gradient with central differences of f at the chosen coordinates of x:
/// ‖analytic − numeric‖ / max(‖analytic‖, ‖numeric‖, floor) over them.
func gradientError(_ x: inout [Float], analytic: [Float], coords: [Int]? = nil, eps: Float = 1e-3, floor: Double = 1e-6,
                   _ f: ([Float]) -> Double) -> Double
{
    var num = 0.0, den1 = 0.0, den2 = 0.0
    for i in coords ?? Array(x.indices) {
        let x0 = x[i]
        x[i] = x0 + eps
        let fp = f(x)
        x[i] = x0 - eps
        let fm = f(x)
        x[i] = x0
        let n = (fp - fm) / Double(2 * eps), a = Double(analytic[i])
        num += (a - n) * (a - n); den1 += a * a; den2 += n * n
    }
    return num.squareRoot() / max(den1.squareRoot(), den2.squareRoot(), floor)
}

func dotDouble(_ a: [Float], _ b: [Float]) -> Double {
    var s = 0.0
    for i in a.indices { s += Double(a[i]) * Double(b[i]) }
    return s
}

struct OpGradientTests {
    @Test func rmsnorm() {
        var rng = TestRNG(11)
        let T = 5, C = 24
        var x = rng.floats(T * C, scale: 1), w = rng.floats(C, scale: 1)
        let r = rng.floats(T * C, scale: 1)
        func f(_ x: [Float], _ w: [Float]) -> Double {
            var out = [Float](repeating: 0, count: T * C)
            rmsnormForward(&out, nil, x, w, T, C, eps: 1e-5)
            return dotDouble(out, r)
        }
        var out = [Float](repeating: 0, count: T * C), rstd = [Float](repeating: 0, count: T)
        rmsnormForward(&out, &rstd, x, w, T, C, eps: 1e-5)
        var dx = [Float](repeating: 0, count: T * C), dw = [Float](repeating: 0, count: C)
        rmsnormBackward(&dx, r, x, w, rstd, T, C)
        rmsnormWeightBackward(&dw, r, x, rstd, T, C)
        let wc = w
        #expect(gradientError(&x, analytic: dx) { f($0, wc) } < 1e-2)
        let xc = x
        #expect(gradientError(&w, analytic: dw) { f(xc, $0) } < 1e-2)
    }

    @Test func rope() {
        var rng = TestRNG(12)
        let c = TinyModel.config()
        let table = RopeTable(config: c)
        table.reserve(16)
        let T = 4, H = 3, D = c.headDim, pos0 = 5
        var x = rng.floats(T * H * D, scale: 1)
        let r = rng.floats(T * H * D, scale: 1)
        func f(_ x: [Float]) -> Double {
            var y = x
            ropeForward(&y, T, nHeads: H, headDim: D, pos0: pos0, cos: table.cos, sin: table.sin)
            return dotDouble(y, r)
        }
        var d = r
        ropeBackward(&d, T, nHeads: H, headDim: D, pos0: pos0, cos: table.cos, sin: table.sin)
        #expect(gradientError(&x, analytic: d, f) < 1e-2)
    }

    @Test func swiglu() {
        var rng = TestRNG(13)
        let n = 37
        var g = rng.floats(n, scale: 3), u = rng.floats(n, scale: 2)
        let r = rng.floats(n, scale: 1)
        func f(_ g: [Float], _ u: [Float]) -> Double {
            var o = [Float](repeating: 0, count: n)
            swigluForward(&o, g, u, n)
            return dotDouble(o, r)
        }
        var dg = [Float](repeating: 0, count: n), du = [Float](repeating: 0, count: n)
        swigluBackward(&dg, &du, r, g, u, n)
        let uc = u, gc = g
        #expect(gradientError(&g, analytic: dg) { f($0, uc) } < 1e-2)
        #expect(gradientError(&u, analytic: du) { f(gc, $0) } < 1e-2)
    }

    @Test func embedding() {
        var rng = TestRNG(14)
        let V = 7, C = 5
        let tokens: [Int32] = [3, 1, 3, 6, 0, 3]
        var table = rng.floats(V * C, scale: 1)
        let r = rng.floats(tokens.count * C, scale: 1)
        func f(_ tb: [Float]) -> Double {
            var o = [Float](repeating: 0, count: tokens.count * C)
            tokens.withUnsafeBufferPointer { embeddingForward(&o, $0, tb, C) }
            return dotDouble(o, r)
        }
        var d = [Float](repeating: 0, count: V * C)
        tokens.withUnsafeBufferPointer { embeddingBackward(&d, r, $0, C) }
        #expect(gradientError(&table, analytic: d, f) < 1e-2)
    }

    @Test(arguments: [false, true]) func linear(pooled: Bool) {
        var rng = TestRNG(15)
        let T = 70, N = 48, K = 40  // T·N·K above the pool's threshold: the split paths run
        let pool = pooled ? WorkerPool(threads: 3) : nil
        var x = rng.floats(T * K, scale: 1), w = rng.floats(N * K, scale: 1)
        let r = rng.floats(T * N, scale: 1)
        func f(_ x: [Float], _ w: [Float]) -> Double {
            var y = [Float](repeating: 0, count: T * N)
            linearForward(&y, x, w, T, N, K)
            return dotDouble(y, r)
        }
        var dx = [Float](repeating: 0.5, count: T * K), dw = [Float](repeating: -0.25, count: N * K)
        linearBackward(&dx, &dw, r, x, w, T, N, K, pool: pool)
        for i in dx.indices { dx[i] -= 0.5 }  // accumulation onto what was there
        for i in dw.indices { dw[i] += 0.25 }
        let coords = Array(stride(from: 0, to: T * K, by: 37))
        let wc = w
        #expect(gradientError(&x, analytic: dx, coords: coords) { f($0, wc) } < 1e-2)
        let xc = x
        #expect(gradientError(&w, analytic: dw, coords: Array(stride(from: 0, to: N * K, by: 29))) { f(xc, $0) } < 1e-2)
        // the forward pass agrees with the plain reference
        var y = [Float](repeating: 0, count: T * N)
        linearForward(&y, x, w, T, N, K, pool: pool)
        let ref = try! WeightMatrix(Tensor(name: "w", shape: [N, K], floats: w))
        var yr = [Float](repeating: 0, count: T * N)
        x.withUnsafeBufferPointer { matmulReference($0.baseAddress!, T, ref, &yr) }
        #expect(zip(y, yr).map { abs($0 - $1) }.max()! < 1e-4)
    }

    /// T = 70 spans two causal row blocks of 64.
    @Test(arguments: [(1, 5), (3, 5), (2, 70)]) func attention(threads: Int, T: Int) {
        var rng = TestRNG(16)
        let B = 2, H = 4, Hkv = 2, D = 8
        let pool = threads > 1 ? WorkerPool(threads: threads) : nil
        var q = rng.floats(B * T * H * D, scale: 1), k = rng.floats(B * T * Hkv * D, scale: 1), v = rng.floats(B * T * Hkv * D, scale: 1)
        let r = rng.floats(B * T * H * D, scale: 1)
        func f(_ q: [Float], _ k: [Float], _ v: [Float]) -> Double {
            var o = [Float](repeating: 0, count: B * T * H * D), p = [Float](repeating: 0, count: B * H * T * T)
            attentionForwardTrain(&o, &p, q, k, v, B: B, T: T, H: H, Hkv: Hkv, D: D)
            return dotDouble(o, r)
        }
        var o = [Float](repeating: 0, count: B * T * H * D), p = [Float](repeating: 0, count: B * H * T * T)
        attentionForwardTrain(&o, &p, q, k, v, B: B, T: T, H: H, Hkv: Hkv, D: D, pool: pool)
        // forward: each sequence equals the inference reference on its own
        for b in 0..<B {
            var ref = [Float](repeating: 0, count: T * H * D)
            let qs = Array(q[(b * T * H * D)..<((b + 1) * T * H * D)])
            let ks = Array(k[(b * T * Hkv * D)..<((b + 1) * T * Hkv * D)]), vs = Array(v[(b * T * Hkv * D)..<((b + 1) * T * Hkv * D)])
            attentionReference(&ref, qs, ks, vs, T: T, L: T, H: H, Hkv: Hkv, D: D)
            let got = Array(o[(b * T * H * D)..<((b + 1) * T * H * D)])
            #expect(zip(got, ref).map { abs($0 - $1) }.max()! < 1e-5)
        }
        var dq = [Float](repeating: 0, count: q.count), dk = [Float](repeating: 0, count: k.count), dv = [Float](repeating: 0, count: v.count)
        attentionBackward(&dq, &dk, &dv, r, p, q, k, v, B: B, T: T, H: H, Hkv: Hkv, D: D, pool: pool)
        let (q0, k0, v0) = (q, k, v)
        let step = T > 10 ? 13 : 1
        #expect(gradientError(&q, analytic: dq, coords: Array(stride(from: 0, to: q.count, by: step))) { f($0, k0, v0) } < 1e-2)
        #expect(gradientError(&k, analytic: dk, coords: Array(stride(from: 0, to: k.count, by: step))) { f(q0, $0, v0) } < 1e-2)
        #expect(gradientError(&v, analytic: dv, coords: Array(stride(from: 0, to: v.count, by: step))) { f(q0, k0, $0) } < 1e-2)
    }
}

struct LossGradientTests {
    func check(rows n: Int, width C: Int, seed: UInt64,
               _ loss: (_ s: [Float], _ rowLoss: inout [Double], _ grad: inout [Float]?) -> Void) -> Double
    {
        var rng = TestRNG(seed)
        var s = rng.floats(n * C, scale: 2)
        var rl = [Double](repeating: 0, count: n)
        var g: [Float]? = [Float](repeating: 0, count: n * C)
        loss(s, &rl, &g)
        return gradientError(&s, analytic: g!) { x in
            var r = [Double](repeating: 0, count: n), none: [Float]? = nil
            loss(x, &r, &none)
            return r.reduce(0, +)
        }
    }

    @Test func cosine() {
        var rng = TestRNG(21)
        let n = 4, C = 16
        let t = rng.floats(n * C, scale: 2)
        let e = check(rows: n, width: C, seed: 22) { s, rl, g in
            if g == nil { DistillLoss.cosine(s, t, rows: n, C, rowLoss: &rl, grad: nil, gradScale: 1) }
            else { DistillLoss.cosine(s, t, rows: n, C, rowLoss: &rl, grad: &g!, gradScale: 1) }
        }
        #expect(e < 1e-2)
        // identical rows: loss 0; scaled rows: loss 0 (cosine ignores the norm)
        var rl = [Double](repeating: 1, count: n)
        DistillLoss.cosine(t, t.map { $0 * 7 }, rows: n, C, rowLoss: &rl, grad: nil, gradScale: 1)
        #expect(rl.allSatisfy { abs($0) < 1e-6 })
    }

    /// With channel weights w (FeatureSpace.normed): the loss is the cosine distance of w⊙s and w⊙t, and its
    /// gradient with respect to s passes finite differences.
    @Test func cosineWithChannelWeights() {
        var rng = TestRNG(25)
        let n = 4, C = 16
        let t = rng.floats(n * C, scale: 2)
        let w = (0..<C).map { _ in 0.2 + abs(rng.floats(1, scale: 3)[0]) }
        let e = check(rows: n, width: C, seed: 26) { s, rl, g in
            if g == nil { DistillLoss.cosine(s, t, rows: n, C, rowLoss: &rl, grad: nil, gradScale: 1, channelWeights: w) }
            else { DistillLoss.cosine(s, t, rows: n, C, rowLoss: &rl, grad: &g!, gradScale: 1, channelWeights: w) }
        }
        #expect(e < 1e-2)
        let s = rng.floats(n * C, scale: 2)
        var weighted = [Double](repeating: 0, count: n), plain = [Double](repeating: 0, count: n)
        DistillLoss.cosine(s, t, rows: n, C, rowLoss: &weighted, grad: nil, gradScale: 1, channelWeights: w)
        let ws = s.indices.map { s[$0] * w[$0 % C] }, wt = t.indices.map { t[$0] * w[$0 % C] }
        DistillLoss.cosine(ws, wt, rows: n, C, rowLoss: &plain, grad: nil, gradScale: 1)
        #expect(zip(weighted, plain).allSatisfy { abs($0 - $1) < 1e-6 })
        #expect(weighted.contains { $0 > 1e-3 })  // not trivially 0
        // all-ones weights: the same bits as none
        var ones = [Double](repeating: 0, count: n), none = [Double](repeating: 0, count: n)
        var g1 = [Float](repeating: 0, count: n * C), g0 = [Float](repeating: 0, count: n * C)
        DistillLoss.cosine(s, t, rows: n, C, rowLoss: &ones, grad: &g1, gradScale: 1, channelWeights: [Float](repeating: 1, count: C))
        DistillLoss.cosine(s, t, rows: n, C, rowLoss: &none, grad: &g0, gradScale: 1)
        #expect(ones == none && g1 == g0)
    }

    @Test func mse() {
        var rng = TestRNG(23)
        let n = 3, C = 10
        let t = rng.floats(n * C, scale: 2)
        let e = check(rows: n, width: C, seed: 24) { s, rl, g in
            if g == nil { DistillLoss.mse(s, t, rows: n, C, rowLoss: &rl, grad: nil, gradScale: 1) }
            else { DistillLoss.mse(s, t, rows: n, C, rowLoss: &rl, grad: &g!, gradScale: 1) }
        }
        #expect(e < 1e-2)
    }

    @Test(arguments: [Float(1), 2.5]) func kd(tau: Float) {
        var rng = TestRNG(25)
        let n = 3, V = 20
        let zt = rng.floats(n * V, scale: 3)
        var scratch = [Float](repeating: 0, count: 2 * V)
        let e = check(rows: n, width: V, seed: 26) { s, rl, g in
            if g == nil { DistillLoss.kd(s, zt, rows: n, V, temperature: tau, rowLoss: &rl, grad: nil, gradScale: 1, scratch: &scratch) }
            else { DistillLoss.kd(s, zt, rows: n, V, temperature: tau, rowLoss: &rl, grad: &g!, gradScale: 1, scratch: &scratch) }
        }
        #expect(e < 1e-2)
        var rl = [Double](repeating: 1, count: n)
        DistillLoss.kd(zt, zt, rows: n, V, temperature: tau, rowLoss: &rl, grad: nil, gradScale: 1, scratch: &scratch)
        #expect(rl.allSatisfy { abs($0) < 1e-6 })
    }

    @Test func crossEntropy() {
        let n = 4, V = 12
        let y: [Int32] = [3, -1, 11, 0]
        var scratch = [Float](repeating: 0, count: V)
        let e = check(rows: n, width: V, seed: 27) { s, rl, g in
            if g == nil { DistillLoss.crossEntropy(s, y, rows: n, V, rowLoss: &rl, grad: nil, gradScale: 1, scratch: &scratch) }
            else { DistillLoss.crossEntropy(s, y, rows: n, V, rowLoss: &rl, grad: &g!, gradScale: 1, scratch: &scratch) }
        }
        #expect(e < 1e-2)
    }
}

struct FakeQuantTests {
    /// A [rows × K] weight with its DLT fit (ragged groups).
    func fitted(_ seed: UInt64, rows: Int = 6, K: Int = 22, G: Int = 8) -> ([Float], TernaryWeight) {
        var rng = TestRNG(seed)
        let w = rng.floats(rows * K, scale: 1)
        return (w, DLTQuantizer(groupSize: G).quantize(w, rows: rows, cols: K).0)
    }

    @Test func forwardReproducesTheFitAndAlphaGammaGradients() {
        let rows = 6, K = 22, G = 8
        let (w, tw) = fitted(31, rows: rows, K: K, G: G)
        let q = FakeQuantizer(rows: rows, groups: TernaryGroups(cols: K, size: G))
        var hat = [Float](repeating: 0, count: rows * K), codes = [Int8](repeating: 0, count: rows * K)
        q.forward(&hat, &codes, w, tw.alpha, tw.gamma)
        #expect(codes == tw.codes)
        var rng = TestRNG(32)
        let r = rng.floats(rows * K, scale: 1)
        var dw = [Float](repeating: 0, count: rows * K), da = [Float](repeating: 0, count: tw.alpha.count)
        var dg = [Float](repeating: 0, count: tw.gamma.count)
        q.backward(r, w, codes, tw.alpha, tw.gamma, dw: &dw, dalpha: &da, dgamma: &dg)
        func f(_ a: [Float], _ g: [Float]) -> Double {
            var h = [Float](repeating: 0, count: rows * K), c = [Int8](repeating: 0, count: rows * K)
            q.forward(&h, &c, w, a, g)
            return dotDouble(h, r)
        }
        // small steps: the codes stay put, so Ŵ is linear in α and γ there
        var a = tw.alpha, g = tw.gamma
        let g0 = g, a0 = a
        #expect(gradientError(&a, analytic: da, eps: 1e-5) { f($0, g0) } < 1e-2)
        #expect(gradientError(&g, analytic: dg, eps: 1e-5) { f(a0, $0) } < 1e-2)
        // straight-through: dW = dŴ inside |W − γ| ≤ 1.5α, 0 outside
        let groups = TernaryGroups(cols: K, size: G)
        for row in 0..<rows {
            for k in 0..<K {
                let gi = row * groups.count + groups.group(of: k)
                let inside = abs(w[row * K + k] - tw.gamma[gi]) <= 1.5 * tw.alpha[gi]
                #expect(dw[row * K + k] == (inside ? r[row * K + k] : 0))
            }
        }
        var q2 = q
        q2.steClip = .infinity
        var dw2 = [Float](repeating: 0, count: rows * K)
        q2.backward(r, w, codes, tw.alpha, tw.gamma, dw: &dw2, dalpha: nil, dgamma: nil)
        #expect(dw2 == r)
    }

    @Test func anchorMakesTheStoredCodesNearest() {
        let rows = 4, K = 16, G = 8
        var (w, tw) = fitted(33, rows: rows, K: K, G: G)
        for i in tw.alpha.indices { tw.alpha[i] *= 1.7; tw.gamma[i] += 0.05 }  // as if refitted with frozen codes
        let q = FakeQuantizer(rows: rows, groups: TernaryGroups(cols: K, size: G))
        let moved = q.anchor(&w, codes: tw.codes, tw.alpha, tw.gamma)
        #expect(moved > 0)
        var hat = [Float](repeating: 0, count: rows * K), codes = [Int8](repeating: 0, count: rows * K)
        q.forward(&hat, &codes, w, tw.alpha, tw.gamma)
        #expect(codes == tw.codes)
        #expect(q.anchor(&w, codes: tw.codes, tw.alpha, tw.gamma) == 0)
    }

    @Test func decayTowardTheGridKeepsTheCodes() {
        let rows = 5, K = 22, G = 8
        let (w0, tw) = fitted(35, rows: rows, K: K, G: G)
        let groups = TernaryGroups(cols: K, size: G), q = FakeQuantizer(rows: rows, groups: groups)
        var hat = [Float](repeating: 0, count: rows * K), codes = [Int8](repeating: 0, count: rows * K)
        q.forward(&hat, &codes, w0, tw.alpha, tw.gamma)
        // each weight's grid point from the definition: γ + α·clamp(round((w − γ)/α), −1, 1)
        var target = [Float](repeating: 0, count: rows * K)
        for r in 0..<rows {
            for k in 0..<K {
                let gi = r * groups.count + groups.group(of: k), x = (w0[r * K + k] - tw.gamma[gi]) / tw.alpha[gi]
                target[r * K + k] = tw.gamma[gi] + tw.alpha[gi] * max(-1, min(1, x.rounded()))
            }
        }
        #expect(target == hat)
        var w = w0
        q.decayTowardGrid(&w, tw.alpha, tw.gamma, kappa: 0.25)
        for i in w.indices { #expect(abs(w[i] - (w0[i] + 0.25 * (target[i] - w0[i]))) <= 1e-6 * max(1, abs(w0[i]))) }
        #expect(zip(w, w0).contains { $0 != $1 })
        var codes2 = codes
        q.forward(&hat, &codes2, w, tw.alpha, tw.gamma)
        #expect(codes2 == codes)
        q.decayTowardGrid(&w, tw.alpha, tw.gamma, kappa: 1)
        for i in w.indices { #expect(abs(w[i] - target[i]) <= 1e-6 * max(1, abs(target[i]))) }
    }
}

/// Tiny models for the training tests: a float teacher and a DLT student made from it.
enum TrainFixtures {
    static func ternaryParts(_ c: ModelConfig, _ tensors: [Tensor], groupSize: Int) -> [String: TernaryParts] {
        var out: [String: TernaryParts] = [:]
        for t in tensors where TernaryNames.isLinear(t.name, shape: t.shape) {
            let (tw, _) = DLTQuantizer(groupSize: groupSize).quantize(t.floats(), rows: t.shape[0], cols: t.shape[1])
            out[t.name] = TernaryParts(codes: tw.codes, alpha: tw.alpha, gamma: tw.gamma, groupSize: groupSize)
        }
        return out
    }

    static func models(_ c: ModelConfig = TinyModel.config(), quantized: Bool, trainable: TrainableSet = TrainableSet(),
                       threads: Int = 1) throws -> (teacher: TrainModel, student: TrainModel)
    {
        let tensors = TinyModel.tensors(c, seed: 5).map { t -> Tensor in
            // norms near 1, as trained models have them
            guard t.name.hasSuffix("norm.weight") else { return t.converted(to: .f32) }
            return Tensor(name: t.name, shape: t.shape, floats: t.floats().map { 1 + $0 })
        }
        let teacher = try TrainModel(config: c, tensors: tensors, trainable: .frozen, threads: threads)
        var rng = TestRNG(6)
        let noisy = tensors.map { t in
            Tensor(name: t.name, shape: t.shape, floats: t.floats().map { $0 + 0.02 * rng.float() })
        }
        let student = try TrainModel(config: c, tensors: noisy, ternary: quantized ? ternaryParts(c, noisy, groupSize: 16) : [:],
                                     trainable: trainable, threads: threads)
        return (teacher, student)
    }

    static func tokens(_ c: ModelConfig, B: Int, T: Int, seed: UInt64) -> [Int32] {
        var rng = TestRNG(seed)
        return (0..<(B * T)).map { i in i % T == 0 ? 1 : Int32(rng.next() % UInt64(c.vocabSize)) }
    }
}

struct ModelGradientTests {
    func lossWeights() -> LossWeights {
        var w = LossWeights()
        w.feature = 1; w.kd = 1; w.ce = 0.5; w.temperature = 1.5
        return w
    }

    /// Whole-model check with float linears: every parameter kind, embedding and head included (the untied case
    /// runs the head 5 rows at a time: three chunks, and compares features in the normed space, the tied one raw).
    @Test(arguments: [false, true]) func floatModel(tied: Bool) throws {
        let c = TinyModel.config(tied: tied)
        var all = TrainableSet()
        all.embedding = true; all.head = true
        let (teacher, student) = try TrainFixtures.models(c, quantized: false, trainable: all)
        let B = 2, T = 6
        let space: FeatureSpace = tied ? .residual : .normed
        let d = try Distiller(student: student, teacher: teacher, B: B, T: T, weights: lossWeights(), featureLayers: [0, 1],
                              channelWeights: space.channelWeights(student, blocks: [0, 1]), headRows: tied ? headChunk : 5)
        let tokens = TrainFixtures.tokens(c, B: B, T: T, seed: 7)
        _ = try d.step(tokens: tokens)
        let p = student.params
        let analytic = Array(UnsafeBufferPointer(start: p.grads, count: p.count))
        var x = Array(UnsafeBufferPointer(start: p.values, count: p.count))
        var rng = TestRNG(8)
        var coords: [Int] = []
        for t in p.tensors { for _ in 0..<6 { coords.append(t.offset + Int(rng.next() % UInt64(t.count))) } }
        let e = gradientError(&x, analytic: analytic, coords: coords, eps: 2e-3) { v in
            p.values.update(from: v, count: v.count)
            return try! d.step(tokens: tokens).total
        }
        #expect(e < 2e-2, "relative gradient error \(e)")
    }

    /// With the quantizer in the loop: α and γ gradients of every ternarized linear against finite differences.
    @Test func ternaryScalesAndShifts() throws {
        let c = TinyModel.config()
        let (teacher, student) = try TrainFixtures.models(c, quantized: true)
        let B = 2, T = 6
        let d = try Distiller(student: student, teacher: teacher, B: B, T: T, weights: lossWeights(), featureLayers: [0, 1])
        let tokens = TrainFixtures.tokens(c, B: B, T: T, seed: 9)
        _ = try d.step(tokens: tokens)
        let p = student.params
        let analytic = Array(UnsafeBufferPointer(start: p.grads, count: p.count))
        var x = Array(UnsafeBufferPointer(start: p.values, count: p.count))
        // groups whose weights all sit ≥ 10·eps from a rounding boundary, so the finite-difference steps move no code
        var coords: [Int] = []
        var rng = TestRNG(10)
        for lin in student.ternaryLinears {
            let groups = lin.quantizer!.groups, nG = groups.count
            let w = p.value(lin.w), a = p.value(lin.alpha!), g = p.value(lin.gamma!)
            var picked = 0
            for _ in 0..<40 where picked < 3 {
                let row = Int(rng.next() % UInt64(lin.rows)), gi = Int(rng.next() % UInt64(nG)), j = row * nG + gi
                let margin = groups.range(gi).map { abs(abs(w[row * lin.cols + $0] - g[j]) - a[j] / 2) }.min()!
                guard margin > 1e-3 else { continue }
                coords += [p.tensors[lin.alpha!].offset + j, p.tensors[lin.gamma!].offset + j]
                picked += 1
            }
        }
        #expect(coords.count >= 20)
        let codes0 = student.ternaryLinears.map { student.codes($0) }
        var flipped = false
        let e = gradientError(&x, analytic: analytic, coords: coords, eps: 1e-4) { v in
            p.values.update(from: v, count: v.count)
            student.refreshWeights()
            if student.ternaryLinears.map({ student.codes($0) }) != codes0 { flipped = true }
            return try! d.step(tokens: tokens).total
        }
        #expect(!flipped, "a code changed under the finite-difference step")
        #expect(e < 2e-2, "relative gradient error \(e)")
    }

    /// Targets taken from captured hidden states (as tllm-calib stores them, in f16) skip the teacher's forward pass,
    /// the KD term included (its teacher state is the last block's output), and give the step computed with the
    /// teacher to f16 rounding; with the last block not captured the teacher runs.
    @Test func capturedTargetsSkipTheTeacher() throws {
        let c = TinyModel.config()
        let (teacher, student) = try TrainFixtures.models(c, quantized: true)
        let B = 2, T = 6, n = B * T * c.hiddenSize
        let tokens = TrainFixtures.tokens(c, B: B, T: T, seed: 13)
        let d = try Distiller(student: student, teacher: teacher, B: B, T: T, weights: lossWeights(), featureLayers: [0, 1])
        let ref = try d.step(tokens: tokens)
        #expect(d.teacherForwardRan)
        let refGrads = Array(UnsafeBufferPointer(start: student.params.grads, count: student.params.count))
        // the teacher's block outputs, rounded to f16
        var hidden: [[Float]] = []
        let acts = BlockActivations(config: c, B: B, T: T)
        let x = UnsafeMutablePointer<Float>.allocate(capacity: n), y = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { x.deallocate(); y.deallocate() }
        _ = tokens.withUnsafeBufferPointer { tk in
            teacher.inferenceForward(tk, B: B, T: T, acts: acts, x: x, y: y) { _, h in
                hidden.append(UnsafeBufferPointer(start: h, count: n).map { Float(Float16($0)) })
            }
        }
        for last in [true, false] {
            let got = try d.step(tokens: tokens) { l, out in
                guard last || l < c.numLayers - 1 else { return false }
                out.update(from: hidden[l], count: n)
                return true
            }
            #expect(d.teacherForwardRan == !last)
            for (a, b) in [(got.feature, ref.feature), (got.kd, ref.kd), (got.ce, ref.ce)] {
                #expect(abs(a - b) <= 2e-3 * abs(b) + 1e-6, "\(a) vs \(b)")
            }
            let g = Array(UnsafeBufferPointer(start: student.params.grads, count: student.params.count))
            let scale = refGrads.map { abs($0) }.max()!
            #expect(zip(g, refGrads).map { abs($0 - $1) }.max()! < 2e-2 * scale)
        }
    }

    /// The same step twice gives the same bits, on one thread and on three.
    @Test func deterministic() throws {
        let c = TinyModel.config()
        var grads: [[Float]] = []
        for threads in [1, 3, 3] {
            let (teacher, student) = try TrainFixtures.models(c, quantized: true, threads: threads)
            let d = try Distiller(student: student, teacher: teacher, B: 3, T: 8, weights: lossWeights(), featureLayers: [0, 1])
            _ = try d.step(tokens: TrainFixtures.tokens(c, B: 3, T: 8, seed: 12))
            grads.append(Array(UnsafeBufferPointer(start: student.params.grads, count: student.params.count)))
        }
        #expect(grads[1] == grads[2])
        #expect(zip(grads[0], grads[1]).map { abs($0 - $1) }.max()! < 1e-5)
    }
}
