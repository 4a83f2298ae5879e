// Causal grouped-query attention (GQA: query head h reads key/value head h / (H / Hkv)):
//   out_h[t] = Σ_{j ≤ pos(t)} softmax_j(q_h[t] · k_j / √D) · v_j,  pos(t) = L − T + t.
// q, out [T × H·D] (rope already applied to q and k); k, v [L × Hkv·D], the keys and values of positions 0..<L
// (the KV cache's rows, or the sequence's own). Batched: two sgemm per head over a scores [T × L] scratch.
// Decode (T = 1): the C target's dot products over the cache, heads split across the worker pool.

import COpenBLAS
import CTLLMKernels
import Foundation

/// Batched attention. `scores` is scratch of T × L floats used without a pool; with one, heads are split across
/// its threads, each with its own scores buffer from `pool.scratch`.
public func attentionForward(_ out: UnsafeMutablePointer<Float>, _ scores: UnsafeMutablePointer<Float>?,
                             _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                             T: Int, L: Int, H: Int, Hkv: Int, D: Int, pool: WorkerPool? = nil)
{
    precondition(L >= T && H % Hkv == 0)
    let qStride = H * D, kvStride = Hkv * D, group = H / Hkv
    let scale = 1 / Float(D).squareRoot()
    let body = { (thread: Int, heads: Range<Int>) in
        let s = pool?.scratch(thread, T * L) ?? scores!
        for h in heads {
            let kvh = h / group
            // s[T × L] = scale · q_h · k_hᵀ
            sgemmNT(T, L, D, q + h * D, qStride, k + kvh * D, kvStride, s, L, alpha: scale)
            for t in 0..<T {
                let row = s + t * L
                let n = L - T + t + 1
                softmaxInPlace(row, n)
                if n < L { (row + n).update(repeating: 0, count: L - n) }
            }
            // out_h[T × D] = s · v_h
            sgemmNN(T, D, L, s, L, v + kvh * D, kvStride, out + h * D, qStride)
        }
    }
    if let pool { pool.forChunks(H, parallel: T * L * D * H >= 1 << 16, body) } else { body(0, 0..<H) }
}

/// One query (the newest position, L − 1) against L cached positions. scores: scratch of H × L floats. The two
/// products over the cache run in the C target (`tllm_attn_scores`, `tllm_attn_mix`) at `level`.
public func attentionDecode(_ out: UnsafeMutablePointer<Float>, _ scores: UnsafeMutablePointer<Float>,
                            _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                            L: Int, H: Int, Hkv: Int, D: Int, pool: WorkerPool? = nil, level: KernelLevel = .best)
{
    let kvStride = Hkv * D, group = H / Hkv
    let scale = 1 / Float(D).squareRoot()
    let body = { (heads: Range<Int>) in
        for h in heads {
            let kvh = h / group
            let s = scores + h * L
            tllm_attn_scores(level.c, q + h * D, k + kvh * D, kvStride, Int32(L), Int32(D), scale, s)
            softmaxInPlace(s, L)
            tllm_attn_mix(level.c, s, v + kvh * D, kvStride, Int32(L), Int32(D), out + h * D)
        }
    }
    if let pool, L * H * D >= 1 << 15 { pool.forRanges(H, body) } else { body(0..<H) }
}

/// The same as `attentionForward`, in plain Double loops (reference for tests).
public func attentionReference(_ out: UnsafeMutablePointer<Float>, _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>,
                               _ v: UnsafePointer<Float>, T: Int, L: Int, H: Int, Hkv: Int, D: Int)
{
    let qStride = H * D, kvStride = Hkv * D, group = H / Hkv
    for h in 0..<H {
        let kvh = h / group
        for t in 0..<T {
            let n = L - T + t + 1
            var s = [Double](repeating: 0, count: n)
            for j in 0..<n {
                var d = 0.0
                for i in 0..<D { d += Double(q[t * qStride + h * D + i]) * Double(k[j * kvStride + kvh * D + i]) }
                s[j] = d / Double(D).squareRoot()
            }
            let m = s.max()!
            var z = 0.0
            for j in 0..<n { s[j] = Foundation.exp(s[j] - m); z += s[j] }
            for i in 0..<D {
                var o = 0.0
                for j in 0..<n { o += s[j] / z * Double(v[j * kvStride + kvh * D + i]) }
                out[t * qStride + h * D + i] = Float(o)
            }
        }
    }
}
