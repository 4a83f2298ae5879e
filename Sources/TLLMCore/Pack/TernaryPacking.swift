// Tensor-level packing of a ternarized weight N (DESIGN §10): N.codes i8 [rows, K] + N.alpha, N.gamma f32
// [rows, nG] ⇄ N.t2 or N.t1 u8 [rows, rowBytes] + N.alpha, N.gamma f16 [rows, nG] (round to nearest even). The
// packed tensor's manifest extra is {"layout", "group_size", "k"}. Unpacking restores the codes exactly and α,
// γ as the f16 values widened to f32. Also the q8 form of a float matrix: X.q8 i8 [rows, K] + X.scale f16 [rows],
// and its q4 form: X.q4 u8 [rows, ⌈K/256⌉·128] (extra {"k"}) + X.scale f16 [rows, ⌈K/256⌉·8] (format:
// CTLLMKernels/q4.c).

import Foundation

public enum PackedNames {
    public static func packed(_ n: String, _ l: PackedLayout) -> String { n + "." + l.rawValue }
    public static func q8(_ n: String) -> String { n + ".q8" }
    public static func q4(_ n: String) -> String { n + ".q4" }
    public static func scale(_ n: String) -> String { n + ".scale" }

    /// The manifest entries of a packed weight N [rows × K].
    public static func entries(_ n: String, rows: Int, geometry g: PackedGeometry) -> [ManifestTensor] {
        let extra: JSON = .object([("layout", .string(g.layout.rawValue)), ("group_size", JSON(g.groupSize)), ("k", JSON(g.cols))])
        return [ManifestTensor(name: packed(n, g.layout), dtype: .u8, shape: [rows, g.rowBytes], extra: extra),
                ManifestTensor(name: TernaryNames.alpha(n), dtype: .f16, shape: [rows, g.groups]),
                ManifestTensor(name: TernaryNames.gamma(n), dtype: .f16, shape: [rows, g.groups])]
    }

    /// The manifest entries of a q8 matrix X [rows × K].
    public static func q8Entries(_ n: String, rows: Int, cols: Int) -> [ManifestTensor] {
        [ManifestTensor(name: q8(n), dtype: .i8, shape: [rows, cols]), ManifestTensor(name: scale(n), dtype: .f16, shape: [rows])]
    }

    /// The manifest entries of a q4 matrix X [rows × K].
    public static func q4Entries(_ n: String, rows: Int, cols: Int) -> [ManifestTensor] {
        let nS = (cols + 255) / 256
        return [ManifestTensor(name: q4(n), dtype: .u8, shape: [rows, nS * 128], extra: .object([("k", JSON(cols))])),
                ManifestTensor(name: scale(n), dtype: .f16, shape: [rows, nS * 8])]
    }

    /// K of a q4 matrix from its X.q4 and X.scale entries (throws naming the tensor when they do not agree).
    public static func q4Cols(of t: ManifestTensor, scale s: ManifestTensor, file: String) throws -> Int {
        guard let K = t.extra?["k"]?.int, K > 0 else { throw TLLMError(file, "q4 tensor \(t.name): extra.k must be a positive integer") }
        let want = q4Entries(String(t.name.dropLast(3)), rows: t.shape.first ?? 0, cols: K)
        guard t.dtype == .u8, t.shape.count == 2, t.shape == want[0].shape else {
            throw TLLMError(file, "q4 tensor \(t.name): expected u8 \(want[0].shape) for K = \(K), got \(t.dtype.rawValue) \(t.shape)")
        }
        guard s.name == want[1].name, s.dtype == .f16, s.shape == want[1].shape else {
            throw TLLMError(file, "q4 tensor \(t.name) must be followed by \(want[1].name) (f16 \(want[1].shape)), got \(s.name) \(s.dtype.rawValue) \(s.shape)")
        }
        return K
    }

    /// The geometry recorded in a packed tensor's manifest entry (throws naming the tensor when it is unusable).
    public static func geometry(of t: ManifestTensor, file: String) throws -> PackedGeometry {
        func bad(_ why: String) -> TLLMError { TLLMError(file, "packed tensor \(t.name): \(why)") }
        guard let ls = t.extra?["layout"]?.string, let l = PackedLayout(rawValue: ls) else { throw bad("extra.layout must be \"t2\" or \"t1\"") }
        guard let G = t.extra?["group_size"]?.int, G > 0 else { throw bad("extra.group_size must be a positive integer") }
        guard let K = t.extra?["k"]?.int, K > 0 else { throw bad("extra.k must be a positive integer") }
        guard t.name.hasSuffix("." + ls) else { throw bad("the name does not end in .\(ls)") }
        let g = PackedGeometry(layout: l, cols: K, groupSize: G)
        guard t.dtype == .u8, t.shape.count == 2, t.shape[1] == g.rowBytes else {
            throw bad("expected u8 [rows, \(g.rowBytes)] for \(ls) with K = \(K), G = \(G); got \(t.dtype.rawValue) \(t.shape)")
        }
        return g
    }
}

