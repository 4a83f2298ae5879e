// A file mapped read-only into memory. Readers of GGUF, safetensors and uncompressed containers use it to
// reach tensor data in place; TensorStorage borrows from it and keeps it alive.

import Foundation

public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    private let length: Int

    public init(path: String) throws {
        self.path = path
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TLLMError.cannotOpen(path, errno: errno) }
        defer { close(fd) }
        var st = stat()
        guard fstat(fd, &st) == 0 else { throw TLLMError(path, "cannot stat: \(String(cString: strerror(errno)))") }
        guard (st.st_mode & S_IFMT) == S_IFREG else { throw TLLMError(path, "not a regular file") }
        length = Int(st.st_size)
        if length == 0 {
            base = nil
            bytes = UnsafeRawBufferPointer(start: nil, count: 0)
            return
        }
        let p = mmap(nil, length, PROT_READ, MAP_PRIVATE, fd, 0)
        guard let p, p != MAP_FAILED else { throw TLLMError(path, "cannot map: \(String(cString: strerror(errno)))") }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: length)
    }

    /// Wraps bytes already in memory (a buffer read from a pipe) so the same readers can work on them.
    public init(path: String, copying data: UnsafeRawBufferPointer) {
        self.path = path
        length = data.count
        let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, data.count), alignment: 64)
        if data.count > 0 { p.copyMemory(from: data.baseAddress!, byteCount: data.count) }
        base = p
        bytes = UnsafeRawBufferPointer(start: p, count: data.count)
        ownsHeap = true
    }

    private var ownsHeap = false

    /// A slice of the mapping, checked against its bounds.
    public func slice(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    /// Tells the kernel the pages of a range are no longer needed, so streaming through a large mapped file keeps
    /// resident memory at about one tensor (they are read again from the file if touched later).
    public func release(_ range: UnsafeRawBufferPointer) {
        guard !ownsHeap, let b = range.baseAddress, range.count > 0, let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (b - UnsafeRawPointer(base)) / page * page
        let end = b - UnsafeRawPointer(base) + range.count
        let whole = (end - start) / page * page
        guard whole > 0 else { return }
        madvise(base + start, whole, Int32(MADV_DONTNEED))
    }

    deinit {
        guard let base else { return }
        if ownsHeap { base.deallocate() } else { munmap(base, length) }
    }
}

/// Reads all of a file descriptor (stdin, a pipe) into memory, refusing more than `limit` bytes.
public func readAll(fd: Int32, name: String, limit: Int = 1 << 40) throws -> [UInt8] {
    var out: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 20)
    while true {
        let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
        if n < 0 {
            if errno == EINTR { continue }
            throw TLLMError(name, "read failed: \(String(cString: strerror(errno)))")
        }
        if n == 0 { break }
        out.append(contentsOf: chunk[0..<n])
        if out.count > limit { throw TLLMError(name, "input larger than \(limit) bytes") }
    }
    return out
}
