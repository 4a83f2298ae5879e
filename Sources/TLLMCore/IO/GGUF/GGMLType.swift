// ggml tensor element types as a traits table, llama.cpp style: per type its name, block size (elements per
// block), type size (bytes per block) and the row dequantizer to f32 (nil where tllm cannot dequantize).
// Ids are ggml.h's `enum ggml_type` (= gguf-py's GGMLQuantizationType); ids 4, 5, 31-33 and 36-38 belong to
// removed types and are rejected like any other unknown id. A tensor's bytes = ne[0]/block · type · rows.

/// Dequantizes `nBlocks` consecutive blocks at `src` (any alignment) into `nBlocks · blockSize` floats at `dst`.
public typealias GGMLDequantize = @Sendable (_ src: UnsafeRawPointer, _ dst: UnsafeMutablePointer<Float>, _ nBlocks: Int) -> Void

public enum GGMLType: UInt32, Sendable, CaseIterable {
    case F32 = 0, F16 = 1, Q4_0 = 2, Q4_1 = 3, Q5_0 = 6, Q5_1 = 7, Q8_0 = 8, Q8_1 = 9
    case Q2_K = 10, Q3_K = 11, Q4_K = 12, Q5_K = 13, Q6_K = 14, Q8_K = 15
    case IQ2_XXS = 16, IQ2_XS = 17, IQ3_XXS = 18, IQ1_S = 19, IQ4_NL = 20, IQ3_S = 21, IQ2_S = 22, IQ4_XS = 23
    case I8 = 24, I16 = 25, I32 = 26, I64 = 27, F64 = 28, IQ1_M = 29, BF16 = 30
    case TQ1_0 = 34, TQ2_0 = 35, MXFP4 = 39
}

/// One row of the traits table.
public struct GGMLTypeTraits: Sendable {
    public let name: String
    /// Elements per block (1 for the plain types).
    public let blockSize: Int
    /// Bytes per block.
    public let typeSize: Int
    /// Row dequantizer; nil for types tllm cannot dequantize.
    public let dequantize: GGMLDequantize?
}

/// Elements in one K-quant / ternary super-block (ggml's QK_K).
let QK_K = 256

extension GGMLType {
    /// The traits table; every case has a row.
    public static let traitsTable: [GGMLType: GGMLTypeTraits] = {
        func t(_ name: String, _ block: Int, _ size: Int, _ f: GGMLDequantize?) -> GGMLTypeTraits {
            GGMLTypeTraits(name: name, blockSize: block, typeSize: size, dequantize: f)
        }
        return [
            .F32: t("F32", 1, 4, dequantizeF32),
            .F16: t("F16", 1, 2, dequantizeF16),
            .Q4_0: t("Q4_0", 32, 18, dequantizeQ4_0),
            .Q4_1: t("Q4_1", 32, 20, dequantizeQ4_1),
            .Q5_0: t("Q5_0", 32, 22, dequantizeQ5_0),
            .Q5_1: t("Q5_1", 32, 24, dequantizeQ5_1),
            .Q8_0: t("Q8_0", 32, 34, dequantizeQ8_0),
            .Q8_1: t("Q8_1", 32, 40, nil),
            .Q2_K: t("Q2_K", QK_K, 84, dequantizeQ2_K),
            .Q3_K: t("Q3_K", QK_K, 110, dequantizeQ3_K),
            .Q4_K: t("Q4_K", QK_K, 144, dequantizeQ4_K),
            .Q5_K: t("Q5_K", QK_K, 176, dequantizeQ5_K),
            .Q6_K: t("Q6_K", QK_K, 210, dequantizeQ6_K),
            .Q8_K: t("Q8_K", QK_K, 292, nil),
            .IQ2_XXS: t("IQ2_XXS", QK_K, 66, nil),
            .IQ2_XS: t("IQ2_XS", QK_K, 74, nil),
            .IQ3_XXS: t("IQ3_XXS", QK_K, 98, nil),
            .IQ1_S: t("IQ1_S", QK_K, 50, nil),
            .IQ4_NL: t("IQ4_NL", 32, 18, dequantizeIQ4_NL),
            .IQ3_S: t("IQ3_S", QK_K, 110, nil),
            .IQ2_S: t("IQ2_S", QK_K, 82, nil),
            .IQ4_XS: t("IQ4_XS", QK_K, 136, nil),
            .I8: t("I8", 1, 1, dequantizeI8),
            .I16: t("I16", 1, 2, dequantizeI16),
            .I32: t("I32", 1, 4, dequantizeI32),
            .I64: t("I64", 1, 8, nil),
            .F64: t("F64", 1, 8, nil),
            .IQ1_M: t("IQ1_M", QK_K, 56, nil),
            .BF16: t("BF16", 1, 2, dequantizeBF16),
            .TQ1_0: t("TQ1_0", QK_K, 54, dequantizeTQ1_0),
            .TQ2_0: t("TQ2_0", QK_K, 66, dequantizeTQ2_0),
            .MXFP4: t("MXFP4", 32, 17, nil),
        ]
    }()

