// RMSNorm (Zhang & Sennrich 2019), as LLaMA uses it: out[t, c] = inp[t, c] / sqrt(mean_c(inp[t, ·]²) + eps) · weight[c].
// inp, out [T × C]; weight [C]; rstd [T] (optional, saved for the backward pass).

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
