// Dequantizers of ggml's 32-element block types (spec: `dequantize_row_*` in ggml-quants.c, gguf-py quants.py).
// Block layouts (d, m: IEEE half; element j of the low half and j+16 of the high half share byte qs[j]):
//   Q4_0 {d, qs[16]} = d·(q−8)        Q4_1 {d, m, qs[16]} = d·q + m        Q8_0 {d, qs[32] int8} = d·q
//   Q5_0 {d, qh[4], qs[16]} = d·(q−16) Q5_1 {d, m, qh[4], qs[16]} = d·q + m  (5th bit of element j: qh bit j)
//   IQ4_NL {d, qs[16]} = d·kvalues[q]. Every product is exact in f32; the min is one IEEE addition.

/// IQ4_NL's non-linear 4-bit grid (ggml's kvalues_iq4nl).
let iq4nlValues: [Int8] = [-127, -104, -83, -65, -49, -35, -22, -10, 1, 13, 25, 38, 53, 69, 89, 113]

let dequantizeQ4_0: GGMLDequantize = { src, dst, nBlocks in
    for b in 0..<nBlocks {
        let x = src + b * 18
        let y = dst + b * 32
        let d = loadF16(x, 0)
        for j in 0..<16 {
            let q = x.load(fromByteOffset: 2 + j, as: UInt8.self)
            y[j] = d * Float(Int(q & 0x0F) - 8)
            y[j + 16] = d * Float(Int(q >> 4) - 8)
        }
    }
}

let dequantizeQ4_1: GGMLDequantize = { src, dst, nBlocks in
    for b in 0..<nBlocks {
        let x = src + b * 20
        let y = dst + b * 32
        let d = loadF16(x, 0)
        let m = loadF16(x, 2)
        for j in 0..<16 {
            let q = x.load(fromByteOffset: 4 + j, as: UInt8.self)
            y[j] = d * Float(q & 0x0F) + m
            y[j + 16] = d * Float(q >> 4) + m
        }
    }
}

/// The 32 fifth bits of a Q5 block, bit j for element j.
@inline(__always) private func loadQH(_ x: UnsafeRawPointer, _ offset: Int) -> UInt32 {
    UInt32(littleEndian: x.loadUnaligned(fromByteOffset: offset, as: UInt32.self))
}

let dequantizeQ5_0: GGMLDequantize = { src, dst, nBlocks in
    for b in 0..<nBlocks {
        let x = src + b * 22
        let y = dst + b * 32
        let d = loadF16(x, 0)
        let qh = loadQH(x, 2)
        for j in 0..<16 {
            let q = x.load(fromByteOffset: 6 + j, as: UInt8.self)
            let h0 = Int((qh >> UInt32(j)) & 1) << 4
            let h1 = Int((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float((Int(q & 0x0F) | h0) - 16)
            y[j + 16] = d * Float((Int(q >> 4) | h1) - 16)
        }
    }
}

let dequantizeQ5_1: GGMLDequantize = { src, dst, nBlocks in
    for b in 0..<nBlocks {
        let x = src + b * 24
        let y = dst + b * 32
        let d = loadF16(x, 0)
        let m = loadF16(x, 2)
        let qh = loadQH(x, 4)
        for j in 0..<16 {
            let q = x.load(fromByteOffset: 8 + j, as: UInt8.self)
            let h0 = Int((qh >> UInt32(j)) & 1) << 4
            let h1 = Int((qh >> UInt32(j + 16)) & 1) << 4
            y[j] = d * Float(Int(q & 0x0F) | h0) + m
            y[j + 16] = d * Float(Int(q >> 4) | h1) + m
        }
    }
}

let dequantizeQ8_0: GGMLDequantize = { src, dst, nBlocks in
    for b in 0..<nBlocks {
        let x = src + b * 34
        let y = dst + b * 32
        let d = loadF16(x, 0)
        for j in 0..<32 {
            y[j] = d * Float(x.load(fromByteOffset: 2 + j, as: Int8.self))
        }
    }
}

let dequantizeIQ4_NL: GGMLDequantize = { src, dst, nBlocks in
    iq4nlValues.withUnsafeBufferPointer { kv in
        for b in 0..<nBlocks {
            let x = src + b * 18
            let y = dst + b * 32
            let d = loadF16(x, 0)
            for j in 0..<16 {
                let q = x.load(fromByteOffset: 2 + j, as: UInt8.self)
                y[j] = d * Float(kv[Int(q & 0x0F)])
                y[j + 16] = d * Float(kv[Int(q >> 4)])
            }
        }
    }
}
