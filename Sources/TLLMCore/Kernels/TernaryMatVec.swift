// Matrix-vector product of a packed ternary matrix W [N × K] (decode): per row r,
//   y_r = Σ_g α_rg·(Σ_{i∈g} T_ri·x_i) + γ_rg·(Σ_{i∈g} x_i),
// the group sums of x computed once per vector. `ternaryMatvecReference` is plain Swift in float (Double
// accumulators, x unquantized); `ternaryMatvec` runs the int8 C kernels (KernelLevel) over rows on the pool.

import CTLLMKernels

/// y = W·x with x in float: the exact path, and the reference every fast kernel is tested against.
public func ternaryMatvecReference(_ w: PackedTernaryMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>) {
    let geo = w.geometry
    let xsum = (0..<geo.groups).map { g in geo.columns(ofGroup: g).reduce(0.0) { $0 + Double(x[$1]) } }
    for r in 0..<w.rows {
        let t = w.codes(row: r)
        var acc = 0.0
        for g in 0..<geo.groups {
            var dot = 0.0
            for k in geo.columns(ofGroup: g) where t[k] != 0 { dot += t[k] > 0 ? Double(x[k]) : -Double(x[k]) }
            acc += Double(w.alpha(r, g)) * dot + Double(w.gamma(r, g)) * xsum[g]
        }
        y[r] = Float(acc)
    }
}

/// Matrices with fewer weights than this run on one thread.
public let ternaryParallelThreshold = 1 << 16

/// y = W·a for the vector `token` of prepared activations (same geometry as W), rows split over `pool`.
public func ternaryMatvec(_ w: PackedTernaryMatrix, _ a: TernaryActivations, token: Int = 0, _ y: UnsafeMutablePointer<Float>,
                          pool: WorkerPool? = nil)
{
    if let pool {
        ternaryMatvecs([(w, a, y)], token: token, pool: pool)
    } else {
        let s = UnsafeMutablePointer<Float>.allocate(capacity: w.geometry.blocks + 16)
        defer { s.deallocate() }
        ternaryMatvecRows(w, a, token: token, 0..<w.rows, scratch: s, y)
    }
}

/// Rows `rows` of y = W·a on the calling thread; `scratch` holds at least geometry.blocks + 16 floats.
@inline(__always)
func ternaryMatvecRows(_ w: PackedTernaryMatrix, _ a: TernaryActivations, token: Int, _ rows: Range<Int>,
                       scratch: UnsafeMutablePointer<Float>, _ y: UnsafeMutablePointer<Float>)
{
    precondition(a.geometry == w.geometry, "activations prepared for \(a.geometry), weight \(w.name) is \(w.geometry)")
    precondition(token < a.count, "activation vector \(token) not prepared")
    var g = w.geometry.c
    tllm_ternary_matvec(&g, a.level.c, w.packed, w.alpha, w.gamma, rows.lowerBound, rows.upperBound, a.acts + token,
                        UnsafePointer(a.ubase), UnsafePointer(a.uidx), scratch, y)
}

/// Several products y_j = W_j·a_j in one dispatch of the pool (decode's q/k/v and gate/up): every thread takes
/// its share of the rows of each matrix in turn, so the threads meet once instead of once per matrix; a thread
/// done early takes the last pieces of the others' shares (WorkerPool.forSharedRows).
public func ternaryMatvecs(_ ps: [(w: PackedTernaryMatrix, a: TernaryActivations, y: UnsafeMutablePointer<Float>)], token: Int = 0,
                           pool: WorkerPool)
{
    let weights = ps.reduce(0) { $0 + $1.w.rows * $1.w.cols }
    let scratchCount = ps.map { $0.w.geometry.blocks + 16 }.max() ?? 0
    for p in ps {
        precondition(p.a.geometry == p.w.geometry, "activations prepared for \(p.a.geometry), weight \(p.w.name) is \(p.w.geometry)")
        precondition(token < p.a.count, "activation vector \(token) not prepared")
    }
    // Plain pointers per job, so taking a piece touches no reference count (the two threads would contend for it).
    let jobs = ps.map { RowJob(g: $0.w.geometry.c, level: $0.a.level.c, w: $0.w.packed, alpha: $0.w.alpha, gamma: $0.w.gamma,
                               act: $0.a.acts + token, ubase: UnsafePointer($0.a.ubase), uidx: UnsafePointer($0.a.uidx), y: $0.y) }
    let scratch = (0..<pool.threads).map { pool.scratch($0, scratchCount) }
    withExtendedLifetime(ps) {
        jobs.withUnsafeBufferPointer { jb in
            scratch.withUnsafeBufferPointer { sb in
                pool.forSharedRows(ps.map { $0.w.rows }, piece: ps.map { WorkerPool.streamingPiece(rowBytes: Int($0.w.geometry.c.row_bytes)) },
                                   parallel: weights >= ternaryParallelThreshold) { i, j, rows in
                    var g = jb[j].g
                    tllm_ternary_matvec(&g, jb[j].level, jb[j].w, jb[j].alpha, jb[j].gamma, rows.lowerBound, rows.upperBound, jb[j].act,
                                        jb[j].ubase, jb[j].uidx, sb[i], jb[j].y)
                }
            }
        }
    }
}

/// One matrix of `ternaryMatvecs` as the C kernel takes it.
private struct RowJob {
    var g: tllm_tgeom
    var level: Int32
    var w: UnsafePointer<UInt8>, alpha: UnsafePointer<UInt16>, gamma: UnsafePointer<UInt16>
    var act: UnsafePointer<tllm_tact>
    var ubase: UnsafePointer<Int32>, uidx: UnsafePointer<Int32>
    var y: UnsafeMutablePointer<Float>
}

/// y = W·x: quantizes x (a fresh TernaryActivations) and runs the fast kernel. For repeated products of
/// one geometry, keep a TernaryActivations and call `prepare` + `ternaryMatvec(_:_:token:_:pool:)`.
public func ternaryMatvec(_ w: PackedTernaryMatrix, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>,
                          pool: WorkerPool? = nil, level: KernelLevel = .best)
{
    let a = TernaryActivations(geometry: w.geometry, level: level)
    a.prepare(x)
    ternaryMatvec(w, a, y, pool: pool)
}

/// The bound on |fast − reference| for row r of the int8 path: each x_i is off by at most s_b/2 after
/// quantization, and enters only through α_g·T_i, so |Δy_r| ≤ Σ_b |α_{g(b)}|·(s_b/2)·#{i ∈ b: T_ri ≠ 0}; plus
/// f32 rounding, bounded by `relative`·(Σ_g |α_g|·Σ_{i∈g}|T_i x_i| + |γ_g·Σ_{i∈g} x_i|).
public func ternaryInt8ErrorBound(_ w: PackedTernaryMatrix, row r: Int, x: UnsafePointer<Float>, scales: [Float],
                                  relative: Double = 1e-5) -> Double
{
    let geo = w.geometry, t = w.codes(row: r)
    var quant = 0.0, mag = 0.0
    for g in 0..<geo.groups {
        let a = Double(abs(w.alpha(r, g)))
        var xs = 0.0
        for k in geo.columns(ofGroup: g) {
            xs += Double(x[k])
            guard t[k] != 0 else { continue }
            let b = geo.slot(ofColumn: k) / geo.blockSize
            quant += a * Double(scales[b]) / 2
            mag += a * abs(Double(x[k]))
        }
        mag += abs(Double(w.gamma(r, g)) * xs)
    }
    return quant + relative * mag + 1e-30
}
