// Activation vectors quantized for the packed ternary kernels (DESIGN §10): per block b of C slots (128 for
// the usual G = 128) s_b = max|x|/127 and q = round(x/s_b) ∈ [−127, 127]; per group the float sum of x (for the
// shift γ) and c_g = Σ_b s_b·Σq (the correction for storing u = T + 1). Holds up to `capacity` vectors, for one
// geometry and kernel level, plus the per-unit lane tables; buffers are reused from call to call.

import CTLLMKernels

public final class TernaryActivations: @unchecked Sendable {
    public let geometry: PackedGeometry
    public let level: KernelLevel
    public private(set) var capacity: Int
    /// Vectors prepared by the last `prepare`.
    public private(set) var count = 0
    let units: Int
    let ubase: UnsafeMutablePointer<Int32>, uidx: UnsafeMutablePointer<Int32>
    private(set) var acts: UnsafeMutablePointer<tllm_tact>
    private var buffer: UnsafeMutableRawPointer
    private let strides: (qn: Int, qk: Int, s: Int, g: Int, total: Int)

    public init(geometry g: PackedGeometry, level: KernelLevel = .best, capacity: Int = 1) {
        geometry = g
        self.level = level
        var cg = g.c
        units = Int(tllm_units(&cg, level.c))
        let lanes = Int(tllm_unit_bytes(level.c)) / 4
        ubase = .allocate(capacity: max(1, units))
        uidx = .allocate(capacity: max(1, units * lanes))
        tllm_tplan_init(&cg, level.c, ubase, uidx)
        func up(_ n: Int) -> Int { (n + 63) / 64 * 64 }
        let qn = up(g.slots + 64), qk = up(units * 4 * Int(tllm_unit_bytes(level.c)))
        let s = up(4 * (g.blocks + 16)), gs = up(4 * (g.groups + 16))
        strides = (qn, qk, s, gs, qn + qk + s + 2 * gs)
        self.capacity = max(1, capacity)
        buffer = UnsafeMutableRawPointer.allocate(byteCount: self.capacity * strides.total, alignment: 64)
        acts = .allocate(capacity: self.capacity)
        bind()
    }

    deinit {
        ubase.deallocate()
        uidx.deallocate()
        buffer.deallocate()
        acts.deallocate()
    }

    private func bind() {
        for t in 0..<capacity {
            let p = buffer + t * strides.total
            acts[t] = tllm_tact(qn: (p).assumingMemoryBound(to: Int8.self),
                                qk: (p + strides.qn).assumingMemoryBound(to: Int8.self),
                                s: (p + strides.qn + strides.qk).assumingMemoryBound(to: Float.self),
                                c: (p + strides.qn + strides.qk + strides.s).assumingMemoryBound(to: Float.self),
                                xs: (p + strides.qn + strides.qk + strides.s + strides.g).assumingMemoryBound(to: Float.self))
        }
    }

    /// Room for at least n vectors (the contents are lost when it grows).
    public func reserve(_ n: Int) {
        guard n > capacity else { return }
        buffer.deallocate()
        acts.deallocate()
        capacity = n
        buffer = UnsafeMutableRawPointer.allocate(byteCount: capacity * strides.total, alignment: 64)
        acts = .allocate(capacity: capacity)
        bind()
    }

    /// Quantizes T vectors x [T × K] (row t at x + t·ldx), split over `pool` when there are several.
    public func prepare(_ x: UnsafePointer<Float>, count T: Int = 1, ldx: Int? = nil, pool: WorkerPool? = nil) {
        reserve(T)
        count = T
        let ld = ldx ?? geometry.cols
        var g = geometry.c
        let lv = level.c, a = acts
        if let pool, T > 1 {
            pool.forRanges(T, parallel: T * geometry.cols >= 1 << 14) { r in
                var gg = g
                for t in r { tllm_tact_prepare(&gg, lv, x + t * ld, a + t) }
            }
        } else {
            for t in 0..<T { tllm_tact_prepare(&g, lv, x + t * ld, a + t) }
        }
    }

    /// Vector t: q in slot order, block scales, group sums (what the reference of the int8 path reads).
    public func quantized(_ t: Int = 0) -> (q: [Int8], scales: [Float], xsum: [Float]) {
        let a = acts[t]
        return (Array(UnsafeBufferPointer(start: a.qn, count: geometry.slots)),
                Array(UnsafeBufferPointer(start: a.s, count: geometry.blocks)),
                Array(UnsafeBufferPointer(start: a.xs, count: geometry.groups)))
    }
}