/// Packs N's codes (i8 [rows, K]) and f32 α, γ ([rows, nG]); returns N.<layout> (u8), N.alpha, N.gamma (f16).
public func packTernaryWeight(name n: String, codes: Tensor, alpha: Tensor, gamma: Tensor, groupSize: Int,
                              layout: PackedLayout, file: String = "") throws -> [Tensor] {
    guard codes.dtype == .i8, codes.shape.count == 2 else {
        throw TLLMError(file, "\(codes.name): codes must be i8 [rows, K], got \(codes.dtype.rawValue) \(codes.shape)")
    }
    let rows = codes.shape[0], K = codes.shape[1]
    let g = PackedGeometry(layout: layout, cols: K, groupSize: groupSize)
    for t in [alpha, gamma] where !(t.dtype.isFloat && t.shape == [rows, g.groups]) {
        throw TLLMError(file, "\(t.name): expected a float [\(rows), \(g.groups)] tensor, got \(t.dtype.rawValue) \(t.shape)")
    }
    let out = TensorStorage(count: rows * g.rowBytes)
    let src = codes.bytes.baseAddress!.assumingMemoryBound(to: Int8.self)
    let dst = out.mutableBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    for i in 0..<(rows * K) where src[i] < -1 || src[i] > 1 {
        throw TLLMError(file, "\(codes.name): code \(src[i]) at row \(i / K), column \(i % K) is not −1, 0 or +1")
    }
    for r in 0..<rows { g.pack(codes: src + r * K, into: dst + r * g.rowBytes) }
    return [Tensor(name: PackedNames.packed(n, layout), dtype: .u8, shape: [rows, g.rowBytes], storage: out),
            Tensor(name: TernaryNames.alpha(n), dtype: alpha.dtype, shape: alpha.shape, storage: alpha.storage).converted(to: .f16),
            Tensor(name: TernaryNames.gamma(n), dtype: gamma.dtype, shape: gamma.shape, storage: gamma.storage).converted(to: .f16)]
}

/// The inverse of `packTernaryWeight`: N.codes (i8 [rows, K]), N.alpha and N.gamma (f32).
public func unpackTernaryWeight(name n: String, packed: Tensor, geometry g: PackedGeometry, alpha: Tensor,
                                gamma: Tensor) -> [Tensor] {
    let rows = packed.shape[0], K = g.cols
    let out = TensorStorage(count: rows * K)
    let src = packed.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    let dst = out.mutableBytes.baseAddress!.assumingMemoryBound(to: Int8.self)
    for r in 0..<rows { g.unpack(row: src + r * g.rowBytes, into: dst + r * K) }
    func f32(_ t: Tensor, _ name: String) -> Tensor {
        Tensor(name: name, dtype: t.dtype, shape: t.shape, storage: t.storage).converted(to: .f32)
    }
    return [Tensor(name: TernaryNames.codes(n), dtype: .i8, shape: [rows, K], storage: out),
            f32(alpha, TernaryNames.alpha(n)), f32(gamma, TernaryNames.gamma(n))]
}

/// X.q8 (i8 [rows, K], q = round(w / scale) with scale = max|w| / 127 per row) and X.scale (f16 [rows]). The
/// scale is rounded to f16 first and the codes computed against the rounded scale.
public func quantizeQ8(name n: String, _ w: Tensor) -> [Tensor] {
    let rows = w.shape.count == 2 ? w.shape[0] : 1, K = w.shape.last!
    let f = w.dtype == .f32 ? w : w.converted(to: .f32)
    let src = f.bytes.baseAddress!.assumingMemoryBound(to: Float.self)
    let q = TensorStorage(count: rows * K), sc = TensorStorage(count: rows * 2)
    let qd = q.mutableBytes.baseAddress!.assumingMemoryBound(to: Int8.self)
    let sd = sc.mutableBytes.baseAddress!.assumingMemoryBound(to: Float16.self)
    for r in 0..<rows {
        var amax: Float = 0
        for k in 0..<K { amax = max(amax, abs(src[r * K + k])) }
        let s = Float16(amax / 127)
        sd[r] = s
        let inv = Float(s) > 0 ? 1 / Float(s) : 0
        for k in 0..<K { qd[r * K + k] = Int8(max(-127, min(127, (src[r * K + k] * inv).rounded()))) }
    }
    return [Tensor(name: PackedNames.q8(n), dtype: .i8, shape: [rows, K], storage: q),
            Tensor(name: PackedNames.scale(n), dtype: .f16, shape: [rows], storage: sc)]
}

