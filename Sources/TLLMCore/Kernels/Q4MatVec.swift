// Matrix-vector product of a q4 matrix (4-bit codes in blocks of 32 with an f16 scale each; the embedding / LM
// head of a packed model; format in Sources/CTLLMKernels/q4.c): y_r = Σ_i d_{r,b(i)}·(u_ri − 8)·x_i. Reference in
// plain Swift (x in float); the fast path quantizes x per block of 128 (s_b = max|x|/127) into the weights'
// kernel order and runs the C kernels (u as u8 against x, minus 8·Σx per block of 32).

import CTLLMKernels

/// y = W·x from the dequantized weights, x in float, Double accumulators.
public func q4MatvecReference(_ w: Q4Matrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var row = [Float](repeating: 0, count: w.cols)
    for r in 0..<w.rows {
        w.row(r, into: &row)
        var s = 0.0
        for k in 0..<w.cols { s += Double(row[k]) * Double(x[k]) }
        y[r] = Float(s)
    }
}

/// Vectors x quantized for the q4 kernels: per vector qk [nS·256] in kernel order, sv and cv [nS·8].
public final class Q4Activations: QuantizedVectors, @unchecked Sendable {
    public init(cols K: Int, capacity: Int = 1) {
        let nS = (K + 255) / 256
        super.init(cols: K, qstride: nS * 256, sstride: nS * 8, capacity: capacity)
    }

    var qk: UnsafeMutablePointer<Int8> { q }
    var sv: UnsafeMutablePointer<Float> { first(Float.self) }
    var cv: UnsafeMutablePointer<Float> { second(Float.self) }

    /// Quantizes T vectors x [T × K] (growing the buffers as needed).
    public func prepare(_ x: UnsafePointer<Float>, count T: Int = 1) {
        reserve(T)
        let (qk, sv, cv) = (self.qk, self.sv, self.cv)
        for t in 0..<T { tllm_q4_prepare(cols, x + t * cols, qk + t * qstride, sv + t * sstride, cv + t * sstride) }
    }
}

/// y = W·a (the first prepared vector) with the kernels at `level`, rows split over `pool`.
public func q4Matvec(_ w: Q4Matrix, _ a: Q4Activations, _ y: UnsafeMutablePointer<Float>, pool: WorkerPool? = nil,
                     level: KernelLevel = .best)
{
    precondition(a.cols == w.cols, "q4 activations of \(a.cols) columns for \(w.name) with \(w.cols)")
    let (K, q, d, lv) = (w.cols, w.q, w.scale, level.c)
    let (qk, sv, cv) = (UnsafePointer(a.qk), UnsafePointer(a.sv), UnsafePointer(a.cv))
    if let pool {
        pool.forRanges(w.rows, align: 4, parallel: w.rows * K >= ternaryParallelThreshold) { r in
            tllm_q4_matvec(lv, K, q, d, r.lowerBound, r.upperBound, qk, sv, cv, y)
        }
    } else {
        tllm_q4_matvec(lv, K, q, d, 0, w.rows, qk, sv, cv, y)
    }
}

/// y = W·x (quantizes x into a fresh Q4Activations).
public func q4Matvec(_ w: Q4Matrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, pool: WorkerPool? = nil,
                     level: KernelLevel = .best)
{
    let a = Q4Activations(cols: w.cols)
    a.prepare(x)
    q4Matvec(w, a, y, pool: pool, level: level)
}

/// Y[T × N] = X[T × K]·Wᵀ (the logits of a whole sequence): each superblock of W unpacked once per 4 tokens.
public func q4Matmul(_ x: UnsafePointer<Float>, _ T: Int, _ w: Q4Matrix, _ y: UnsafeMutablePointer<Float>, ldy: Int? = nil,
                     pool: WorkerPool? = nil, level: KernelLevel = .best)
{
    let a = Q4Activations(cols: w.cols, capacity: T)
    a.prepare(x, count: T)
    let (K, q, d, lv, ld) = (w.cols, w.q, w.scale, level.c, ldy ?? w.rows)
    let (qk, sv, cv, qst, sst) = (UnsafePointer(a.qk), UnsafePointer(a.sv), UnsafePointer(a.cv), a.qstride, a.sstride)
    let body = { (r: Range<Int>) in tllm_q4_matmul(lv, K, q, d, r.lowerBound, r.upperBound, qk, qst, sv, cv, sst, T, y, ld) }
    if let pool { pool.forRanges(w.rows, align: 4, parallel: T * w.rows * K >= 1 << 18, body) } else { body(0..<w.rows) }
}
