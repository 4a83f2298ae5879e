// Softmax over a row, p_i = e^(x_i − max) / Σ_j e^(x_j − max), in place, with a vectorized e^x (Cephes expf:
// x = n·ln2 + r, |r| ≤ ln2/2, degree-6 polynomial for e^r, 2^n by exponent bits; ≈ 1 ulp on [−87, 88]).
// Attention runs it on every causal row of scores [T × L]; `logSoftmaxAt` gives the NLL perplexity needs.

import Foundation

/// Softmax of x[0..<n] in place. n ≥ 1.
public func softmaxInPlace(_ x: UnsafeMutablePointer<Float>, _ n: Int) {
    let xr = UnsafeMutableRawPointer(x)
    var i = 0
    var mv = SIMD16<Float>(repeating: -.infinity)
    while i + 16 <= n {
        let v = xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        mv.replace(with: v, where: v .> mv)  // pointwiseMax spills to the stack: 60× slower here (measured)
        i += 16
    }
    var m = mv.max()
    while i < n { m = Swift.max(m, x[i]); i += 1 }
    let mvec = SIMD16<Float>(repeating: m)
    var sv = SIMD16<Float>()
    i = 0
    while i + 16 <= n {
        let e = expSIMD(xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self) - mvec)
        xr.storeBytes(of: e, toByteOffset: 4 * i, as: SIMD16<Float>.self)
        sv += e
        i += 16
    }
    var s = sv.sum()
    while i < n {
        let e = Foundation.exp(x[i] - m)
        x[i] = e
        s += e
        i += 1
    }
    let inv = 1 / s
    let iv = SIMD16<Float>(repeating: inv)
    i = 0
    while i + 16 <= n {
        xr.storeBytes(of: xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self) * iv, toByteOffset: 4 * i, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n { x[i] *= inv; i += 1 }
}

/// log softmax(x)[target], as llama.cpp's perplexity computes it: max in f32, Σ e^(x − max) in Double.
public func logSoftmaxAt(_ x: UnsafePointer<Float>, _ n: Int, _ target: Int) -> Double {
    var m = x[0]
    for i in 1..<n { m = Swift.max(m, x[i]) }
    var s = 0.0
    for i in 0..<n { s += Double(Foundation.exp(x[i] - m)) }
    return Double(x[target] - m) - Foundation.log(s)
}

/// e^x for 16 lanes (Cephes expf). Inputs below −87.3 give ≈ 0 (clamped), above 88.7 are clamped.
@inline(__always)
public func expSIMD(_ x0: SIMD16<Float>) -> SIMD16<Float> {
    var x1 = x0
    let lo = SIMD16<Float>(repeating: -87.33654), hi = SIMD16<Float>(repeating: 88.72283)
    x1.replace(with: lo, where: x1 .< lo)
    x1.replace(with: hi, where: x1 .> hi)
    // n = round(x / ln2) through the 1.5·2^23 magic constant; its low bits are n as an integer.
    let magic = SIMD16<Float>(repeating: 12_582_912)
    let t = x1 * SIMD16(repeating: 1.442_695_04) + magic
    let n = t - magic
    var r = x1 - n * SIMD16(repeating: 0.693_359_375)
    r = r - n * SIMD16(repeating: -2.121_944_4e-4)
    let z = r * r
    var p = SIMD16<Float>(repeating: 1.987_569_15e-4)
    p = p * r + SIMD16(repeating: 1.398_199_95e-3)
    p = p * r + SIMD16(repeating: 8.333_451_9e-3)
    p = p * r + SIMD16(repeating: 4.166_579_59e-2)
    p = p * r + SIMD16(repeating: 1.666_666_55e-1)
    p = p * r + SIMD16(repeating: 5.000_000_12e-1)
    p = p * z + r + SIMD16(repeating: 1)
    let ni = unsafeBitCast(t, to: SIMD16<Int32>.self) &- SIMD16(repeating: 0x4B40_0000)
    let scale = unsafeBitCast((ni &+ SIMD16(repeating: 127)) &<< 23, to: SIMD16<Float>.self)
    return p * scale
}
