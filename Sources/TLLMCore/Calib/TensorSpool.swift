// Disk spool for tensors that must be written after something computed later (a container's manifest comes
// first, but the ternarize report and the calib statistics are known only at the end): an unlinked temporary
// file (nothing is left behind on any exit) holding regions filled by pwrite, read back as tensors that borrow
// a read-only mapping of their region. Memory stays bounded by what the caller holds, not by the spool.

import Foundation

public final class TensorSpool {
    private let fd: Int32
    private let name: String
    /// Bytes reserved so far (regions start at page boundaries, so each can be mapped alone).
    public private(set) var size = 0
    private static let page = Int(sysconf(Int32(_SC_PAGESIZE)))

    /// A region of the spool.
    public struct Region: Sendable {
        public var offset: Int
        public var count: Int
    }

    /// Creates the spool in `directory` (default: $TMPDIR or /tmp) and unlinks it at once; errors name `output`, the
    /// file the spool is for, when given.
    public init(directory: String? = nil, for output: String? = nil) throws {
        let dir = directory ?? ProcessInfo.processInfo.environment["TMPDIR"] ?? "/tmp"
        var template = Array((dir + "/.tllm-spool-XXXXXX").utf8CString)
        let f = template.withUnsafeMutableBufferPointer { mkstemp($0.baseAddress!) }
        guard f >= 0 else { throw TLLMError(output ?? dir, "cannot create a temporary file in \(dir): \(String(cString: strerror(errno)))") }
        name = String(cString: template)
        unlink(name)
        fd = f
    }

    deinit { close(fd) }

    /// Reserves `count` bytes (zero-filled when read before written).
    public func reserve(_ count: Int) -> Region {
        let r = Region(offset: size, count: count)
        size += (count + TensorSpool.page - 1) / TensorSpool.page * TensorSpool.page
        return r
    }

    /// Writes `bytes` at `offset` bytes into `region`.
    public func write(_ bytes: UnsafeRawBufferPointer, into region: Region, at offset: Int = 0) throws {
        precondition(offset >= 0 && offset + bytes.count <= region.count, "spool write outside its region")
        var done = 0
        while done < bytes.count {
            let n = pwrite(fd, bytes.baseAddress! + done, bytes.count - done, off_t(region.offset + offset + done))
            if n < 0 {
                if errno == EINTR { continue }
                throw TLLMError(name, "spool write failed: \(String(cString: strerror(errno))) (is the temporary directory full?)")
            }
            done += n
        }
    }

    /// Reserves a region for `t` and writes it; returns the region.
    public func append(_ t: Tensor) throws -> Region {
        let r = reserve(t.bytes.count)
        try write(t.bytes, into: r)
        return r
    }

    /// The region as a tensor borrowing a read-only mapping (unmapped when the tensor's storage goes).
    public func tensor(_ r: Region, name: String, dtype: DType, shape: [Int]) throws -> Tensor {
        precondition(byteCount(shape, dtype) == r.count)
        if r.count == 0 { return Tensor(name: name, dtype: dtype, shape: shape, storage: TensorStorage(count: 0)) }
        // Make sure the file covers the region (a reserved but unwritten tail reads as zeros).
        var st = stat()
        if fstat(fd, &st) == 0, Int(st.st_size) < r.offset + r.count, ftruncate(fd, off_t(size)) != 0 {
            throw TLLMError(self.name, "spool resize failed: \(String(cString: strerror(errno)))")
        }
        guard let p = mmap(nil, r.count, PROT_READ, MAP_SHARED, fd, off_t(r.offset)), p != MAP_FAILED else {
            throw TLLMError(self.name, "cannot map the spool: \(String(cString: strerror(errno)))")
        }
        let m = SpoolMapping(p, r.count)
        return Tensor(name: name, dtype: dtype, shape: shape,
                      storage: TensorStorage(borrowing: UnsafeRawBufferPointer(start: p, count: r.count), owner: m))
    }
}

/// Unmaps a spool region when the last tensor borrowing it goes.
final class SpoolMapping {
    let base: UnsafeMutableRawPointer
    let count: Int
    init(_ b: UnsafeMutableRawPointer, _ n: Int) {
        base = b
        count = n
    }
    deinit { munmap(base, count) }
}
