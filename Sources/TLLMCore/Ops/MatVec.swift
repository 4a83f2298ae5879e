// Matrix-vector product y[N] = W[N × K] · x[K] for one token (decode), W stored as f32, f16 or bf16 and
// converted in registers: one row at a time with four FMA accumulators, or four rows at a time sharing the loads
// of x (long rows, small matrices). bf16 rows are read as 32-bit pairs (even element = word << 16, odd =
// word & 0xFFFF0000) against a de-interleaved copy of x, so the conversion is two bit operations. Rows are split
// across the worker pool. `matvecReference` is the plain loop; OpenBLAS sgemv measured slower (ForwardBench).

import COpenBLAS

/// y = W·x, plain loop with a Double accumulator (the reference the fast kernel is tested against).
public func matvecReference(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    var row = [Float](repeating: 0, count: w.cols)
    for r in 0..<w.rows {
        row.withUnsafeMutableBufferPointer { w.rowsAsFloat(r..<(r + 1), into: $0.baseAddress!) }
        var s = 0.0
        for k in 0..<w.cols { s += Double(row[k]) * Double(x[k]) }
        y[r] = Float(s)
    }
}

/// Matrices with fewer elements than this run on one thread (waking the pool costs more than it saves).
public let matvecParallelThreshold = 1 << 16

/// Rows at least this long go four at a time (x read once for four rows); shorter ones one at a time. Streaming
/// one thread, f32: K = 2048 1-row 27 GB/s (the bound of a plain sum, 28) vs 4-row 21; K = 5632 1-row 18 vs 4-row
/// 23 (x, 22 KB, no longer stays in L1 beside the row); crossover near 4096. f16/bf16 alike (28 vs 19; 15 vs 18).
/// Matrices small enough to stay in L2 (stories260K) also go four rows at a time: 24k vs 14k tokens/s decode.
public let matvecFourRowMinimumK = 4096

/// Scratch for the bf16 kernel's de-interleaved x; grown on demand, one per thread of use.
public final class MatVecScratch {
    var xd: UnsafeMutablePointer<Float>
    var capacity: Int
    public init() {
        capacity = 0
        xd = UnsafeMutablePointer<Float>.allocate(capacity: 1)
    }
    func reserve(_ n: Int) {
        if n > capacity {
            xd.deallocate()
            xd = UnsafeMutablePointer<Float>.allocate(capacity: n)
            capacity = n
        }
    }
    deinit { xd.deallocate() }
}

/// y = W·x with the SIMD kernels, rows split over `pool` (one thread when `pool` is nil or W is small).
public func matvec(_ w: WeightMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                   pool: WorkerPool? = nil, scratch: MatVecScratch? = nil)
{
    let K = w.cols, N = w.rows
    let rowBytes = K * w.dtype.size
    let base = w.base
    let parallel = N * K >= matvecParallelThreshold
    let fourRows = K >= matvecFourRowMinimumK || N * rowBytes <= 1 << 20  // long rows, or a matrix that stays in L2
    switch w.dtype {
    case .f32:
        let body = { (rs: Range<Int>) in
            var r = rs.lowerBound
            while fourRows && r + 4 <= rs.upperBound { store4(dot4F32(base + r * rowBytes, rowBytes, x, K), y + r); r += 4 }
            while r < rs.upperBound { y[r] = dotF32(base + r * rowBytes, x, K); r += 1 }
        }
        if let pool { pool.forRanges(N, align: 4, parallel: parallel, body) } else { body(0..<N) }
    case .f16:
        let body = { (rs: Range<Int>) in
            var r = rs.lowerBound
            while fourRows && r + 4 <= rs.upperBound { store4(dot4F16(base + r * rowBytes, rowBytes, x, K), y + r); r += 4 }
            while r < rs.upperBound { y[r] = dotF16(base + r * rowBytes, x, K); r += 1 }
        }
        if let pool { pool.forRanges(N, align: 4, parallel: parallel, body) } else { body(0..<N) }
    case .bf16:
        let s = scratch ?? MatVecScratch()
        s.reserve(K)
        let xd = UnsafePointer(s.xd)
        deinterleavePairs(x, s.xd, K)
        let body = { (rs: Range<Int>) in
            var r = rs.lowerBound
            while fourRows && r + 4 <= rs.upperBound { store4(dot4BF16(base + r * rowBytes, rowBytes, x, xd, K), y + r); r += 4 }
            while r < rs.upperBound { y[r] = dotBF16(base + r * rowBytes, x, xd, K); r += 1 }
        }
        if let pool { pool.forRanges(N, align: 4, parallel: parallel, body) } else { body(0..<N) }
    default:
        fatalError("unreachable: WeightMatrix holds float dtypes only")
    }
}