    public var traits: GGMLTypeTraits { GGMLType.traitsTable[self]! }
    public var name: String { traits.name }
    public var blockSize: Int { traits.blockSize }
    public var typeSize: Int { traits.typeSize }
    public var canDequantize: Bool { traits.dequantize != nil }

    /// The type called `name` ("Q4_K", case-insensitive).
    public init?(name: String) {
        let u = name.uppercased()
        guard let t = GGMLType.allCases.first(where: { $0.name == u }) else { return nil }
        self = t
    }

    /// Our container dtype with the same bytes, for the types stored as plain floats.
    public var dtype: DType? {
        switch self {
        case .F32: return .f32
        case .F16: return .f16
        case .BF16: return .bf16
        default: return nil
        }
    }

    /// Bytes taken by a tensor with dimensions `ne` (ggml order), or nil when ne[0] is not a multiple of the
    /// block size, a dimension is not positive, or the size overflows.
    public func byteSize(ne: [Int]) -> Int? {
        guard let first = ne.first, first % blockSize == 0, ne.allSatisfy({ $0 > 0 }),
              let n = elementCount(ne) else { return nil }
        let (b, o) = (n / blockSize).multipliedReportingOverflow(by: typeSize)
        return o ? nil : b
    }
}

// MARK: plain types (no blocks)

@inline(__always) func loadF16(_ p: UnsafeRawPointer, _ offset: Int) -> Float {
    Float(Float16(bitPattern: UInt16(littleEndian: p.loadUnaligned(fromByteOffset: offset, as: UInt16.self))))
}

let dequantizeF32: GGMLDequantize = { src, dst, n in
    UnsafeMutableRawPointer(dst).copyMemory(from: src, byteCount: n * 4)
}

let dequantizeF16: GGMLDequantize = { src, dst, n in
    if Int(bitPattern: src) % 2 == 0 {
        convertF16ToF32(src.assumingMemoryBound(to: UInt16.self), dst, n)
    } else {
        for i in 0..<n { dst[i] = loadF16(src, 2 * i) }
    }
}

let dequantizeBF16: GGMLDequantize = { src, dst, n in
    for i in 0..<n { dst[i] = bf16ToFloat(UInt16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: UInt16.self))) }
}

let dequantizeI8: GGMLDequantize = { src, dst, n in
    for i in 0..<n { dst[i] = Float(src.load(fromByteOffset: i, as: Int8.self)) }
}

let dequantizeI16: GGMLDequantize = { src, dst, n in
    for i in 0..<n { dst[i] = Float(Int16(littleEndian: src.loadUnaligned(fromByteOffset: 2 * i, as: Int16.self))) }
}

let dequantizeI32: GGMLDequantize = { src, dst, n in
    for i in 0..<n { dst[i] = Float(Int32(littleEndian: src.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self))) }
}
