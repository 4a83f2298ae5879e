// A file mapped read-only into memory. Readers of GGUF, safetensors and uncompressed containers use it to
// reach tensor data in place; TensorStorage borrows from it and keeps it alive. With `readIntoMemory` (tllm-gen
// --no-mmap) a large file is read into anonymous memory instead, 2 MiB-aligned and advised for transparent huge
// pages: the decode kernels stream every weight once per token, and a file mapping costs a TLB miss every 4 KiB.

import Foundation

public final class MappedFile: @unchecked Sendable {
    public let path: String
    public let bytes: UnsafeRawBufferPointer
    private let base: UnsafeMutableRawPointer?
    private let length: Int
    /// Bytes of the anonymous region holding the file (readIntoMemory), 0 for a mapping of the file.
    private var anonymousLength = 0

    /// The default of `init(path:inMemory:)`: read files into memory instead of mapping them (set once, before
    /// opening the model: tllm-gen --no-mmap, tllm-pack --bench-models --no-mmap).
    nonisolated(unsafe) public static var readIntoMemory = false

    /// Maps `path`, or with `inMemory` reads it into a 2 MiB-aligned anonymous region advised for huge pages.
    public init(path: String, inMemory: Bool = MappedFile.readIntoMemory) throws {
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
        if inMemory {
            let (p, n) = try MappedFile.read(fd, length, path)
            base = p
            anonymousLength = n
            bytes = UnsafeRawBufferPointer(start: p, count: length)
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

    /// The file's `length` bytes in a fresh anonymous region aligned to 2 MiB and advised for huge pages.
    /// Returns the region and its size (a multiple of 2 MiB).
    private static func read(_ fd: Int32, _ length: Int, _ path: String) throws -> (UnsafeMutableRawPointer, Int) {
        let huge = 1 << 21, size = (length + huge - 1) / huge * huge
        guard let raw = mmap(nil, size + huge, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0), raw != MAP_FAILED else {
            throw TLLMError(path, "cannot allocate \(size) bytes to read it into: \(String(cString: strerror(errno)))")
        }
        // keep the aligned `size` bytes, give back the slack on either side
        let lead = (huge - Int(bitPattern: raw) % huge) % huge
        if lead > 0 { munmap(raw, lead) }
        let p = raw + lead
        if huge - lead > 0 { munmap(p + size, huge - lead) }
        #if os(Linux)
        madvise(p, size, Int32(MADV_HUGEPAGE))  // a hint: without THP the pages are ordinary ones
        #endif
        var done = 0
        while done < length {
            let n = pread(fd, p + done, min(1 << 26, length - done), off_t(done))
            if n < 0 && errno == EINTR { continue }
            if n <= 0 {
                let why = n < 0 ? String(cString: strerror(errno)) : "the file ended at byte \(done) of \(length)"
                munmap(p, size)
                throw TLLMError(path, "read failed: \(why)")
            }
            done += n
        }
        return (p, size)
    }

    /// A slice of the mapping, checked against its bounds.
    public func slice(_ offset: Int, _ count: Int) -> UnsafeRawBufferPointer? {
        guard offset >= 0, count >= 0, offset <= bytes.count, count <= bytes.count - offset else { return nil }
        return UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + count])
    }

    /// Tells the kernel the pages of a range are no longer needed, so streaming through a large mapped file keeps
    /// resident memory at about one tensor (they are read again from the file if touched later).
    public func release(_ range: UnsafeRawBufferPointer) {
        guard !ownsHeap, anonymousLength == 0, let b = range.baseAddress, range.count > 0, let base else { return }
        let page = Int(sysconf(Int32(_SC_PAGESIZE)))
        let start = (b - UnsafeRawPointer(base)) / page * page
        let end = b - UnsafeRawPointer(base) + range.count
        let whole = (end - start) / page * page
        guard whole > 0 else { return }
        madvise(base + start, whole, Int32(MADV_DONTNEED))
    }

    deinit {
        guard let base else { return }
        if ownsHeap { base.deallocate() } else { munmap(base, anonymousLength > 0 ? anonymousLength : length) }
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
