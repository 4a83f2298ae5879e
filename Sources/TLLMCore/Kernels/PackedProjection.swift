// The projections of a packed model: several weights applied to one input (q/k/v to the normed state,
// gate/up), whatever form each weight has (PackedLinear). The input is quantized once per ternary geometry
// and reused by every weight of that geometry; the activation buffers live in a workspace kept by the model,
// so decode allocates nothing. Vector (decode, y = W·x) and batch (prompt, Y = X·Wᵀ) forms.

/// Activation buffers reused from call to call (not reentrant: one forward pass at a time, as the pool).
final class PackedWorkspace: @unchecked Sendable {
    var vectors: [PackedGeometry: TernaryActivations] = [:]
    var batches: [PackedGeometry: TernaryActivations] = [:]
    var q8: [Int: Q8Activations] = [:]
    var q4: [Int: Q4Activations] = [:]
    let matvecScratch = MatVecScratch()

    func vector(_ g: PackedGeometry, _ level: KernelLevel) -> TernaryActivations {
        if let a = vectors[g] { return a }
        let a = TernaryActivations(geometry: g, level: level)
        vectors[g] = a
        return a
    }

    func batch(_ g: PackedGeometry, _ level: KernelLevel, _ T: Int) -> TernaryActivations {
        let a = batches[g] ?? TernaryActivations(geometry: g, level: level, capacity: T)
        batches[g] = a
        return a
    }

    func q8Vector(_ K: Int) -> Q8Activations {
        if let a = q8[K] { return a }
        let a = Q8Activations(cols: K)
        q8[K] = a
        return a
    }

    func q4Vector(_ K: Int) -> Q4Activations {
        if let a = q4[K] { return a }
        let a = Q4Activations(cols: K)
        q4[K] = a
        return a
    }
}

/// One projection: weight, optional bias [N], output.
typealias Projection = (w: PackedLinear, bias: [Float]?, y: UnsafeMutablePointer<Float>)

extension PackedModel {
    /// y = W·x (+ bias) for each projection; x [K] is shared.
    func projectVector(_ x: UnsafePointer<Float>, _ ps: [Projection]) {
        var prepared = Set<PackedGeometry>()
        var q8Prepared = Set<Int>(), q4Prepared = Set<Int>()
        if ps.count > 1, ps.allSatisfy({ if case .ternary = $0.w { true } else { false } }) {
            // all ternary (q/k/v, gate/up): one dispatch for all of them
            var jobs: [(w: PackedTernaryMatrix, a: TernaryActivations, y: UnsafeMutablePointer<Float>)] = []
            for p in ps {
                guard case let .ternary(m) = p.w else { continue }
                let a = workspace.vector(m.geometry, level)
                if prepared.insert(m.geometry).inserted { a.prepare(x) }
                jobs.append((m, a, p.y))
            }
            ternaryMatvecs(jobs, pool: pool)
            for p in ps { if let b = p.bias { for i in 0..<b.count { p.y[i] += b[i] } } }
            return
        }
        for p in ps {
            switch p.w {
            case let .ternary(m):
                let a = workspace.vector(m.geometry, level)
                if prepared.insert(m.geometry).inserted { a.prepare(x) }
                ternaryMatvec(m, a, p.y, pool: pool)
            case let .float(m):
                matvec(m, x, p.y, pool: pool, scratch: workspace.matvecScratch)
            case let .q8(m):
                let a = workspace.q8Vector(m.cols)
                if q8Prepared.insert(m.cols).inserted { a.prepare(x) }
                q8Matvec(m, a, p.y, pool: pool, level: level)
            case let .q4(m):
                let a = workspace.q4Vector(m.cols)
                if q4Prepared.insert(m.cols).inserted { a.prepare(x) }
                q4Matvec(m, a, p.y, pool: pool, level: level)
            }
            if let b = p.bias { for i in 0..<b.count { p.y[i] += b[i] } }
        }
    }

    /// Y = X·Wᵀ (+ bias) for each projection, X [T × K] shared, Y [T × N] (row stride N).
    func projectBatch(_ x: UnsafePointer<Float>, _ T: Int, _ ps: [Projection]) {
        var prepared = Set<PackedGeometry>()
        for p in ps {
            switch p.w {
            case let .ternary(m):
                let g2 = m.geometry.with(layout: .t2)
                let a = workspace.batch(g2, level, T)
                if prepared.insert(g2).inserted { a.prepare(x, count: T, pool: pool) }
                ternaryMatmulPrepared(m, a, p.y, ldy: m.rows, pool: pool)
                if let b = p.bias { for t in 0..<T { for n in 0..<m.rows { p.y[t * m.rows + n] += b[n] } } }
            case let .float(m):
                withOptionalPointer(p.bias) { matmul(x, T, m, bias: $0, p.y, pool: pool) }
            case let .q8(m):
                q8Matmul(x, T, m, p.y, pool: pool, level: level)
                if let b = p.bias { for t in 0..<T { for n in 0..<m.rows { p.y[t * m.rows + n] += b[n] } } }
            case let .q4(m):
                q4Matmul(x, T, m, p.y, pool: pool, level: level)
                if let b = p.bias { for t in 0..<T { for n in 0..<m.rows { p.y[t * m.rows + n] += b[n] } } }
            }
        }
    }
}
