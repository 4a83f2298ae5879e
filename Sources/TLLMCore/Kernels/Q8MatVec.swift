// Matrix-vector product of a q8 matrix (int8 rows, one f16 scale per row; the embedding / LM head of a packed
// model): y_r = scale_r·Σ_i q_ri·x_i. Reference in plain Swift (x in float); the fast path quantizes x per block
// of 128 (s_b = max|x|/127) and runs the C kernels (VNNI: (q + 128) as u8 against x, minus 128·Σx per block).

import CTLLMKernels

/// y = W·x in float, Double accumulators.
public func q8MatvecReference(_ w: Q8Matrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    for r in 0..<w.rows {
        var s = 0.0
        let row = w.q + r * w.cols
        for k in 0..<w.cols { s += Double(row[k]) * Double(x[k]) }
        y[r] = Float(s * Double(Float(Float16(bitPattern: w.scale[r]))))
    }
}

/// Vectors x quantized for the q8 kernels: per vector q [roundup(K,128) + 64], per block s and Σq.
public final class Q8Activations: QuantizedVectors, @unchecked Sendable {
    public init(cols K: Int, capacity: Int = 1) {
        let nB = (K + 127) / 128
        super.init(cols: K, qstride: nB * 128 + 64, sstride: nB + 1, capacity: capacity)
    }

    var s: UnsafeMutablePointer<Float> { first(Float.self) }
    var qsum: UnsafeMutablePointer<Int32> { second(Int32.self) }

    /// Quantizes T vectors x [T × K] (growing the buffers as needed).
    public func prepare(_ x: UnsafePointer<Float>, count T: Int = 1) {
        reserve(T)
        let (q, s, qsum) = (self.q, self.s, self.qsum)
        for t in 0..<T { tllm_q8_prepare(cols, x + t * cols, q + t * qstride, s + t * sstride, qsum + t * sstride) }
    }
}

/// y = W·a (the first prepared vector) with the int8 kernels at `level`, rows split over `pool`.
public func q8Matvec(_ w: Q8Matrix, _ a: Q8Activations, _ y: UnsafeMutablePointer<Float>, pool: WorkerPool? = nil,
                     level: KernelLevel = .best)
{
    precondition(a.cols == w.cols, "q8 activations of \(a.cols) columns for \(w.name) with \(w.cols)")
    let (K, q, sc, lv) = (w.cols, w.q, w.scale, level.c)
    let (aq, s, qs) = (UnsafePointer(a.q), UnsafePointer(a.s), UnsafePointer(a.qsum))
    if let pool {
        pool.forRanges(w.rows, align: 4, parallel: w.rows * K >= ternaryParallelThreshold) { r in
            tllm_q8_matvec(lv, K, q, sc, r.lowerBound, r.upperBound, aq, s, qs, y)
        }
    } else {
        tllm_q8_matvec(lv, K, q, sc, 0, w.rows, aq, s, qs, y)
    }
}

/// y = W·x (quantizes x into a fresh Q8Activations).
public func q8Matvec(_ w: Q8Matrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, pool: WorkerPool? = nil,
                     level: KernelLevel = .best)
{
    let a = Q8Activations(cols: w.cols)
    a.prepare(x)
    q8Matvec(w, a, y, pool: pool, level: level)
}

/// Y[T × N] = X[T × K]·Wᵀ (the logits of a whole sequence): each row of W read once per 4 tokens.
public func q8Matmul(_ x: UnsafePointer<Float>, _ T: Int, _ w: Q8Matrix, _ y: UnsafeMutablePointer<Float>, ldy: Int? = nil,
                     pool: WorkerPool? = nil, level: KernelLevel = .best)
{
    let a = Q8Activations(cols: w.cols, capacity: T)
    a.prepare(x, count: T)
    let (K, q, sc, lv, ld) = (w.cols, w.q, w.scale, level.c, ldy ?? w.rows)
    let (aq, s, qs, qst, sst) = (UnsafePointer(a.q), UnsafePointer(a.s), UnsafePointer(a.qsum), a.qstride, a.sstride)
    let body = { (r: Range<Int>) in tllm_q8_matmul(lv, K, q, sc, r.lowerBound, r.upperBound, aq, qst, s, qs, sst, T, y, ld) }
    if let pool { pool.forRanges(w.rows, align: 4, parallel: T * w.rows * K >= 1 << 18, body) } else { body(0..<w.rows) }
}
