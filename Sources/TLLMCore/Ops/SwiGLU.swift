// SwiGLU gate of the LLaMA MLP: out = silu(gate) ⊙ up, silu(g) = g · σ(g) = g / (1 + e^-g).
// The MLP around it is down(swiglu(gate(x), up(x))); out, gate, up [T × F] (flattened to n elements here).
// out may alias gate or up. Backward: dgate += dout·up·σ(g)·(1 + g·(1 − σ(g))), dup += dout·silu(g).

import Foundation

public func swigluForward(_ out: UnsafeMutablePointer<Float>, _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int) {
    let o = UnsafeMutableRawPointer(out), g = UnsafeRawPointer(gate), u = UnsafeRawPointer(up)
    let one = SIMD16<Float>(repeating: 1)
    var i = 0
    while i + 16 <= n {
        let gv = g.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        let uv = u.loadUnaligned(fromByteOffset: 4 * i, as: SIMD16<Float>.self)
        o.storeBytes(of: gv / (one + expSIMD(-gv)) * uv, toByteOffset: 4 * i, as: SIMD16<Float>.self)
        i += 16
    }
    while i < n {
        let gi = gate[i]
        out[i] = gi / (1 + Foundation.exp(-gi)) * up[i]
        i += 1
    }
}

/// Accumulates dgate and dup for n elements.
public func swigluBackward(_ dgate: UnsafeMutablePointer<Float>, _ dup: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                           _ gate: UnsafePointer<Float>, _ up: UnsafePointer<Float>, _ n: Int)
{
    for i in 0..<n {
        let g = gate[i], s = 1 / (1 + Foundation.exp(-g))
        dgate[i] += dout[i] * up[i] * s * (1 + g * (1 - s))
        dup[i] += dout[i] * g * s
    }
}
