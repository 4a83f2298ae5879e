// Causal grouped-query attention for training: a forward pass that keeps the softmax probabilities, and its
// backward pass. B sequences of T tokens each (rows b·T..<(b+1)·T of q [N × H·D], k, v [N × Hkv·D], N = B·T),
// each attending to its own earlier tokens; probs [B × H × T × T]. Per sequence b and head h (kv head h / (H/Hkv)):
//   S = Q·Kᵀ/√D,  P = causal softmax(S),  O = P·V
//   dV += Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − Σ_j P⊙dP) / √D,  dQ += dS·K,  dK += dSᵀ·Q
// Rows are processed in blocks of 64 queries, each block's products covering only the keys it can see (half the
// work of full T × T products). The backward pass runs one task per (sequence, kv head), so the heads sharing a kv head add into dK and dV in
// a fixed order and no two threads write the same rows.

import COpenBLAS
import Foundation

/// O = attention(Q, K, V), keeping P in `probs`.
public func attentionForwardTrain(_ out: UnsafeMutablePointer<Float>, _ probs: UnsafeMutablePointer<Float>,
                                  _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                                  B: Int, T: Int, H: Int, Hkv: Int, D: Int, pool: WorkerPool? = nil)
{
    let qStride = H * D, kvStride = Hkv * D, group = H / Hkv
    let scale = 1 / Float(D).squareRoot()
    let body = { (_: Int, tasks: Range<Int>) in
        for task in tasks {
            let b = task / H, h = task % H, kvh = h / group
            let s = probs + task * T * T
            let qb = q + b * T * qStride + h * D, kb = k + b * T * kvStride + kvh * D, vb = v + b * T * kvStride + kvh * D
            let ob = out + b * T * qStride + h * D
            for (t0, t1) in causalBlocks(T) {
                // rows t0..<t1 see keys 0..<t1 only
                sgemmNT(t1 - t0, t1, D, qb + t0 * qStride, qStride, kb, kvStride, s + t0 * T, T, alpha: scale)
                for t in t0..<t1 {
                    let row = s + t * T
                    softmaxInPlace(row, t + 1)
                    if t + 1 < t1 { (row + t + 1).update(repeating: 0, count: t1 - t - 1) }
                }
                sgemmNN(t1 - t0, D, t1, s + t0 * T, T, vb, kvStride, ob + t0 * qStride, qStride)
            }
        }
    }
    if let pool { pool.forChunks(B * H, parallel: B * H * T * T * D >= 1 << 16, body) } else { body(0, 0..<(B * H)) }
}

/// Accumulates dq, dk, dv from dout, given the forward pass's probs.
public func attentionBackward(_ dq: UnsafeMutablePointer<Float>, _ dk: UnsafeMutablePointer<Float>, _ dv: UnsafeMutablePointer<Float>,
                              _ dout: UnsafePointer<Float>, _ probs: UnsafePointer<Float>,
                              _ q: UnsafePointer<Float>, _ k: UnsafePointer<Float>, _ v: UnsafePointer<Float>,
                              B: Int, T: Int, H: Int, Hkv: Int, D: Int, pool: WorkerPool? = nil)
{
    let qStride = H * D, kvStride = Hkv * D, group = H / Hkv
    let scale = 1 / Float(D).squareRoot()
    let t32 = Int32(T), d32 = Int32(D), qs32 = Int32(qStride), kvs32 = Int32(kvStride)
    let body = { (thread: Int, tasks: Range<Int>) in
        let dp = pool?.scratch(thread, T * T) ?? UnsafeMutablePointer<Float>.allocate(capacity: T * T)
        defer { if pool == nil { dp.deallocate() } }
        for task in tasks {
            let b = task / Hkv, kvh = task % Hkv
            let kb = k + b * T * kvStride + kvh * D, vb = v + b * T * kvStride + kvh * D
            let dkb = dk + b * T * kvStride + kvh * D, dvb = dv + b * T * kvStride + kvh * D
            for h in (kvh * group)..<((kvh + 1) * group) {
                let p = probs + (b * H + h) * T * T
                let qb = q + b * T * qStride + h * D, dqb = dq + b * T * qStride + h * D
                let dob = dout + b * T * qStride + h * D
                for (t0, t1) in causalBlocks(T) {
                    let m = Int32(t1 - t0), n = Int32(t1)
                    let pr0 = p + t0 * T, dr0 = dp + t0 * T
                    // dV[0..<t1] += P[t0..<t1, 0..<t1]ᵀ·dO[t0..<t1];  dP = dO·Vᵀ
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, d32, m, 1, pr0, t32, dob + t0 * qStride, qs32, 1, dvb, kvs32)
                    sgemmNT(t1 - t0, t1, D, dob + t0 * qStride, qStride, vb, kvStride, dr0, T)
                    for t in t0..<t1 {
                        let pr = p + t * T, dr = dp + t * T
                        var dot: Float = 0
                        for j in 0...t { dot += pr[j] * dr[j] }
                        for j in 0...t { dr[j] = pr[j] * (dr[j] - dot) * scale }
                        if t + 1 < t1 { (dr + t + 1).update(repeating: 0, count: t1 - t - 1) }
                    }
                    // dQ[t0..<t1] += dS·K[0..<t1];  dK[0..<t1] += dSᵀ·Q[t0..<t1]
                    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, m, d32, n, 1, dr0, t32, kb, kvs32, 1, dqb + t0 * qStride, qs32)
                    cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, n, d32, m, 1, dr0, t32, qb + t0 * qStride, qs32, 1, dkb, kvs32)
                }
            }
        }
    }
    if let pool { pool.forChunks(B * Hkv, parallel: B * H * T * T * D >= 1 << 16, body) } else { body(0, 0..<(B * Hkv)) }
}

/// Row blocks of the causal products: (t0, t1) pairs covering 0..<T in steps of 64.
@inline(__always)
func causalBlocks(_ T: Int) -> [(Int, Int)] {
    stride(from: 0, to: T, by: 64).map { ($0, min(T, $0 + 64)) }
}
