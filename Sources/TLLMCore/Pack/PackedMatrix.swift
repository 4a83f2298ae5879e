// The operands of the packed kernels, read in place from a packed container (memory-mapped or owned tensors):
// a ternary matrix [rows × K] (packed rows, f16 α and γ per group), a q8 matrix [rows × K] (i8 rows, one f16
// scale per row) and a q4 matrix [rows × K] (4-bit codes, one f16 scale per block of 32). They only hold
// pointers and keep the tensors' storage alive; the kernels live in Kernels/.

import CTLLMKernels

public struct PackedTernaryMatrix: @unchecked Sendable {
    public let name: String
    /// N: output features.
    public let rows: Int
    public let geometry: PackedGeometry
    /// Row r's packed bytes start at packed + r·rowBytes.
    public let packed: UnsafePointer<UInt8>
    /// α, γ [rows × nG] as f16 bit patterns.
    public let alpha: UnsafePointer<UInt16>, gamma: UnsafePointer<UInt16>
    private let keep: [TensorStorage]

    /// From N.t2/N.t1 (u8 [rows, rowBytes]) and f16 N.alpha, N.gamma [rows, nG].
    public init(name: String, packed p: Tensor, alpha a: Tensor, gamma g: Tensor, geometry geo: PackedGeometry,
                file: String = "") throws {
        func bad(_ why: String) -> TLLMError { TLLMError(file, "packed weight \(name): \(why)") }
        guard p.dtype == .u8, p.shape.count == 2, p.shape[1] == geo.rowBytes else {
            throw bad("packed codes must be u8 [rows, \(geo.rowBytes)], got \(p.dtype.rawValue) \(p.shape)")
        }
        let rows = p.shape[0]
        for t in [a, g] where !(t.dtype == .f16 && t.shape == [rows, geo.groups]) {
            throw bad("\(t.name) must be f16 [\(rows), \(geo.groups)], got \(t.dtype.rawValue) \(t.shape)")
        }
        // 2-byte alignment of α, γ (always true for container members, which start at 512-byte offsets).
        let aS = Int(bitPattern: a.bytes.baseAddress) % 2 == 0 ? a.storage : TensorStorage(copying: a.bytes)
        let gS = Int(bitPattern: g.bytes.baseAddress) % 2 == 0 ? g.storage : TensorStorage(copying: g.bytes)
        self.name = name
        self.rows = rows
        geometry = geo
        packed = p.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        alpha = aS.bytes.baseAddress!.assumingMemoryBound(to: UInt16.self)
        gamma = gS.bytes.baseAddress!.assumingMemoryBound(to: UInt16.self)
        keep = [p.storage, aS, gS]
    }

    /// Packs a [rows × K] code matrix with f32 α, γ (tests, benchmarks).
    public init(name: String, codes: [Int8], rows: Int, alpha: [Float], gamma: [Float], geometry geo: PackedGeometry) throws {
        let c = TensorStorage(count: codes.count)
        codes.withUnsafeBytes { c.mutableBytes.copyMemory(from: $0) }
        let ts = try packTernaryWeight(name: name, codes: Tensor(name: name + ".codes", dtype: .i8, shape: [rows, geo.cols], storage: c),
                                       alpha: Tensor(name: name + ".alpha", shape: [rows, geo.groups], floats: alpha),
                                       gamma: Tensor(name: name + ".gamma", shape: [rows, geo.groups], floats: gamma),
                                       groupSize: geo.groupSize, layout: geo.layout)
        try self.init(name: name, packed: ts[0], alpha: ts[1], gamma: ts[2], geometry: geo)
    }

    private init(name: String, rows: Int, geometry: PackedGeometry, packed: UnsafePointer<UInt8>, alpha: UnsafePointer<UInt16>,
                 gamma: UnsafePointer<UInt16>, keep: [TensorStorage]) {
        (self.name, self.rows, self.geometry, self.packed, self.alpha, self.gamma, self.keep) = (name, rows, geometry, packed, alpha, gamma, keep)
    }

    /// A t1 matrix re-packed as t2 in memory (the same codes, α and γ shared; 2 bits per weight instead of 1.6), rows
    /// split over `pool`; any other matrix as it is. What a t1 model becomes on CPUs whose t1 kernel is much slower
    /// than the t2 one (PackedModel.expandsT1).
    public func expandedToT2(level: KernelLevel, pool: WorkerPool? = nil) -> PackedTernaryMatrix {
        guard geometry.layout == .t1 else { return self }
        let g2 = geometry.with(layout: .t2)
        let s = TensorStorage(count: rows * g2.rowBytes)
        let dst = s.mutableBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        let (src, rb1, rb2, lv) = (packed, geometry.rowBytes, g2.rowBytes, level.c)
        let body = { (r: Range<Int>) in
            var c1 = geometry.c, c2 = g2.c
            tllm_t1_to_t2_rows(&c1, &c2, lv, src + r.lowerBound * rb1, r.count, dst + r.lowerBound * rb2)
        }
        if let pool { pool.forRanges(rows, parallel: rows >= 64, body) } else { body(0..<rows) }
        return PackedTernaryMatrix(name: name, rows: rows, geometry: g2, packed: UnsafePointer(dst), alpha: alpha, gamma: gamma,
                                   keep: keep + [s])
    }