@inline(__always) func store4(_ v: SIMD4<Float>, _ y: UnsafeMutablePointer<Float>) {
    y[0] = v[0]; y[1] = v[1]; y[2] = v[2]; y[3] = v[3]
}

// MARK: four rows at once (x is loaded once for four rows: for long rows, see matvecFourRowMinimumK)

@inline(__always)
func dot4F32(_ w: UnsafeRawPointer, _ rowBytes: Int, _ x: UnsafePointer<Float>, _ n: Int) -> SIMD4<Float> {
    let xr = UnsafeRawPointer(x)
    let w0 = w, w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
    var i = 0
    while i + 16 <= n {
        let o = 4 * i
        let x0 = xr.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self)
        let x1 = xr.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self)
        a0.addProduct(w0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), x0)
        a1.addProduct(w1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), x0)
        a2.addProduct(w2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), x0)
        a3.addProduct(w3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float>.self), x0)
        b0.addProduct(w0.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), x1)
        b1.addProduct(w1.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), x1)
        b2.addProduct(w2.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), x1)
        b3.addProduct(w3.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float>.self), x1)
        i += 16
    }
    var s = SIMD4<Float>((a0 + b0).sum(), (a1 + b1).sum(), (a2 + b2).sum(), (a3 + b3).sum())
    while i < n {
        let xi = x[i]
        s[0] += w0.load(fromByteOffset: 4 * i, as: Float.self) * xi
        s[1] += w1.load(fromByteOffset: 4 * i, as: Float.self) * xi
        s[2] += w2.load(fromByteOffset: 4 * i, as: Float.self) * xi
        s[3] += w3.load(fromByteOffset: 4 * i, as: Float.self) * xi
        i += 1
    }
    return s
}

@inline(__always)
func dot4F16(_ w: UnsafeRawPointer, _ rowBytes: Int, _ x: UnsafePointer<Float>, _ n: Int) -> SIMD4<Float> {
    let xr = UnsafeRawPointer(x)
    let w0 = w, w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var b0 = SIMD8<Float>(), b1 = SIMD8<Float>(), b2 = SIMD8<Float>(), b3 = SIMD8<Float>()
    var i = 0
    while i + 16 <= n {
        let o = 2 * i, ox = 4 * i
        let x0 = xr.loadUnaligned(fromByteOffset: ox, as: SIMD8<Float>.self)
        let x1 = xr.loadUnaligned(fromByteOffset: ox + 32, as: SIMD8<Float>.self)
        a0.addProduct(SIMD8<Float>(w0.loadUnaligned(fromByteOffset: o, as: SIMD8<Float16>.self)), x0)
        a1.addProduct(SIMD8<Float>(w1.loadUnaligned(fromByteOffset: o, as: SIMD8<Float16>.self)), x0)
        a2.addProduct(SIMD8<Float>(w2.loadUnaligned(fromByteOffset: o, as: SIMD8<Float16>.self)), x0)
        a3.addProduct(SIMD8<Float>(w3.loadUnaligned(fromByteOffset: o, as: SIMD8<Float16>.self)), x0)
        b0.addProduct(SIMD8<Float>(w0.loadUnaligned(fromByteOffset: o + 16, as: SIMD8<Float16>.self)), x1)
        b1.addProduct(SIMD8<Float>(w1.loadUnaligned(fromByteOffset: o + 16, as: SIMD8<Float16>.self)), x1)
        b2.addProduct(SIMD8<Float>(w2.loadUnaligned(fromByteOffset: o + 16, as: SIMD8<Float16>.self)), x1)
        b3.addProduct(SIMD8<Float>(w3.loadUnaligned(fromByteOffset: o + 16, as: SIMD8<Float16>.self)), x1)
        i += 16
    }
    var s = SIMD4<Float>((a0 + b0).sum(), (a1 + b1).sum(), (a2 + b2).sum(), (a3 + b3).sum())
    while i < n {
        let xi = x[i]
        s[0] += Float(w0.load(fromByteOffset: 2 * i, as: Float16.self)) * xi
        s[1] += Float(w1.load(fromByteOffset: 2 * i, as: Float16.self)) * xi
        s[2] += Float(w2.load(fromByteOffset: 2 * i, as: Float16.self)) * xi
        s[3] += Float(w3.load(fromByteOffset: 2 * i, as: Float16.self)) * xi
        i += 1
    }
    return s
}

