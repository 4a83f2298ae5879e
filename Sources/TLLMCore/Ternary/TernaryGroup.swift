// One group of a ternarized weight row (DESIGN §7): the layout (K inputs in groups of G, the last one shorter where
// G does not divide K; G ≥ K is one group per row), the nearest grid point T = clamp(round((W − γ)/α), −1, 1), and
// the exact least-squares (α, γ) for fixed codes: α = (m·ΣWT − ΣT·ΣW)/(m·ΣT² − (ΣT)²), γ = (ΣW − α·ΣT)/m (α = 0,
// γ = mean when all codes are equal); weighted by s_i = Σx² of input i for the diagonal activation-aware refit.

/// Groups of one row: K inputs in ⌈K/G⌉ groups of G (the last one possibly shorter).
public struct TernaryGroups: Equatable, Sendable {
    /// K: inputs per row (columns of the weight).
    public let cols: Int
    /// G: weights per group (the last group of a row may hold fewer). Always ≥ 1.
    public let size: Int

    /// `size` ≤ 0 or ≥ `cols` means one group per row (G = K).
    public init(cols: Int, size: Int) {
        precondition(cols > 0, "a ternary weight needs at least one column")
        self.cols = cols
        self.size = size <= 0 || size >= cols ? cols : size
    }

    /// nG = ⌈K / G⌉.
    public var count: Int { (cols + size - 1) / size }

    /// Columns of group g.
    @inline(__always)
    public func range(_ g: Int) -> Range<Int> { (g * size)..<min(cols, (g + 1) * size) }

    /// The group of column k.
    @inline(__always)
    public func group(of k: Int) -> Int { k / size }

    /// True when the last group is shorter than G.
    public var isRagged: Bool { cols % size != 0 }
}

public enum TernaryCode {
    /// T = clamp(round((w − γ)/α), −1, 1) in f32, ties away from zero (Swift's `rounded()`): the nearest of
    /// γ − α, γ, γ + α for α > 0. α ≤ 0 (a degenerate group whose Ŵ is γ alone) gives 0.
    @inline(__always)
    public static func nearest(_ w: Float, alpha: Float, gamma: Float) -> Int8 {
        guard alpha > 0 else { return 0 }
        let r = ((w - gamma) / alpha).rounded()
        return r >= 1 ? 1 : (r <= -1 ? -1 : 0)
    }

    /// Ŵ = α·T + γ (α·T is exact for T ∈ {−1, 0, 1}, so every implementation gets the same f32).
    @inline(__always)
    public static func dequantize(_ t: Int8, alpha: Float, gamma: Float) -> Float {
        (t == 0 ? 0 : (t > 0 ? alpha : -alpha)) + gamma
    }
}

/// (α, γ) of one group, before rounding to the stored f32.
public struct ScaleShift: Equatable, Sendable {
    public var alpha: Double
    public var gamma: Double
    public init(alpha: Double, gamma: Double) {
        self.alpha = alpha
        self.gamma = gamma
    }
}

public enum GroupLeastSquares {
    /// argmin over (α, γ) of Σ (w_i − α·T_i − γ)².
    public static func solve(_ w: UnsafeBufferPointer<Float>, _ t: UnsafeBufferPointer<Int8>) -> ScaleShift {
        let m = Double(w.count)
        guard w.count > 0 else { return ScaleShift(alpha: 0, gamma: 0) }
        var sw = 0.0, st = 0.0, st2 = 0.0, swt = 0.0
        for i in 0..<w.count {
            let x = Double(w[i]), c = Double(t[i])
            sw += x
            st += c
            st2 += c * c
            swt += x * c
        }
        let den = m * st2 - st * st
        guard den > 0 else { return ScaleShift(alpha: 0, gamma: sw / m) }
        let a = (m * swt - st * sw) / den
        return ScaleShift(alpha: a, gamma: (sw - a * st) / m)
    }

    /// argmin over (α, γ) of Σ s_i (w_i − α·T_i − γ)², s_i ≥ 0. nil when Σs = 0 (the group's inputs never
    /// fired: any (α, γ) is as good); α = 0, γ = weighted mean when the codes are equal wherever s > 0.
    public static func solveWeighted(_ w: UnsafeBufferPointer<Float>, _ t: UnsafeBufferPointer<Int8>,
                                     _ s: UnsafeBufferPointer<Float>) -> ScaleShift?
    {
        var ss = 0.0, sw = 0.0, st = 0.0, st2 = 0.0, swt = 0.0
        for i in 0..<w.count {
            let q = Double(s[i]), x = Double(w[i]), c = Double(t[i])
            ss += q
            sw += q * x
            st += q * c
            st2 += q * c * c
            swt += q * x * c
        }
        guard ss > 0 else { return nil }
        let den = ss * st2 - st * st
        // Relative test: with weights the denominator can come out a rounding error above 0.
        guard den > 1e-12 * ss * st2 else { return ScaleShift(alpha: 0, gamma: sw / ss) }
        let a = (ss * swt - st * sw) / den
        return ScaleShift(alpha: a, gamma: (sw - a * st) / ss)
    }

    /// Σ (w_i − (α·T_i + γ))² with the stored f32 α, γ (what the model will compute).
    public static func squaredError(_ w: UnsafeBufferPointer<Float>, _ t: UnsafeBufferPointer<Int8>,
                                    alpha: Float, gamma: Float) -> Double
    {
        var e = 0.0
        for i in 0..<w.count {
            let d = Double(w[i]) - Double(TernaryCode.dequantize(t[i], alpha: alpha, gamma: gamma))
            e += d * d
        }
        return e
    }

    /// Σ s_i (w_i − (α·T_i + γ))².
    public static func weightedSquaredError(_ w: UnsafeBufferPointer<Float>, _ t: UnsafeBufferPointer<Int8>,
                                            _ s: UnsafeBufferPointer<Float>, alpha: Float, gamma: Float) -> Double
    {
        var e = 0.0
        for i in 0..<w.count {
            let d = Double(w[i]) - Double(TernaryCode.dequantize(t[i], alpha: alpha, gamma: gamma))
            e += Double(s[i]) * d * d
        }
        return e
    }
}
