// Causal grouped-query attention for training: a forward pass that keeps the softmax probabilities, and its
// backward pass. B sequences of T tokens each (rows b·T..<(b+1)·T of q [N × H·D], k, v [N × Hkv·D], N = B·T),
// each attending to its own earlier tokens; probs [B × H × T × T]. Per sequence b and head h (kv head h / (H/Hkv)):
//   S = Q·Kᵀ/√D,  P = causal softmax(S),  O = P·V
//   dV += Pᵀ·dO,  dP = dO·Vᵀ,  dS = P ⊙ (dP − Σ_j P⊙dP) / √D,  dQ += dS·K,  dK += dSᵀ·Q
// The backward pass runs one task per (sequence, kv head), so the heads sharing a kv head add into dK and dV in
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
            sgemmNT(T, T, D, qb, qStride, kb, kvStride, s, T, alpha: scale)
            for t in 0..<T {
                let row = s + t * T
                softmaxInPlace(row, t + 1)
                if t + 1 < T { (row + t + 1).update(repeating: 0, count: T - t - 1) }
            }
            sgemmNN(T, D, T, s, T, vb, kvStride, out + b * T * qStride + h * D, qStride)
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
                // dV += Pᵀ·dO;  dP = dO·Vᵀ
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t32, d32, t32, 1, p, t32, dob, qs32, 1, dvb, kvs32)
                sgemmNT(T, T, D, dob, qStride, vb, kvStride, dp, T)
                for t in 0..<T {
                    let pr = p + t * T, dr = dp + t * T
                    var dot: Float = 0
                    for j in 0...t { dot += pr[j] * dr[j] }
                    for j in 0...t { dr[j] = pr[j] * (dr[j] - dot) * scale }
                    if t + 1 < T { (dr + t + 1).update(repeating: 0, count: T - t - 1) }
                }
                // dQ += dS·K;  dK += dSᵀ·Q
                cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, t32, d32, t32, 1, dp, t32, kb, kvs32, 1, dqb, qs32)
                cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, t32, d32, t32, 1, dp, t32, qb, qs32, 1, dkb, kvs32)
            }
        }
    }
    if let pool { pool.forChunks(B * Hkv, parallel: B * H * T * T * D >= 1 << 16, body) } else { body(0, 0..<(B * Hkv)) }
}
