// Matrix-matrix product Y[T × N] = X[T × K]·Wᵀ of a packed ternary matrix (prompt processing): the same int8
// kernels as the mat-vec, but each 64-byte unit of packed weights is decoded once for four tokens, and a t1
// matrix is first re-packed as t2 (once per call, into a scratch buffer) so that both layouts share that loop.
// Loop order: per piece of rows (shared between the threads); token blocks of 128 (activations in L2) × row tiles of
// 16 (L1).

import CTLLMKernels

/// Y = X·Wᵀ in float (plain loops over `ternaryMatvecReference`), the reference of `ternaryMatmul`.
public func ternaryMatmulReference(_ x: UnsafePointer<Float>, _ T: Int, _ w: PackedTernaryMatrix, _ y: UnsafeMutablePointer<Float>) {
    for t in 0..<T { ternaryMatvecReference(w, x + t * w.cols, y + t * w.rows) }
}

/// Rows per C call and tokens per block of the prompt kernel.
let matmulRowTile = 16, matmulTokenBlock = 128

/// Y = X·Wᵀ (+ bias) with Y's row stride `ldy` (default N). `acts`, if given, must be prepared for
/// `w.geometry.with(layout: .t2)` at `level` and is reused (grown as needed); otherwise a temporary one is made.
public func ternaryMatmul(_ x: UnsafePointer<Float>, _ T: Int, _ w: PackedTernaryMatrix, bias: UnsafePointer<Float>? = nil,
                          _ y: UnsafeMutablePointer<Float>, ldy: Int? = nil, pool: WorkerPool? = nil,
                          level: KernelLevel = .best, acts: TernaryActivations? = nil)
{
    guard T > 0, w.rows > 0 else { return }
    let ld = ldy ?? w.rows
    let g2 = w.geometry.with(layout: .t2)
    let a = acts ?? TernaryActivations(geometry: g2, level: level, capacity: T)
    precondition(a.geometry == g2, "prompt activations must be prepared for the t2 geometry of \(w.name)")
    a.prepare(x, count: T, pool: pool)
    ternaryMatmulPrepared(w, a, y, ldy: ld, pool: pool)
    if let bias {
        for t in 0..<T { for n in 0..<w.rows { y[t * ld + n] += bias[n] } }
    }
}

/// Y = A·Wᵀ for the `a.count` vectors already prepared in `a` (t2 geometry of W).
public func ternaryMatmulPrepared(_ w: PackedTernaryMatrix, _ a: TernaryActivations, _ y: UnsafeMutablePointer<Float>,
                                  ldy: Int, pool: WorkerPool? = nil)
{
    let T = a.count, N = w.rows
    let g2 = a.geometry.c
    let g1 = w.geometry.c
    let isT1 = w.geometry.layout == .t1
    let rb2 = a.geometry.rowBytes, nB = a.geometry.blocks
    let lv = a.level.c, acts = a.acts, ub = UnsafePointer(a.ubase), ui = UnsafePointer(a.uidx)
    let (p, al, ga, nG) = (w.packed, w.alpha, w.gamma, w.geometry.groups)
    let body = { (thread: Int, rows: Range<Int>) in
        var gg2 = g2
        let kernelFloats = matmulRowTile * (nB + 16) + 4 * nB  // tllm_t2_matmul's scratch
        let floats = kernelFloats + (isT1 ? (rows.count * rb2 + 3) / 4 : 0)
        let scratch = pool?.scratch(thread, floats) ?? UnsafeMutablePointer<Float>.allocate(capacity: floats)
        defer { if pool == nil { scratch.deallocate() } }
        var wbase = p + rows.lowerBound * w.geometry.rowBytes
        if isT1 {  // re-pack this thread's rows as t2 once
            let dst = UnsafeMutableRawPointer(scratch + kernelFloats).assumingMemoryBound(to: UInt8.self)
            var gg1 = g1
            tllm_t1_to_t2_rows(&gg1, &gg2, lv, wbase, rows.count, dst)
            wbase = UnsafePointer(dst)
        }
        var t0 = 0
        while t0 < T {
            let tn = min(matmulTokenBlock, T - t0)
            var r0 = rows.lowerBound
            while r0 < rows.upperBound {
                let rn = min(matmulRowTile, rows.upperBound - r0)
                tllm_t2_matmul(&gg2, lv, wbase + (r0 - rows.lowerBound) * rb2, al + r0 * nG, ga + r0 * nG, rn,
                               acts + t0, tn, ub, ui, scratch, y + t0 * ldy + r0, ldy)
                r0 += rn
            }
            t0 += tn
        }
    }
    if let pool {
        // rows shared in pieces (each thread its own half first, then the other's from the back), so a thread slowed
        // by the host does not leave the other spinning at the end of every product
        pool.forSharedRows([N], piece: [matmulPieceRows(N, threads: pool.threads)], align: matmulRowTile,
                           parallel: T * N * w.cols >= 1 << 18) { thread, _, rows in body(thread, rows) }
    } else {
        body(0, 0..<N)
    }
}

/// Rows per piece of a shared prompt product: about eight pieces per thread, between one row tile and 128 rows.
func matmulPieceRows(_ rows: Int, threads: Int) -> Int {
    min(128, max(matmulRowTile, rows / max(1, 8 * threads) / matmulRowTile * matmulRowTile))
}
