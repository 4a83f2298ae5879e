// Random-access reader of a tllm container (DESIGN §2): an uncompressed file is memory-mapped and its tar
// members indexed (TarIndex), so tensors are returned in place, borrowing the mapping (data at 512-byte
// offsets, no copy). A compressed container, or one read from stdin, is first decompressed into memory
// through libarchive. `openContainer` is the one entry point for all three; `verify()` checks SHA256SUMS.

import CArchive
import Foundation

public final class MappedContainer: @unchecked Sendable {
    public let path: String
    public let manifest: Manifest
    /// Regular-file members in archive order.
    public let members: [TarMember]
    /// The whole (uncompressed) archive.
    public let bytes: UnsafeRawBufferPointer
    /// Keeps `bytes` valid (a MappedFile or a heap buffer); tensors hold it too.
    private let owner: AnyObject
    private let index: [String: Int]

    /// Maps an uncompressed container (a compressed one is refused; `openContainer` decompresses it).
    public convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    public convenience init(file: MappedFile) throws {
        if let kind = compressionName(file.bytes) {
            throw TLLMError(file.path, "is \(kind)-compressed and cannot be mapped; decompress it or use openContainer")
        }
        try self.init(bytes: file.bytes, owner: file, name: file.path)
    }

    /// Indexes `bytes` (an uncompressed tar kept valid by `owner`).
    init(bytes: UnsafeRawBufferPointer, owner: AnyObject, name: String) throws {
        path = name
        self.bytes = bytes
        self.owner = owner
        let ms = try TarIndex.scan(bytes, file: name)
        members = ms
        var ix: [String: Int] = [:]
        for (i, m) in ms.enumerated() { ix[m.name] = i }
        index = ix
        guard let first = ms.first else { throw TLLMError(name, "not a tllm container (empty archive)") }
        guard first.name == Manifest.memberName else { throw TLLMError(name, "not a tllm container (first member is \(first.name))") }
        guard first.size <= ContainerReader.maxMetaBytes else { throw TLLMError(name, "manifest.json is \(first.size) bytes, over the limit") }
        let m = try Manifest(bytes: UnsafeRawBufferPointer(rebasing: bytes[first.offset..<first.offset + first.size]), file: name)
        for t in m.tensors {
            guard let i = ix[t.member] else { throw TLLMError(name, "member \(t.member) of tensor \(t.name) is missing") }
            guard ms[i].size == t.byteCount else {
                throw TLLMError(name, "member \(t.member) has \(ms[i].size) bytes; \(t.dtype.rawValue) \(t.shape) needs \(t.byteCount)")
            }
        }
        guard ix[Manifest.checksumsName] != nil else { throw TLLMError(name, "SHA256SUMS is missing (truncated container?)") }
        manifest = m
    }

    /// Names of the extra files (tokenizer.json, source/…): members that are not the manifest, a tensor or SHA256SUMS.
    public var fileNames: [String] {
        let tensorMembers = Set(manifest.tensors.map(\.member))
        return members.map(\.name).filter {
            $0 != Manifest.memberName && $0 != Manifest.checksumsName && !tensorMembers.contains($0)
        }
    }

    public func member(named name: String) -> TarMember? { index[name].map { members[$0] } }

    /// The bytes of a member, in place.
    public func data(of m: TarMember) -> UnsafeRawBufferPointer {
        UnsafeRawBufferPointer(rebasing: bytes[m.offset..<m.offset + m.size])
    }

    /// A copy of the extra file (or any member) called `name`.
    public func file(named name: String) -> [UInt8]? { member(named: name).map { Array(data(of: $0)) } }

    /// The tensor called `name`, borrowing the mapping.
    public func tensor(named name: String) -> Tensor? {
        guard let i = manifest.tensors.firstIndex(where: { $0.name == name }) else { return nil }
        return tensor(at: i)
    }

    /// Tensor `i` of the manifest, borrowing the mapping.
    public func tensor(at i: Int) -> Tensor {
        let t = manifest.tensors[i]
        let s = TensorStorage(borrowing: data(of: members[index[t.member]!]), owner: owner)
        return Tensor(name: t.name, dtype: t.dtype, shape: t.shape, storage: s)
    }

    /// All tensors in manifest order (no copies).
    public var tensors: [Tensor] { manifest.tensors.indices.map { tensor(at: $0) } }

    /// Recomputes the SHA-256 of every member (both cores) and checks them against SHA256SUMS.
    public func verify() throws {
        let sums = member(named: Manifest.checksumsName)!
        let listed = try SHA256Sums.parse(data(of: sums), file: path)
        let todo = members.filter { $0.name != Manifest.checksumsName }
        let box = HexBox(count: todo.count)
        DispatchQueue.concurrentPerform(iterations: todo.count) { i in
            box.set(i, SHA256.hex(of: data(of: todo[i])))
        }
        try SHA256Sums.verify(listed, zip(box.values, todo).map { ($0, $1.name) }, file: path)
    }
}

/// Digests filled in by concurrent workers, one slot each.
private final class HexBox: @unchecked Sendable {
    private(set) var values: [String]
    private let lock = NSLock()
    init(count: Int) { values = Array(repeating: "", count: count) }
    func set(_ i: Int, _ v: String) { lock.lock(); values[i] = v; lock.unlock() }
}