    /// K: input features.
    public var cols: Int { geometry.cols }

    /// Bytes one mat-vec reads (packed rows, α and γ).
    public var byteCount: Int { rows * (geometry.rowBytes + 4 * geometry.groups) }

    /// Row r's codes.
    public func codes(row r: Int) -> [Int8] {
        [Int8](unsafeUninitializedCapacity: cols) { b, n in
            geometry.unpack(row: packed + r * geometry.rowBytes, into: b.baseAddress!)
            n = cols
        }
    }

    /// α or γ of row r, group g, as f32.
    @inline(__always) public func alpha(_ r: Int, _ g: Int) -> Float { Float(Float16(bitPattern: alpha[r * geometry.groups + g])) }
    @inline(__always) public func gamma(_ r: Int, _ g: Int) -> Float { Float(Float16(bitPattern: gamma[r * geometry.groups + g])) }

    /// Ŵ = α·T + γ for row r (K values).
    public func dequantizedRow(_ r: Int) -> [Float] {
        let t = codes(row: r)
        return (0..<cols).map { k in
            let g = k / geometry.groupSize
            return TernaryCode.dequantize(t[k], alpha: alpha(r, g), gamma: gamma(r, g))
        }
    }
}

public struct Q8Matrix: @unchecked Sendable {
    public let name: String
    public let rows: Int, cols: Int
    /// Row r's K codes start at q + r·K.
    public let q: UnsafePointer<Int8>
    /// f16 bit patterns [rows].
    public let scale: UnsafePointer<UInt16>
    private let keep: [TensorStorage]

    /// From X.q8 (i8 [rows, K]) and X.scale (f16 [rows]).
    public init(name: String, q8: Tensor, scale s: Tensor, file: String = "") throws {
        guard q8.dtype == .i8, q8.shape.count == 2 else {
            throw TLLMError(file, "q8 weight \(name): codes must be i8 [rows, K], got \(q8.dtype.rawValue) \(q8.shape)")
        }
        guard s.dtype == .f16, s.shape == [q8.shape[0]] else {
            throw TLLMError(file, "q8 weight \(name): scale must be f16 [\(q8.shape[0])], got \(s.dtype.rawValue) \(s.shape)")
        }
        let sS = Int(bitPattern: s.bytes.baseAddress) % 2 == 0 ? s.storage : TensorStorage(copying: s.bytes)
        self.name = name
        rows = q8.shape[0]
        cols = q8.shape[1]
        q = q8.bytes.baseAddress!.assumingMemoryBound(to: Int8.self)
        scale = sS.bytes.baseAddress!.assumingMemoryBound(to: UInt16.self)
        keep = [q8.storage, sS]
    }

    public var byteCount: Int { rows * (cols + 2) }

    /// Row r as f32 into dst [K] (the embedding lookup).
    public func row(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        let s = Float(Float16(bitPattern: scale[r]))
        let src = q + r * cols
        for k in 0..<cols { dst[k] = Float(src[k]) * s }
    }
}

/// Format (CTLLMKernels/q4.c): per row nS = ⌈K/256⌉ superblocks of 128 bytes, two 4-bit codes u = q + 8 a byte in
/// the kernels' order, and one f16 scale d per block of 32 consecutive weights; w ≈ d·(u − 8).
public struct Q4Matrix: @unchecked Sendable {
    public let name: String
    public let rows: Int, cols: Int
    /// Row r's nS·128 bytes start at q + r·nS·128.
    public let q: UnsafePointer<UInt8>
    /// f16 bit patterns [rows × nS·8].
    public let scale: UnsafePointer<UInt16>
    private let keep: [TensorStorage]

    /// From X.q4 (u8 [rows, nS·128]) and X.scale (f16 [rows, nS·8]) of a matrix with K = cols.
    public init(name: String, q4: Tensor, scale s: Tensor, cols K: Int, file: String = "") throws {
        let nS = (K + 255) / 256
        guard K > 0, q4.dtype == .u8, q4.shape.count == 2, q4.shape[1] == nS * 128 else {
            throw TLLMError(file, "q4 weight \(name): codes must be u8 [rows, \(nS * 128)] for K = \(K), got \(q4.dtype.rawValue) \(q4.shape)")
        }
        guard s.dtype == .f16, s.shape == [q4.shape[0], nS * 8] else {
            throw TLLMError(file, "q4 weight \(name): scale must be f16 [\(q4.shape[0]), \(nS * 8)], got \(s.dtype.rawValue) \(s.shape)")
        }
        let sS = Int(bitPattern: s.bytes.baseAddress) % 2 == 0 ? s.storage : TensorStorage(copying: s.bytes)
        self.name = name
        rows = q4.shape[0]
        cols = K
        q = q4.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
        scale = sS.bytes.baseAddress!.assumingMemoryBound(to: UInt16.self)
        keep = [q4.storage, sS]
    }

    /// Bytes one mat-vec reads: 4.5 bits per weight (K rounded up to 256).
    public var byteCount: Int { rows * ((cols + 255) / 256) * (128 + 16) }

    /// Row r as f32 into dst [K] (the embedding lookup).
    public func row(_ r: Int, into dst: UnsafeMutablePointer<Float>) {
        dequantizeQ4Row(q, scale, cols: cols, row: r, into: dst)
    }
}
