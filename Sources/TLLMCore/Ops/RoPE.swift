// Rotary position embedding, rotate-half layout (Hugging Face; GGUF's interleaved q/k rows are permuted to it
// at import): within each head, element i pairs with i + D/2 and at position p
//   x'[i] = x[i]·cos(p, i) − x[i + D/2]·sin(p, i),  x'[i + D/2] = x[i + D/2]·cos(p, i) + x[i]·sin(p, i).
// x [T × nHeads·D], row t at position pos0 + t; cos, sin [positions × D/2] (RopeTable).
// The rotation is orthogonal, so the backward pass rotates the gradient by −θ (the transpose), in place.

public func ropeForward(_ x: UnsafeMutablePointer<Float>, _ T: Int, nHeads: Int, headDim D: Int, pos0: Int,
                        cos: UnsafePointer<Float>, sin: UnsafePointer<Float>)
{
    let half = D / 2, stride = nHeads * D
    for t in 0..<T {
        let c = cos + (pos0 + t) * half, s = sin + (pos0 + t) * half
        for h in 0..<nHeads {
            let v = x + t * stride + h * D
            for i in 0..<half {
                let x0 = v[i], x1 = v[i + half]
                v[i] = x0 * c[i] - x1 * s[i]
                v[i + half] = x1 * c[i] + x0 * s[i]
            }
        }
    }
}

/// dx = Rᵀ·dy in place: dx[i] = dy[i]·cos + dy[i + D/2]·sin, dx[i + D/2] = dy[i + D/2]·cos − dy[i]·sin.
public func ropeBackward(_ d: UnsafeMutablePointer<Float>, _ T: Int, nHeads: Int, headDim D: Int, pos0: Int,
                         cos: UnsafePointer<Float>, sin: UnsafePointer<Float>)
{
    let half = D / 2, stride = nHeads * D
    for t in 0..<T {
        let c = cos + (pos0 + t) * half, s = sin + (pos0 + t) * half
        for h in 0..<nHeads {
            let v = d + t * stride + h * D
            for i in 0..<half {
                let d0 = v[i], d1 = v[i + half]
                v[i] = d0 * c[i] + d1 * s[i]
                v[i + half] = d1 * c[i] - d0 * s[i]
            }
        }
    }
}
