// RMSNorm (Zhang & Sennrich 2019), as LLaMA uses it: out[t, c] = inp[t, c] / sqrt(mean_c(inp[t, ·]²) + eps) · weight[c].
// inp, out [T × C]; weight [C]; rstd [T] (optional, saved for the backward pass).
// Backward, with r = rstd[t] and g = dout ⊙ weight:  dinp = r·g − r³/C · inp · Σ_c g_c·inp_c,
//                                                     dweight[c] = Σ_t dout[t, c]·inp[t, c]·r_t.

public func rmsnormForward(_ out: UnsafeMutablePointer<Float>, _ rstd: UnsafeMutablePointer<Float>?,
                           _ inp: UnsafePointer<Float>, _ weight: UnsafePointer<Float>, _ T: Int, _ C: Int, eps: Float)
{
    for t in 0..<T {
        let x = inp + t * C, o = out + t * C
        let r = 1 / (sumOfSquares(x, C) / Float(C) + eps).squareRoot()
        rstd?[t] = r
        for c in 0..<C { o[c] = x[c] * r * weight[c] }
    }
}

/// Σ x[i]² with SIMD16 partial sums.
@inline(__always)
func sumOfSquares(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    let xr = UnsafeRawPointer(x)
    var a = SIMD16<Float>()
    var i = 0
    while i + 16 <= n {
        let v = xr.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        a.addProduct(v, v)
        i += 16
    }
    var s = a.sum()
    while i < n { s += x[i] * x[i]; i += 1 }
    return s
}

/// Accumulates the input gradient: dinp += ∂L/∂inp for rows 0..<T (rows are independent: split them freely).
public func rmsnormBackward(_ dinp: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>, _ inp: UnsafePointer<Float>,
                            _ weight: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>, _ T: Int, _ C: Int)
{
    for t in 0..<T {
        let x = inp + t * C, dy = dout + t * C, dx = dinp + t * C
        let r = rstd[t]
        var dot: Float = 0
        for c in 0..<C { dot += dy[c] * weight[c] * x[c] }
        let k = r * r * r * dot / Float(C)
        for c in 0..<C { dx[c] += r * dy[c] * weight[c] - k * x[c] }
    }
}

/// Accumulates the weight gradient over rows 0..<T in row order (one thread: the order fixes the bits).
public func rmsnormWeightBackward(_ dweight: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                                  _ inp: UnsafePointer<Float>, _ rstd: UnsafePointer<Float>, _ T: Int, _ C: Int)
{
    for t in 0..<T {
        let x = inp + t * C, dy = dout + t * C, r = rstd[t]
        for c in 0..<C { dweight[c] += dy[c] * x[c] * r }
    }
}