/// w ≈ q·scale as f32 [rows, K] (the float tensor a q8 matrix stands for).
public func dequantizeQ8(name: String, q8: Tensor, scale: Tensor) -> Tensor {
    let rows = q8.shape[0], K = q8.shape[1]
    let out = TensorStorage(count: rows * K * 4)
    let qd = q8.bytes.baseAddress!.assumingMemoryBound(to: Int8.self)
    let s = scale.floats()
    let d = out.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self)
    for r in 0..<rows { for k in 0..<K { d[r * K + k] = Float(qd[r * K + k]) * s[r] } }
    return Tensor(name: name, dtype: .f32, shape: [rows, K], storage: out)
}

/// Byte and nibble shift of weight o (0…255) within its superblock's 128 bytes: register r = (o % 16) / 4, byte
/// 4·(o / 32) + o % 4 of it, the high nibble for the second 16 of each block of 32 (CTLLMKernels/q4.c).
@inline(__always) func q4Position(_ o: Int) -> (byte: Int, shift: Int) {
    (32 * ((o % 16) / 4) + 4 * (o / 32) + o % 4, o % 32 >= 16 ? 4 : 0)
}

/// X.q4 (u8 [rows, nS·128], u = q + 8 in the kernels' nibble order; K goes into the manifest entry, q4Entries)
/// and X.scale (f16 [rows, nS·8]), nS = ⌈K/256⌉. Per block of 32: d = (the element of largest |w|) / −8 rounded to
/// f16, q = clamp(round(w/d), −8, 7) against the rounded d (0 when d = 0); padding past K u = 8, d = 0.
public func quantizeQ4(name n: String, _ w: Tensor) -> [Tensor] {
    let rows = w.shape.count == 2 ? w.shape[0] : 1, K = w.shape.last!, nS = (K + 255) / 256
    let f = w.dtype == .f32 ? w : w.converted(to: .f32)
    let src = f.bytes.baseAddress!.assumingMemoryBound(to: Float.self)
    let q = TensorStorage(count: rows * nS * 128), sc = TensorStorage(count: rows * nS * 8 * 2)
    let qd = q.mutableBytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    let sd = sc.mutableBytes.baseAddress!.assumingMemoryBound(to: Float16.self)
    for r in 0..<rows {
        let x = src + r * K, qr = qd + r * nS * 128
        for b in 0..<(nS * 8) {
            let e0 = b * 32, e1 = min(K, e0 + 32)
            var m: Float = 0  // the element of largest |w| (the first of equals)
            for k in e0..<max(e0, e1) where abs(x[k]) > abs(m) { m = x[k] }
            let d = m == 0 ? 0 : Float16(m / -8)
            sd[r * nS * 8 + b] = d
            for o in 0..<32 {
                let k = e0 + o, u = k < K && d != 0 ? UInt8(max(-8, min(7, (x[k] / Float(d)).rounded())) + 8) : 8
                let (byte, shift) = q4Position(k % 256)
                qr[128 * (k / 256) + byte] |= u << shift
            }
        }
    }
    return [Tensor(name: PackedNames.q4(n), dtype: .u8, shape: [rows, nS * 128], storage: q),
            Tensor(name: PackedNames.scale(n), dtype: .f16, shape: [rows, nS * 8], storage: sc)]
}

/// Row r of a q4 matrix as d·(u − 8) into dst [K]: q4 bytes at q (nS·128 per row), f16 scale bit patterns at d.
func dequantizeQ4Row(_ q: UnsafePointer<UInt8>, _ d: UnsafePointer<UInt16>, cols K: Int, row r: Int, into dst: UnsafeMutablePointer<Float>) {
    let nS = (K + 255) / 256, qr = q + r * nS * 128, dr = d + r * nS * 8
    for k in 0..<K {
        let (byte, shift) = q4Position(k % 256)
        dst[k] = Float(Float16(bitPattern: dr[k / 32])) * Float(Int((qr[128 * (k / 256) + byte] >> shift) & 15) - 8)
    }
}

/// w ≈ d·(u − 8) as f32 [rows, K] (the float tensor a q4 matrix stands for).
public func dequantizeQ4(name: String, q4: Tensor, scale: Tensor, cols K: Int) -> Tensor {
    let rows = q4.shape[0]
    let out = TensorStorage(count: rows * K * 4)
    let d = Int(bitPattern: scale.bytes.baseAddress) % 2 == 0 ? scale.storage : TensorStorage(copying: scale.bytes)
    let qp = q4.bytes.baseAddress!.assumingMemoryBound(to: UInt8.self)
    let dp = d.bytes.baseAddress!.assumingMemoryBound(to: UInt16.self)
    let dst = out.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self)
    for r in 0..<rows { dequantizeQ4Row(qp, dp, cols: K, row: r, into: dst + r * K) }
    return Tensor(name: name, dtype: .f32, shape: [rows, K], storage: out)
}
