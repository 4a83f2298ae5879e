// A ternarized linear weight W [rows × K] (DESIGN §7): codes T [rows × K] (i8, −1/0/+1), scales α and shifts γ
// [rows × nG] (f32), nG = ⌈K/G⌉ with a shorter last group where G does not divide K. Dequantized
// Ŵ[r, k] = α[r, g(k)]·T[r, k] + γ[r, g(k)]. In a ternary container it is stored as N.codes, N.alpha, N.gamma
// beside the latent float weight N (TernaryContainer.swift); this type converts to and from those tensors.

public struct TernaryWeight: Equatable, Sendable {
    public let rows: Int
    public let groups: TernaryGroups
    /// [rows × K], row-major.
    public var codes: [Int8]
    /// [rows × nG].
    public var alpha: [Float]
    /// [rows × nG].
    public var gamma: [Float]

    public var cols: Int { groups.cols }
    public var groupCount: Int { groups.count }

    /// All-zero codes, scales and shifts for a [rows × cols] weight with groups of `groupSize` (≤ 0: per row).
    public init(rows: Int, cols: Int, groupSize: Int) {
        self.rows = rows
        groups = TernaryGroups(cols: cols, size: groupSize)
        codes = [Int8](repeating: 0, count: rows * cols)
        alpha = [Float](repeating: 0, count: rows * groups.count)
        gamma = [Float](repeating: 0, count: rows * groups.count)
    }

    /// From the container's tensors (`name` is the weight's canonical name, for errors; `file` the container).
    /// Checks dtypes, shapes and that every code is −1, 0 or +1.
    public init(name: String, codes c: Tensor, alpha a: Tensor, gamma g: Tensor, groupSize: Int, file: String = "") throws {
        func bad(_ why: String) -> TLLMError { TLLMError(file, "ternary weight \(name): \(why)") }
        guard c.dtype == .i8, c.shape.count == 2, c.shape[0] > 0, c.shape[1] > 0 else {
            throw bad("codes must be i8 [rows, K], got \(c.dtype.rawValue) \(c.shape)")
        }
        guard groupSize > 0 else { throw bad("group size \(groupSize) must be positive") }
        let rows = c.shape[0], K = c.shape[1]
        let layout = TernaryGroups(cols: K, size: groupSize)
        for (t, what) in [(a, "alpha"), (g, "gamma")] {
            guard t.dtype == .f32, t.shape == [rows, layout.count] else {
                throw bad("\(what) must be f32 [\(rows), \(layout.count)] (K = \(K), group \(groupSize)), got \(t.dtype.rawValue) \(t.shape)")
            }
        }
        self.rows = rows
        groups = layout
        codes = Array(c.bytes.bindMemory(to: Int8.self))
        if let i = codes.firstIndex(where: { $0 < -1 || $0 > 1 }) {
            throw bad("code \(codes[i]) at row \(i / K), column \(i % K) is not −1, 0 or +1")
        }
        alpha = a.floats()
        gamma = g.floats()
    }

    /// Ŵ for rows `range`, into `dst` [range.count × K].
    public func dequantize(rows range: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let K = cols, nG = groupCount
        codes.withUnsafeBufferPointer { t in
            for r in range {
                let out = dst + (r - range.lowerBound) * K
                for g in 0..<nG {
                    let a = alpha[r * nG + g], s = gamma[r * nG + g]
                    for k in groups.range(g) { out[k] = TernaryCode.dequantize(t[r * K + k], alpha: a, gamma: s) }
                }
            }
        }
    }

    /// Ŵ [rows × K] as an f32 tensor called `name`.
    public func dequantizedTensor(name: String) -> Tensor {
        let s = TensorStorage(count: rows * cols * 4)
        dequantize(rows: 0..<rows, into: s.mutableBytes.baseAddress!.assumingMemoryBound(to: Float.self))
        return Tensor(name: name, dtype: .f32, shape: [rows, cols], storage: s)
    }

    /// N.codes, N.alpha, N.gamma for the weight called `name`, in container order.
    public func tensors(name: String) -> [Tensor] {
        let cs = TensorStorage(count: codes.count)
        codes.withUnsafeBytes { cs.mutableBytes.copyMemory(from: $0) }
        return [Tensor(name: TernaryNames.codes(name), dtype: .i8, shape: [rows, cols], storage: cs),
                Tensor(name: TernaryNames.alpha(name), shape: [rows, groupCount], floats: alpha),
                Tensor(name: TernaryNames.gamma(name), shape: [rows, groupCount], floats: gamma)]
    }

    /// Fraction of zero codes.
    public var zeroFraction: Double {
        codes.isEmpty ? 0 : Double(codes.reduce(0) { $0 + ($1 == 0 ? 1 : 0) }) / Double(codes.count)
    }

    /// Mean over groups with α > 0 of |γ|/α: how far the shift moves the grid, in steps.
    public var meanShiftRatio: Double {
        var s = 0.0, n = 0
        for i in 0..<alpha.count where alpha[i] > 0 {
            s += Double(abs(gamma[i])) / Double(alpha[i])
            n += 1
        }
        return n > 0 ? s / Double(n) : 0
    }

    /// (‖W − Ŵ‖², ‖W‖²) against the float weight `w` [rows × K].
    public func weightError(_ w: UnsafePointer<Float>) -> (error: Double, norm: Double) {
        var e = 0.0, n = 0.0
        let K = cols, nG = groupCount
        for r in 0..<rows {
            for g in 0..<nG {
                let a = alpha[r * nG + g], s = gamma[r * nG + g]
                for k in groups.range(g) {
                    let x = Double(w[r * K + k])
                    let d = x - Double(TernaryCode.dequantize(codes[r * K + k], alpha: a, gamma: s))
                    e += d * d
                    n += x * x
                }
            }
        }
        return (e, n)
    }
}
