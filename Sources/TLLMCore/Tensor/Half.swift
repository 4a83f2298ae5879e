// Bulk conversions between f32 and the 16-bit float formats: IEEE binary16 (f16) and bfloat16 (the upper 16
// bits of an f32). f32 → bf16 rounds to nearest even, as PyTorch and ggml do; NaN stays NaN.
// Built with -target-cpu haswell these loops vectorize to vcvtph2ps / vcvtps2ph (SWIFT-NOTES §2).

@inline(__always) public func bf16ToFloat(_ b: UInt16) -> Float { Float(bitPattern: UInt32(b) << 16) }

@inline(__always) public func floatToBF16(_ f: Float) -> UInt16 {
    let b = f.bitPattern
    if f.isNaN { return UInt16(b >> 16) | 0x40 }
    return UInt16(truncatingIfNeeded: (b &+ 0x7FFF &+ ((b >> 16) & 1)) >> 16)
}

public func convertF16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    src.withMemoryRebound(to: Float16.self, capacity: n) { h in
        for i in 0..<n { dst[i] = Float(h[i]) }
    }
}

public func convertF32ToF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
    dst.withMemoryRebound(to: Float16.self, capacity: n) { h in
        for i in 0..<n { h[i] = Float16(src[i]) }
    }
}

public func convertBF16ToF32(_ src: UnsafePointer<UInt16>, _ dst: UnsafeMutablePointer<Float>, _ n: Int) {
    for i in 0..<n { dst[i] = bf16ToFloat(src[i]) }
}

public func convertF32ToBF16(_ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<UInt16>, _ n: Int) {
    for i in 0..<n { dst[i] = floatToBF16(src[i]) }
}