// MARK: opening plain, compressed and piped containers

/// Opens a container for random access: an uncompressed file is mapped; a compressed file, "-" (stdin) or a
/// FIFO is read (and decompressed) into memory first.
public func openContainer(_ path: String) throws -> MappedContainer {
    if path == "-" { return try openContainer(fd: 0, name: path) }
    var st = stat()
    if stat(path, &st) == 0, (st.st_mode & S_IFMT) != S_IFREG {
        // A FIFO or device (`<(…)`, /dev/stdin): read it like a pipe.
        let fd = open(path, O_RDONLY)
        guard fd >= 0 else { throw TLLMError.cannotOpen(path, errno: errno) }
        defer { close(fd) }
        return try openContainer(fd: fd, name: path)
    }
    let f = try MappedFile(path: path)
    guard compressionName(f.bytes) != nil else { return try MappedContainer(file: f) }
    let buf = try decompress(f.bytes, name: path)
    return try MappedContainer(bytes: buf.bytes, owner: buf, name: path)
}

/// Reads all of `fd` (a pipe, stdin), decompressing if needed, and indexes it.
public func openContainer(fd: Int32, name: String) throws -> MappedContainer {
    let raw = HeapBuffer(name: name)
    try raw.readAll(fd: fd)
    return try openContainer(buffer: raw)
}

/// Indexes a container already in memory, decompressing it first if needed.
func openContainer(buffer raw: HeapBuffer) throws -> MappedContainer {
    guard compressionName(raw.bytes) != nil else { return try MappedContainer(bytes: raw.bytes, owner: raw, name: raw.name) }
    let buf = try decompress(raw.bytes, name: raw.name)
    return try MappedContainer(bytes: buf.bytes, owner: buf, name: raw.name)
}

/// The compression of a stream by its magic number, or nil for anything else (a plain tar).
func compressionName(_ b: UnsafeRawBufferPointer) -> String? {
    func starts(_ m: [UInt8]) -> Bool { b.count >= m.count && b.prefix(m.count).elementsEqual(m) }
    if starts([0x1F, 0x8B]) { return "gzip" }
    if starts([0x28, 0xB5, 0x2F, 0xFD]) { return "zstd" }
    if starts([0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00]) { return "xz" }
    if starts(Array("BZh".utf8)) { return "bzip2" }
    if starts([0x04, 0x22, 0x4D, 0x18]) { return "lz4" }
    if starts(Array("LZIP".utf8)) { return "lzip" }
    return nil
}

/// Decompresses a whole stream into memory through libarchive's filters.
private func decompress(_ src: UnsafeRawBufferPointer, name: String) throws -> HeapBuffer {
    guard let a = archive_read_new() else { throw TLLMError(name, "cannot create a libarchive reader") }
    defer { archive_read_free(a) }
    archive_read_support_filter_all(a)
    archive_read_support_format_raw(a)
    var e: OpaquePointer?
    guard archive_read_open_memory(a, src.baseAddress, src.count) == ARCHIVE_OK,
          archive_read_next_header(a, &e) == ARCHIVE_OK
    else { throw TLLMError(name, "cannot decompress: \(archiveMessage(a))") }
    let out = HeapBuffer(name: name)
    while true {
        try out.reserve(1 << 20)
        let n = archive_read_data(a, out.end, out.capacity - out.count)
        guard n >= 0 else { throw TLLMError(name, "cannot decompress: \(archiveMessage(a))") }
        if n == 0 { break }
        out.count += n
    }
    return out
}

/// A growing, 4096-byte-aligned heap buffer that owns a whole archive read into memory.
final class HeapBuffer {
    let name: String
    private(set) var base: UnsafeMutableRawPointer?
    private(set) var capacity = 0
    var count = 0

    init(name: String) { self.name = name }
    deinit { free(base) }

    var bytes: UnsafeRawBufferPointer { UnsafeRawBufferPointer(start: base, count: count) }
    var end: UnsafeMutableRawPointer { base! + count }

    /// Ensures room for `more` bytes after `count`, doubling; refuses more than the machine's memory.
    func reserve(_ more: Int) throws {
        guard capacity - count < more else { return }
        let need = count + more
        guard UInt64(need) <= ProcessInfo.processInfo.physicalMemory else {
            throw TLLMError(name, "does not fit in memory (over \(count) bytes decompressed)")
        }
        let cap = max(need, min(capacity * 2, Int(ProcessInfo.processInfo.physicalMemory)))
        var p: UnsafeMutableRawPointer?
        guard posix_memalign(&p, 4096, cap) == 0, let p else { throw TLLMError(name, "out of memory reading \(cap) bytes") }
        if count > 0 { p.copyMemory(from: base!, byteCount: count) }
        free(base)
        base = p
        capacity = cap
    }

    func append(_ b: UnsafeRawBufferPointer) throws {
        try reserve(b.count)
        if b.count > 0 { end.copyMemory(from: b.baseAddress!, byteCount: b.count) }
        count += b.count
    }

    func readAll(fd: Int32) throws {
        while true {
            try reserve(1 << 20)
            let n = read(fd, end, capacity - count)
            if n < 0 {
                if errno == EINTR { continue }
                throw TLLMError(name, "read failed: \(String(cString: strerror(errno)))")
            }
            if n == 0 { return }
            count += n
        }
    }
}
