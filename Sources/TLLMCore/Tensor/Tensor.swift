// A named n-dimensional tensor: dtype, shape (row-major, last dimension contiguous, as numpy/PyTorch) and
// raw little-endian bytes. The bytes are either owned (allocated here) or borrowed from a memory-mapped
// file that the storage keeps alive, so tensors read from an uncompressed container cost no copy.

import Foundation

public final class TensorStorage: @unchecked Sendable {
    public let bytes: UnsafeRawBufferPointer
    private let owner: AnyObject?
    private let owned: UnsafeMutableRawPointer?

    /// Fresh zeroed storage of `count` bytes.
    public init(count: Int) {
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(count, 1), alignment: 64)
        p.initializeMemory(as: UInt8.self, repeating: 0, count: max(count, 1))
        owned = p
        bytes = UnsafeRawBufferPointer(start: p, count: count)
        owner = nil
    }

    /// Storage that copies `src`.
    public convenience init(copying src: UnsafeRawBufferPointer) {
        self.init(count: src.count)
        if src.count > 0 { mutableBytes.copyMemory(from: src) }
    }

    /// Storage borrowed from memory that `owner` keeps valid (a mapped file).
    public init(borrowing b: UnsafeRawBufferPointer, owner: AnyObject) {
        bytes = b
        self.owner = owner
        owned = nil
    }

    /// Writable view; only owned storage is writable.
    public var mutableBytes: UnsafeMutableRawBufferPointer {
        precondition(owned != nil, "borrowed tensor storage is read-only")
        return UnsafeMutableRawBufferPointer(start: owned, count: bytes.count)
    }

    deinit { owned?.deallocate() }
}

public struct Tensor: @unchecked Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public var storage: TensorStorage

    public init(name: String, dtype: DType, shape: [Int], storage: TensorStorage) {
        precondition(byteCount(shape, dtype) == storage.bytes.count, "tensor \(name): storage size does not match shape")
        self.name = name
        self.dtype = dtype
        self.shape = shape
        self.storage = storage
    }

    /// An f32 tensor holding `values`.
    public init(name: String, shape: [Int], floats values: [Float]) {
        precondition(elementCount(shape) == values.count)
        let s = TensorStorage(count: values.count * 4)
        values.withUnsafeBytes { s.mutableBytes.copyMemory(from: $0) }
        self.init(name: name, dtype: .f32, shape: shape, storage: s)
    }

    public var bytes: UnsafeRawBufferPointer { storage.bytes }
    public var count: Int { elementCount(shape) ?? 0 }

    /// The values as f32 (exact for every float dtype; integers converted).
    public func floats() -> [Float] {
        let n = count
        var out = [Float](repeating: 0, count: n)
        guard n > 0 else { return out }
        out.withUnsafeMutableBufferPointer { dst in
            let d = dst.baseAddress!
            switch dtype {
            case .f32: _ = memcpy(d, bytes.baseAddress!, n * 4)
            case .f16: convertF16ToF32(bytes.baseAddress!.assumingMemoryBound(to: UInt16.self), d, n)
            case .bf16: convertBF16ToF32(bytes.baseAddress!.assumingMemoryBound(to: UInt16.self), d, n)
            case .i8: for i in 0..<n { d[i] = Float(bytes.load(fromByteOffset: i, as: Int8.self)) }
            case .u8: for i in 0..<n { d[i] = Float(bytes[i]) }
            case .i32: for i in 0..<n { d[i] = Float(bytes.loadUnaligned(fromByteOffset: 4 * i, as: Int32.self)) }
            }
        }
        return out
    }

    /// This tensor stored as `target` (a float dtype). f32 → f16/bf16 rounds to nearest even.
    public func converted(to target: DType) -> Tensor {
        precondition(target.isFloat && dtype.isFloat, "conversion is defined between float dtypes")
        if target == dtype { return self }
        let n = count
        let s = TensorStorage(count: n * target.size)
        let dst = s.mutableBytes.baseAddress!
        func fromF32(_ src: UnsafePointer<Float>) {
            switch target {
            case .f32: _ = memcpy(dst, src, n * 4)
            case .f16: convertF32ToF16(src, dst.assumingMemoryBound(to: UInt16.self), n)
            case .bf16: convertF32ToBF16(src, dst.assumingMemoryBound(to: UInt16.self), n)
            default: fatalError()
            }
        }
        if dtype == .f32 {
            fromF32(bytes.baseAddress!.assumingMemoryBound(to: Float.self))
        } else {
            let f = floats()
            f.withUnsafeBufferPointer { fromF32($0.baseAddress!) }
        }
        return Tensor(name: name, dtype: target, shape: shape, storage: s)
    }

    /// Summary statistics over the values as f32: min, max, mean, standard deviation (population).
    public func statistics() -> (min: Float, max: Float, mean: Double, std: Double) {
        let v = floats()
        guard !v.isEmpty else { return (0, 0, 0, 0) }
        var lo = Float.infinity, hi = -Float.infinity
        var s = 0.0, s2 = 0.0
        for x in v {
            lo = Swift.min(lo, x); hi = Swift.max(hi, x)
            let d = Double(x); s += d; s2 += d * d
        }
        let mean = s / Double(v.count)
        return (lo, hi, mean, (Swift.max(0, s2 / Double(v.count) - mean * mean)).squareRoot())
    }
}
