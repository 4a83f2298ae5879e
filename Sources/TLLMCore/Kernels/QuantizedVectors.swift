// Activation vectors quantized for the q8 and q4 kernels (Q8MatVec.swift, Q4MatVec.swift): per vector an int8
// array of `qstride` values and two 32-bit arrays of `sstride` entries (block scales, and block sums or
// corrections), in one 64-byte-aligned buffer. Both users' qstride is a multiple of 64, so every vector's int8
// array starts on a cache line and the kernels' 32-byte loads never straddle one. Holds up to `capacity`
// vectors; grows on demand (the contents are lost then).

public class QuantizedVectors: @unchecked Sendable {
    public let cols: Int
    public private(set) var capacity: Int
    /// Elements per vector: int8 values, and entries of each 32-bit array.
    let qstride: Int, sstride: Int
    private var buffer: UnsafeMutableRawPointer

    init(cols: Int, qstride: Int, sstride: Int, capacity: Int) {
        self.cols = cols
        self.qstride = qstride
        self.sstride = sstride
        self.capacity = max(1, capacity)
        buffer = QuantizedVectors.allocate(self.capacity, qstride, sstride)
    }

    deinit { buffer.deallocate() }

    private static func regions(_ n: Int, _ qstride: Int, _ sstride: Int) -> (q: Int, s: Int) {
        ((n * qstride + 63) / 64 * 64, (4 * n * sstride + 63) / 64 * 64)
    }

    private static func allocate(_ n: Int, _ qstride: Int, _ sstride: Int) -> UnsafeMutableRawPointer {
        let r = regions(n, qstride, sstride)
        return UnsafeMutableRawPointer.allocate(byteCount: r.q + 2 * r.s, alignment: 64)
    }

    /// Room for at least n vectors.
    func reserve(_ n: Int) {
        guard n > capacity else { return }
        buffer.deallocate()
        capacity = n
        buffer = QuantizedVectors.allocate(n, qstride, sstride)
    }

    /// The int8 values of all vectors (vector t at + t·qstride).
    var q: UnsafeMutablePointer<Int8> { buffer.assumingMemoryBound(to: Int8.self) }
    /// The first and the second 32-bit array of all vectors (vector t at + t·sstride).
    func first<T>(_: T.Type) -> UnsafeMutablePointer<T> {
        (buffer + QuantizedVectors.regions(capacity, qstride, sstride).q).assumingMemoryBound(to: T.self)
    }
    func second<T>(_: T.Type) -> UnsafeMutablePointer<T> {
        let r = QuantizedVectors.regions(capacity, qstride, sstride)
        return (buffer + r.q + r.s).assumingMemoryBound(to: T.self)
    }
}
