// Dequantizers of ggml's K-quants: 256-element super-blocks with per-sub-block scales (spec: ggml-quants.c
// `dequantize_row_q{2,3,4,5,6}_K`, gguf-py quants.py). Element e of a 128-element half h, lane l (0..<32),
// plane k takes its low bits from qs[32h + l] >> (bits·k): ggml walks the qs bytes once per bit plane.
//   Q2_K {sc[16], qs[64], d, dmin} = d·(sc&15)·q − dmin·(sc>>4)   Q3_K {hmask[32], qs[64], sc[12], d} = d·(sc−32)·(q − 4·!h)
//   Q4_K {d, dmin, sc[12], qs[128]}, Q5_K {…, qh[32], qs[128]} = d·sc·q − dmin·m   Q6_K {ql[128], qh[64], sc[16] int8, d}

let dequantizeQ2_K: GGMLDequantize = { src, dst, nBlocks in
    for b in 0..<nBlocks {
        let x = src + b * 84
        let scales = x, qs = x + 16
        let d = loadF16(x, 80), dmin = loadF16(x, 82)
        var y = dst + b * QK_K
        var si = 0
        for half in 0..<2 {
            let q = qs + 32 * half
            for k in 0..<4 {
                let shift = UInt8(2 * k)
                for part in 0..<2 {
                    let sc = scales.load(fromByteOffset: si, as: UInt8.self)
                    si += 1
                    let dl = d * Float(sc & 0x0F), ml = dmin * Float(sc >> 4)
                    for l in 0..<16 {
                        let v = (q.load(fromByteOffset: 16 * part + l, as: UInt8.self) >> shift) & 3
                        y[l] = dl * Float(v) - ml
                    }
                    y += 16
                }
            }
        }
    }
}

let dequantizeQ3_K: GGMLDequantize = { src, dst, nBlocks in
    var scale = [Int8](repeating: 0, count: 16)
    scale.withUnsafeMutableBufferPointer { sc in
        for b in 0..<nBlocks {
            let x = src + b * 110
            let hmask = x, qs = x + 32, packed = x + 96
            let d = loadF16(x, 108)
            // 16 six-bit scales: low nibbles in bytes 0..<8 (two per byte), high bit pairs in bytes 8..<12.
            for i in 0..<16 {
                let lo = i < 8 ? packed.load(fromByteOffset: i, as: UInt8.self) & 0x0F
                               : packed.load(fromByteOffset: i - 8, as: UInt8.self) >> 4
                let hi = (packed.load(fromByteOffset: 8 + i % 4, as: UInt8.self) >> UInt8(2 * (i / 4))) & 3
                sc[i] = Int8(lo | (hi << 4)) - 32
            }
            var y = dst + b * QK_K
            var si = 0
            for half in 0..<2 {
                let q = qs + 32 * half
                for k in 0..<4 {
                    let shift = UInt8(2 * k)
                    let m = UInt8(1) << UInt8(4 * half + k)
                    for part in 0..<2 {
                        let dl = d * Float(sc[si])
                        si += 1
                        for l in 0..<16 {
                            let j = 16 * part + l
                            let low = Int((q.load(fromByteOffset: j, as: UInt8.self) >> shift) & 3)
                            let high = hmask.load(fromByteOffset: j, as: UInt8.self) & m != 0 ? 0 : 4
                            y[l] = dl * Float(low - high)
                        }
                        y += 16
                    }
                }
            }
        }
    }
}

/// Scale and min of sub-block j (0..<8) from the 12 packed bytes of Q4_K / Q5_K (ggml's get_scale_min_k4).
@inline(__always) private func scaleMinK4(_ j: Int, _ q: UnsafeRawPointer) -> (Float, Float) {
    @inline(__always) func at(_ i: Int) -> UInt8 { q.load(fromByteOffset: i, as: UInt8.self) }
    if j < 4 { return (Float(at(j) & 63), Float(at(j + 4) & 63)) }
    let sc = (at(j + 4) & 0x0F) | ((at(j - 4) >> 6) << 4)
    let m = (at(j + 4) >> 4) | ((at(j) >> 6) << 4)
    return (Float(sc), Float(m))
}

let dequantizeQ4_K: GGMLDequantize = { src, dst, nBlocks in
    for b in 0..<nBlocks {
        let x = src + b * 144
        let d = loadF16(x, 0), dmin = loadF16(x, 2)
        let scales = x + 4
        var q = x + 16
        var y = dst + b * QK_K
        for pair in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * pair, scales), (s2, m2) = scaleMinK4(2 * pair + 1, scales)
            let d1 = d * s1, min1 = dmin * m1, d2 = d * s2, min2 = dmin * m2
            for l in 0..<32 {
                let v = q.load(fromByteOffset: l, as: UInt8.self)
                y[l] = d1 * Float(v & 0x0F) - min1
                y[l + 32] = d2 * Float(v >> 4) - min2
            }
            q += 32
            y += 64
        }
    }
}

let dequantizeQ5_K: GGMLDequantize = { src, dst, nBlocks in
    for b in 0..<nBlocks {
        let x = src + b * 176
        let d = loadF16(x, 0), dmin = loadF16(x, 2)
        let scales = x + 4, qh = x + 16
        var ql = x + 48
        var y = dst + b * QK_K
        for pair in 0..<4 {
            let (s1, m1) = scaleMinK4(2 * pair, scales), (s2, m2) = scaleMinK4(2 * pair + 1, scales)
            let d1 = d * s1, min1 = dmin * m1, d2 = d * s2, min2 = dmin * m2
            let u1 = UInt8(1) << UInt8(2 * pair), u2 = UInt8(2) << UInt8(2 * pair)
            for l in 0..<32 {
                let v = ql.load(fromByteOffset: l, as: UInt8.self)
                let h = qh.load(fromByteOffset: l, as: UInt8.self)
                y[l] = d1 * Float((v & 0x0F) + (h & u1 != 0 ? 16 : 0)) - min1
                y[l + 32] = d2 * Float((v >> 4) + (h & u2 != 0 ? 16 : 0)) - min2
            }
            ql += 32
            y += 64
        }
    }
}

let dequantizeQ6_K: GGMLDequantize = { src, dst, nBlocks in
    for b in 0..<nBlocks {
        let x = src + b * 210
        let d = loadF16(x, 208)
        for half in 0..<2 {
            let ql = x + 64 * half, qh = x + 128 + 32 * half, sc = x + 192 + 8 * half
            let y = dst + b * QK_K + 128 * half
            @inline(__always) func scale(_ i: Int) -> Float { d * Float(sc.load(fromByteOffset: i, as: Int8.self)) }
            for l in 0..<32 {
                let s = l / 16
                let a = ql.load(fromByteOffset: l, as: UInt8.self), c = ql.load(fromByteOffset: l + 32, as: UInt8.self)
                let h = qh.load(fromByteOffset: l, as: UInt8.self)
                let q1 = Int((a & 0x0F) | ((h & 3) << 4)) - 32
                let q2 = Int((c & 0x0F) | (((h >> 2) & 3) << 4)) - 32
                let q3 = Int((a >> 4) | (((h >> 4) & 3) << 4)) - 32
                let q4 = Int((c >> 4) | (((h >> 6) & 3) << 4)) - 32
                y[l] = scale(s) * Float(q1)
                y[l + 32] = scale(s + 2) * Float(q2)
                y[l + 64] = scale(s + 4) * Float(q3)
                y[l + 96] = scale(s + 6) * Float(q4)
            }
        }
    }
}
