// Element types of tensors in our containers (DESIGN §2): f32, f16, bf16, i8, u8 (packed trits), i32 (token ids).
// Names are the lowercase strings used in manifest.json; safetensors and GGUF have their own spellings,
// mapped in their readers.

public enum DType: String, Sendable, CaseIterable, Codable {
    case f32, f16, bf16, i8, u8, i32

    /// Bytes per element.
    public var size: Int {
        switch self {
        case .f32, .i32: return 4
        case .f16, .bf16: return 2
        case .i8, .u8: return 1
        }
    }

    public var isFloat: Bool { self == .f32 || self == .f16 || self == .bf16 }

    /// The safetensors spelling ("F32", "F16", "BF16", "I8", "U8", "I32").
    public var safetensorsName: String { rawValue.uppercased() }

    public init?(safetensorsName: String) {
        self.init(rawValue: safetensorsName.lowercased())
    }
}

/// Number of elements of a shape, or nil when it overflows Int or has a negative dimension.
public func elementCount(_ shape: [Int]) -> Int? {
    var n = 1
    for d in shape {
        guard d >= 0 else { return nil }
        let (p, o) = n.multipliedReportingOverflow(by: d)
        if o { return nil }
        n = p
    }
    return n
}

/// Bytes taken by `shape` elements of `dtype`, or nil on overflow.
public func byteCount(_ shape: [Int], _ dtype: DType) -> Int? {
    guard let n = elementCount(shape) else { return nil }
    let (b, o) = n.multipliedReportingOverflow(by: dtype.size)
    return o ? nil : b
}
