// A linear layer's weight W [N × K] (N outputs, K inputs; row-major as PyTorch's nn.Linear stores it) kept in
// its storage dtype (f32, f16 or bf16) and read in place — from a memory-mapped file when the source borrowed
// it. The kernels in Ops/ convert to f32 on the fly; all arithmetic is f32.

public struct WeightMatrix: @unchecked Sendable {
    public let name: String
    /// N: output features (rows).
    public let rows: Int
    /// K: input features (columns).
    public let cols: Int
    public let dtype: DType
    /// First byte of row 0; rows are `cols * dtype.size` bytes apart.
    public let base: UnsafeRawPointer
    private let storage: TensorStorage

    /// Wraps a 2-D float tensor (a 1-D one is taken as a single row). f32 data that is not 4-byte aligned
    /// (possible in a safetensors file) and 16-bit data that is not 2-byte aligned are copied.
    public init(_ t: Tensor) throws {
        guard t.dtype.isFloat else { throw TLLMError("", "tensor \(t.name): dtype \(t.dtype.rawValue) is not a float type") }
        guard t.shape.count == 2 || t.shape.count == 1 else {
            throw TLLMError("", "tensor \(t.name): expected a matrix, got shape \(t.shape)")
        }
        name = t.name
        rows = t.shape.count == 2 ? t.shape[0] : 1
        cols = t.shape.last!
        dtype = t.dtype
        var s = t.storage
        if let b = s.bytes.baseAddress, Int(bitPattern: b) % t.dtype.size != 0 {
            s = TensorStorage(copying: s.bytes)
        }
        storage = s
        base = UnsafeRawPointer(s.bytes.baseAddress ?? UnsafeRawPointer(bitPattern: 64)!)
    }

    /// The same weights stored as `target` (converted once; f32 → f16/bf16 rounds to nearest even).
    public func converted(to target: DType) throws -> WeightMatrix {
        if target == dtype { return self }
        let t = Tensor(name: name, dtype: dtype, shape: [rows, cols], storage: storage).converted(to: target)
        return try WeightMatrix(t)
    }

    /// Bytes the matrix occupies (what one mat-vec reads).
    public var byteCount: Int { rows * cols * dtype.size }

    /// Writes rows `range` as f32 into `dst` ([range.count × cols]).
    public func rowsAsFloat(_ range: Range<Int>, into dst: UnsafeMutablePointer<Float>) {
        let n = range.count * cols
        guard n > 0 else { return }
        let src = base + range.lowerBound * cols * dtype.size
        switch dtype {
        case .f32: dst.update(from: src.assumingMemoryBound(to: Float.self), count: n)
        case .f16: convertF16ToF32(src.assumingMemoryBound(to: UInt16.self), dst, n)
        case .bf16: convertBF16ToF32(src.assumingMemoryBound(to: UInt16.self), dst, n)
        default: fatalError("unreachable: WeightMatrix holds float dtypes only")
        }
    }

    /// Row `r` as f32.
    public func row(_ r: Int) -> [Float] {
        [Float](unsafeUninitializedCapacity: cols) { b, n in
            rowsAsFloat(r..<(r + 1), into: b.baseAddress!)
            n = cols
        }
    }

    /// A reference to the f32 data, for f32 matrices (used to hand the matrix straight to BLAS).
    var f32: UnsafePointer<Float>? { dtype == .f32 ? base.assumingMemoryBound(to: Float.self) : nil }
}