@inline(__always)
func dot4BF16(_ w: UnsafeRawPointer, _ rowBytes: Int, _ x: UnsafePointer<Float>, _ xd: UnsafePointer<Float>, _ n: Int) -> SIMD4<Float> {
    let xr = UnsafeRawPointer(xd)
    let w0 = w, w1 = w + rowBytes, w2 = w + 2 * rowBytes, w3 = w + 3 * rowBytes
    let hiMask = SIMD16<UInt32>(repeating: 0xFFFF_0000)
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var i = 0
    while i + 32 <= n {
        let xe = xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        let xo = xr.loadUnaligned(fromByteOffset: 4 * i + 64, as: SIMD16<Float>.self)
        let v0 = w0.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt32>.self)
        let v1 = w1.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt32>.self)
        let v2 = w2.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt32>.self)
        let v3 = w3.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt32>.self)
        a0.addProduct(unsafeBitCast(v0 &<< 16, to: SIMD16<Float>.self), xe)
        a1.addProduct(unsafeBitCast(v1 &<< 16, to: SIMD16<Float>.self), xe)
        a2.addProduct(unsafeBitCast(v2 &<< 16, to: SIMD16<Float>.self), xe)
        a3.addProduct(unsafeBitCast(v3 &<< 16, to: SIMD16<Float>.self), xe)
        a0.addProduct(unsafeBitCast(v0 & hiMask, to: SIMD16<Float>.self), xo)
        a1.addProduct(unsafeBitCast(v1 & hiMask, to: SIMD16<Float>.self), xo)
        a2.addProduct(unsafeBitCast(v2 & hiMask, to: SIMD16<Float>.self), xo)
        a3.addProduct(unsafeBitCast(v3 & hiMask, to: SIMD16<Float>.self), xo)
        i += 32
    }
    var s = SIMD4<Float>(a0.sum(), a1.sum(), a2.sum(), a3.sum())
    while i < n {
        let xi = x[i]
        s[0] += bf16ToFloat(w0.load(fromByteOffset: 2 * i, as: UInt16.self)) * xi
        s[1] += bf16ToFloat(w1.load(fromByteOffset: 2 * i, as: UInt16.self)) * xi
        s[2] += bf16ToFloat(w2.load(fromByteOffset: 2 * i, as: UInt16.self)) * xi
        s[3] += bf16ToFloat(w3.load(fromByteOffset: 2 * i, as: UInt16.self)) * xi
        i += 1
    }
    return s
}

// MARK: dot products of one stored row with x

@inline(__always)
func dotF32(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let xr = UnsafeRawPointer(x)
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var i = 0
    while i + 64 <= n {
        let o = 4 * i
        a0.addProduct(w.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: o, as: SIMD16<Float>.self))
        a1.addProduct(w.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: o + 64, as: SIMD16<Float>.self))
        a2.addProduct(w.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: o + 128, as: SIMD16<Float>.self))
        a3.addProduct(w.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: o + 192, as: SIMD16<Float>.self))
        i += 64
    }
    while i + 16 <= n {
        a0.addProduct(w.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self))
        i += 16
    }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while i < n {
        s += w.load(fromByteOffset: 4 * i, as: Float.self) * x[i]
        i += 1
    }
    return s
}

