// Y[T × N] = X[T × K] · Wᵀ (+ bias) for a whole sequence, W [N × K] as nn.Linear stores it, through OpenBLAS
// sgemm (SWIFT-NOTES: 100 GFLOP/s a core). f16/bf16 weights are converted to f32 a tile of rows at a time
// into a scratch buffer, so no f32 copy of the model is ever held. `matmulReference` is the plain loop.
// Training (f32 weights): `linearForward` Y = X·Wᵀ and `linearBackward` dX += dY·W, dW += dYᵀ·X, every product
// split over the pool by output columns (dX) or weight rows (dW), so each element has one fixed summation order.

import COpenBLAS

/// Rows of a 16-bit weight converted per sgemm call (a tile of rows × K floats, 2 MiB per thread at K = 2048). Each
/// call re-packs all of X, so fewer, larger tiles pay: pp512 of an f16 0.5 B model 294-303 → 311-316 tokens/s going
/// from 64 rows to 256 (Zen 4, 2 threads, alternating).
let matmulTileRows = 256

/// Products with fewer multiply-adds than this run on one thread.
public let matmulParallelThreshold = 1 << 18

/// Y = X·Wᵀ (+ bias broadcast over rows). `ldy` is Y's row stride (default N). With a pool, the N output
/// columns are split across its threads, each calling single-threaded sgemm (the caller sets OpenBLAS to one
/// thread: its own threading costs more than it saves at these sizes and fights the pool for the cores).
public func matmul(_ x: UnsafePointer<Float>, _ T: Int, _ w: WeightMatrix, bias: UnsafePointer<Float>? = nil,
                   _ y: UnsafeMutablePointer<Float>, ldy: Int? = nil, pool: WorkerPool? = nil)
{
    let N = w.rows, K = w.cols, ld = ldy ?? N
    guard T > 0, N > 0 else { return }
    let body = { (thread: Int, cols: Range<Int>) in
        if let wf = w.f32 {
            sgemmNT(T, cols.count, K, x, K, wf + cols.lowerBound * K, K, y + cols.lowerBound, ld)
        } else {
            let tile = min(matmulTileRows, cols.count)
            let buf = pool?.scratch(thread, tile * K) ?? UnsafeMutablePointer<Float>.allocate(capacity: tile * K)
            defer { if pool == nil { buf.deallocate() } }
            var n0 = cols.lowerBound
            while n0 < cols.upperBound {
                let n1 = min(cols.upperBound, n0 + tile)
                w.rowsAsFloat(n0..<n1, into: buf)
                sgemmNT(T, n1 - n0, K, x, K, UnsafePointer(buf), K, y + n0, ld)
                n0 = n1
            }
        }
        if let bias {
            for t in 0..<T {
                let row = y + t * ld
                for n in cols { row[n] += bias[n] }
            }
        }
    }
    if let pool {
        pool.forChunks(N, align: 16, parallel: T * N * K >= matmulParallelThreshold, body)
    } else {
        body(0, 0..<N)
    }
}

/// C[M × N] = A[M × K] · B[N × K]ᵀ (row-major, leading dimensions given).
@inline(__always)
func sgemmNT(_ M: Int, _ N: Int, _ K: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
             _ c: UnsafeMutablePointer<Float>, _ ldc: Int, alpha: Float = 1)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasTrans, Int32(M), Int32(N), Int32(K), alpha, a, Int32(lda), b, Int32(ldb),
                0, c, Int32(ldc))
}

/// C[M × N] = A[M × K] · B[K × N] (row-major, leading dimensions given).
@inline(__always)
func sgemmNN(_ M: Int, _ N: Int, _ K: Int, _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
             _ c: UnsafeMutablePointer<Float>, _ ldc: Int)
{
    cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(M), Int32(N), Int32(K), 1, a, Int32(lda), b, Int32(ldb),
                0, c, Int32(ldc))
}

/// Y[T × N] = X[T × K]·W[N × K]ᵀ for f32 weights, columns split over the pool.
public func linearForward(_ y: UnsafeMutablePointer<Float>, _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>,
                          _ T: Int, _ N: Int, _ K: Int, pool: WorkerPool? = nil)
{
    guard T > 0, N > 0 else { return }
    let body = { (_: Int, cols: Range<Int>) in
        sgemmNT(T, cols.count, K, x, K, w + cols.lowerBound * K, K, y + cols.lowerBound, N)
    }
    if let pool { pool.forChunks(N, align: 16, parallel: T * N * K >= matmulParallelThreshold, body) } else { body(0, 0..<N) }
}

/// The backward pass of `linearForward`: dx[T × K] += dy[T × N]·W (when dx is given), dw[N × K] += dyᵀ·x.
public func linearBackward(_ dx: UnsafeMutablePointer<Float>?, _ dw: UnsafeMutablePointer<Float>?, _ dy: UnsafePointer<Float>,
                           _ x: UnsafePointer<Float>, _ w: UnsafePointer<Float>, _ T: Int, _ N: Int, _ K: Int,
                           pool: WorkerPool? = nil)
{
    guard T > 0, N > 0 else { return }
    let big = T * N * K >= matmulParallelThreshold
    if let dx {
        let body = { (_: Int, cols: Range<Int>) in
            cblas_sgemm(CblasRowMajor, CblasNoTrans, CblasNoTrans, Int32(T), Int32(cols.count), Int32(N), 1, dy, Int32(N),
                        w + cols.lowerBound, Int32(K), 1, dx + cols.lowerBound, Int32(K))
        }
        if let pool { pool.forChunks(K, align: 16, parallel: big, body) } else { body(0, 0..<K) }
    }
    if let dw {
        let body = { (_: Int, rows: Range<Int>) in
            cblas_sgemm(CblasRowMajor, CblasTrans, CblasNoTrans, Int32(rows.count), Int32(K), Int32(T), 1, dy + rows.lowerBound,
                        Int32(N), x, Int32(K), 1, dw + rows.lowerBound * K, Int32(K))
        }
        if let pool { pool.forChunks(N, align: 16, parallel: big, body) } else { body(0, 0..<N) }
    }
}

/// Y = X·Wᵀ, plain loops in Double (the reference `matmul` is tested against).
public func matmulReference(_ x: UnsafePointer<Float>, _ T: Int, _ w: WeightMatrix, _ y: UnsafeMutablePointer<Float>) {
    let K = w.cols
    for n in 0..<w.rows {
        let row = w.row(n)
        for t in 0..<T {
            var s = 0.0
            for k in 0..<K { s += Double(x[t * K + k]) * Double(row[k]) }
            y[t * w.rows + n] = Float(s)
        }
    }
}

/// Sets OpenBLAS's thread count (process-wide).
public func setBLASThreads(_ n: Int) {
    openblas_set_num_threads(Int32(max(1, n)))
}
