// Dequantizers of ggml's ternary types (spec: ggml-quants.c `dequantize_row_tq1_0/tq2_0`, gguf-py quants.py),
// value d·(t − 1) with t ∈ {0, 1, 2} and d an IEEE half, 256 elements per block:
//   TQ2_0 {qs[64], d}: element 32·(4c + k) + m is bits 2k..2k+1 of qs[32c + m].
//   TQ1_0 {qs[48], qh[4], d}: base-3 digits stored as fixed-point fractions: t = ((byte · 3^n mod 256) · 3) >> 8.

/// Trit n (0 = most significant of 5) of a TQ1_0 byte: multiplying by 3^n (mod 256) shifts digit n to the top.
@inline(__always) private func trit(_ byte: UInt8, _ pow3: UInt8) -> Int {
    let q = byte &* pow3
    return Int((UInt16(q) * 3) >> 8)
}

let dequantizeTQ1_0: GGMLDequantize = { src, dst, nBlocks in
    for b in 0..<nBlocks {
        let x = src + b * 54
        let d = loadF16(x, 52)
        var y = dst + b * QK_K
        // qs[0..<32]: 5 trits each, 160 elements; qs[32..<48]: 5 trits each, 80 elements.
        for part in 0..<2 {
            let start = 32 * part, width = 32 >> part
            var pow3: UInt8 = 1
            for _ in 0..<5 {
                for m in 0..<width {
                    y[m] = d * Float(trit(x.load(fromByteOffset: start + m, as: UInt8.self), pow3) - 1)
                }
                y += width
                pow3 &*= 3
            }
        }
        // qh[0..<4]: 4 trits each, 16 elements.
        var pow3: UInt8 = 1
        for _ in 0..<4 {
            for m in 0..<4 {
                y[m] = d * Float(trit(x.load(fromByteOffset: 48 + m, as: UInt8.self), pow3) - 1)
            }
            y += 4
            pow3 &*= 3
        }
    }
}

let dequantizeTQ2_0: GGMLDequantize = { src, dst, nBlocks in
    for b in 0..<nBlocks {
        let x = src + b * 66
        let d = loadF16(x, 64)
        var y = dst + b * QK_K
        for c in 0..<2 {
            for k in 0..<4 {
                let shift = UInt8(2 * k)
                for m in 0..<32 {
                    let q = (x.load(fromByteOffset: 32 * c + m, as: UInt8.self) >> shift) & 3
                    y[m] = d * Float(Int(q) - 1)
                }
                y += 32
            }
        }
    }
}