/// f16 row against x. Converted 8 lanes at a time: SIMD16<Float>(SIMD16<Float16>) is an out-of-line call per
/// vector (half the speed, measured); SIMD8 becomes one vcvtph2ps.
@inline(__always)
func dotF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let xr = UnsafeRawPointer(x)
    var a0 = SIMD8<Float>(), a1 = SIMD8<Float>(), a2 = SIMD8<Float>(), a3 = SIMD8<Float>()
    var i = 0
    while i + 32 <= n {
        let o = 2 * i, ox = 4 * i
        a0.addProduct(SIMD8<Float>(w.loadUnaligned(fromByteOffset: o, as: SIMD8<Float16>.self)), xr.loadUnaligned(fromByteOffset: ox, as: SIMD8<Float>.self))
        a1.addProduct(SIMD8<Float>(w.loadUnaligned(fromByteOffset: o + 16, as: SIMD8<Float16>.self)), xr.loadUnaligned(fromByteOffset: ox + 32, as: SIMD8<Float>.self))
        a2.addProduct(SIMD8<Float>(w.loadUnaligned(fromByteOffset: o + 32, as: SIMD8<Float16>.self)), xr.loadUnaligned(fromByteOffset: ox + 64, as: SIMD8<Float>.self))
        a3.addProduct(SIMD8<Float>(w.loadUnaligned(fromByteOffset: o + 48, as: SIMD8<Float16>.self)), xr.loadUnaligned(fromByteOffset: ox + 96, as: SIMD8<Float>.self))
        i += 32
    }
    while i + 8 <= n {
        a0.addProduct(SIMD8<Float>(w.loadUnaligned(fromByteOffset: 2 * i, as: SIMD8<Float16>.self)), xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD8<Float>.self))
        i += 8
    }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while i < n {
        s += Float(w.load(fromByteOffset: 2 * i, as: Float16.self)) * x[i]
        i += 1
    }
    return s
}

/// bf16 row against x; `xd` holds x de-interleaved per block of 32 (`deinterleavePairs`).
@inline(__always)
func dotBF16(_ w: UnsafeRawPointer, _ x: UnsafePointer<Float>, _ xd: UnsafePointer<Float>, _ n: Int) -> Float {
    let xr = UnsafeRawPointer(xd)
    let hiMask = SIMD16<UInt32>(repeating: 0xFFFF_0000)
    var a0 = SIMD16<Float>(), a1 = SIMD16<Float>(), a2 = SIMD16<Float>(), a3 = SIMD16<Float>()
    var i = 0
    while i + 64 <= n {
        let v0 = w.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt32>.self)
        let v1 = w.loadUnaligned(fromByteOffset: 2 * i + 64, as: SIMD16<UInt32>.self)
        a0.addProduct(unsafeBitCast(v0 &<< 16, to: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self))
        a1.addProduct(unsafeBitCast(v0 & hiMask, to: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: 4 * i + 64, as: SIMD16<Float>.self))
        a2.addProduct(unsafeBitCast(v1 &<< 16, to: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: 4 * i + 128, as: SIMD16<Float>.self))
        a3.addProduct(unsafeBitCast(v1 & hiMask, to: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: 4 * i + 192, as: SIMD16<Float>.self))
        i += 64
    }
    while i + 32 <= n {
        let v = w.loadUnaligned(fromByteOffset: 2 * i, as: SIMD16<UInt32>.self)
        a0.addProduct(unsafeBitCast(v &<< 16, to: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self))
        a1.addProduct(unsafeBitCast(v & hiMask, to: SIMD16<Float>.self), xr.loadUnaligned(fromByteOffset: 4 * i + 64, as: SIMD16<Float>.self))
        i += 32
    }
    var s = ((a0 + a1) + (a2 + a3)).sum()
    while i < n {
        s += bf16ToFloat(w.load(fromByteOffset: 2 * i, as: UInt16.self)) * x[i]
        i += 1
    }
    return s
}

/// For each whole block of 32 elements of x: the 16 even-indexed values, then the 16 odd-indexed ones (the order
/// `dotBF16` multiplies them in). A tail shorter than 32 is left alone (the kernel reads it from x).
@inline(__always)
func deinterleavePairs(_ x: UnsafePointer<Float>, _ xd: UnsafeMutablePointer<Float>, _ n: Int) {
    var b = 0
    while b + 32 <= n {
        for j in 0..<16 {
            xd[b + j] = x[b + 2 * j]
            xd[b + 16 + j] = x[b + 2 * j + 1]
        }
        b += 32
    }
}

/// y[rows] = W[rows, ·]·x through OpenBLAS sgemv (f32 weights only): the alternative the SIMD kernel was
/// measured against (ForwardBenchKernels); kept for that comparison.
public func sgemvRows(_ w: WeightMatrix, _ rows: Range<Int>, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    guard let wf = w.f32, !rows.isEmpty else { return }
    cblas_sgemv(CblasRowMajor, CblasNoTrans, Int32(rows.count), Int32(w.cols), 1, wf + rows.lowerBound * w.cols, Int32(w.cols),
                x, 1, 0, y + rows.lowerBound, 1)
}
