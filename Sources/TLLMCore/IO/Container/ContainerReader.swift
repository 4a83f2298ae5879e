// Streaming reader of a tllm container through libarchive: a path, "-" (stdin), a descriptor or bytes, plain
// or compressed (gzip/zstd/xz/… detected by content). Reads manifest.json (first member) and the extra files at
// once, then one tensor per next() into owned storage, hashing as it reads; after the last tensor it reads
// SHA256SUMS and checks every member. Memory: one tensor plus libarchive's buffers.

import CArchive
import Foundation

public final class ContainerReader {
    public let path: String
    public private(set) var manifest: Manifest
    /// Members between manifest.json and the first tensor (tokenizer.json, source/…), in archive order.
    public private(set) var files: [(name: String, bytes: [UInt8])] = []
    /// Number of tensors returned so far.
    public private(set) var index = 0

    private var archive: OpaquePointer?
    private var fd: Int32 = -1
    private var closeFD = false
    private var memory: UnsafeMutableRawPointer?
    private let verifying: Bool
    private let maxFileBytes: Int
    /// Header read ahead of its data: the first tensor (or SHA256SUMS) seen while collecting files.
    private var pending: OpaquePointer?
    private var pendingName = ""
    private var sums: [(hex: String, name: String)] = []
    private var finished = false

    /// The largest manifest.json or SHA256SUMS accepted.
    public static let maxMetaBytes = 64 << 20

    /// Opens `path` ("-" = stdin). `verify` hashes every member and checks SHA256SUMS after the last tensor;
    /// extra files of more than `maxFileBytes` in total are refused.
    public convenience init(path: String, verify: Bool = true, maxFileBytes: Int = 1 << 30) throws {
        if path == "-" {
            try self.init(name: path, verify: verify, maxFileBytes: maxFileBytes) { a, r in
                r.fd = 0
                return archive_read_open_fd(a, 0, 1 << 20)
            }
            return
        }
        let f = open(path, O_RDONLY)
        guard f >= 0 else { throw TLLMError.cannotOpen(path, errno: errno) }
        try self.init(name: path, verify: verify, maxFileBytes: maxFileBytes) { a, r in
            r.fd = f
            r.closeFD = true
            return archive_read_open_fd(a, f, 1 << 20)
        }
    }

    /// Reads from a descriptor the caller owns (a pipe); `name` is used in errors.
    public convenience init(fd: Int32, name: String, verify: Bool = true, maxFileBytes: Int = 1 << 30) throws {
        try self.init(name: name, verify: verify, maxFileBytes: maxFileBytes) { a, r in
            r.fd = fd
            return archive_read_open_fd(a, fd, 1 << 20)
        }
    }

    /// Reads a container held in memory (copied).
    public convenience init(bytes: [UInt8], name: String, verify: Bool = true, maxFileBytes: Int = 1 << 30) throws {
        try self.init(name: name, verify: verify, maxFileBytes: maxFileBytes) { a, r in
            let p = UnsafeMutableRawPointer.allocate(byteCount: max(1, bytes.count), alignment: 16)
            bytes.withUnsafeBytes { if $0.count > 0 { p.copyMemory(from: $0.baseAddress!, byteCount: $0.count) } }
            r.memory = p
            return archive_read_open_memory(a, p, bytes.count)
        }
    }

    private init(name: String, verify: Bool, maxFileBytes: Int,
                 open: (OpaquePointer, ContainerReader) -> Int32) throws {
        path = name
        verifying = verify
        self.maxFileBytes = maxFileBytes
        manifest = Manifest(kind: .float, producer: "")
        guard let a = archive_read_new() else { throw TLLMError(name, "cannot create a libarchive reader") }
        archive = a
        archive_read_support_filter_all(a)
        archive_read_support_format_tar(a)
        guard open(a, self) == ARCHIVE_OK else { throw TLLMError(name, "cannot read: \(archiveMessage(a))") }
        guard let first = try nextHeader() else { throw TLLMError(name, "not a tllm container (empty archive)") }
        guard first.name == Manifest.memberName else { throw TLLMError(name, "not a tllm container (first member is \(first.name))") }
        let mbytes = try readMember(first.name, first.size, limit: ContainerReader.maxMetaBytes)
        let m = try mbytes.withUnsafeBytes { try Manifest(bytes: $0, file: name) }
        let stop = Set([m.tensors.first?.member ?? Manifest.checksumsName, Manifest.checksumsName])
        while true {
            guard let h = try nextHeader() else {
                throw TLLMError(name, "truncated container: the archive ends before \(m.tensors.first?.member ?? Manifest.checksumsName)")
            }
            if stop.contains(h.name) {
                pending = h.entry
                pendingName = h.name
                break
            }
            if m.tensors.contains(where: { $0.member == h.name }) {
                throw TLLMError(name, "tensor member \(h.name) comes before \(m.tensors[0].member) (tensors must follow manifest order)")
            }
            let used = files.reduce(0) { $0 + $1.bytes.count }
            files.append((h.name, try readMember(h.name, h.size, limit: maxFileBytes - used)))
        }
        manifest = m
    }

    deinit {
        if let a = archive { archive_read_free(a) }
        if closeFD { close(fd) }
        memory?.deallocate()
    }

    /// The extra file called `name`.
    public func file(named name: String) -> [UInt8]? { files.first { $0.name == name }?.bytes }

    /// The next tensor in manifest order, or nil after the last one (when SHA256SUMS has been checked).
    public func next() throws -> Tensor? {
        guard !finished else { return nil }
        do {
            guard index < manifest.tensors.count else {
                try finish()
                return nil
            }
            let m = manifest.tensors[index]
            let h = try takeHeader()
            guard let h, h.name == m.member else {
                throw TLLMError(path, "expected member \(m.member) (tensor \(index + 1) of \(manifest.tensors.count)), found \(h?.name ?? "the end of the archive")")
            }
            let want = m.byteCount
            guard h.size == want else {
                throw TLLMError(path, "member \(m.member) has \(h.size) bytes; \(m.dtype.rawValue) \(m.shape) needs \(want)")
            }
            guard UInt64(want) <= ProcessInfo.processInfo.physicalMemory else {
                throw TLLMError(path, "tensor \(m.name) needs \(want) bytes, more than this machine's memory")
            }
            let s = TensorStorage(count: want)
            try readData(m.member, into: s.mutableBytes)
            index += 1
            return Tensor(name: m.name, dtype: m.dtype, shape: m.shape, storage: s)
        } catch {
            finished = true
            throw error
        }
    }

    /// Every remaining tensor (the whole model in memory: for small models and tests).
    public func readAll() throws -> [Tensor] {
        var out: [Tensor] = []
        while let t = try next() { out.append(t) }
        return out
    }

    // MARK: archive access

    private struct Header { var entry: OpaquePointer; var name: String; var size: Int }

    /// The next regular member (directories are skipped), or nil at the end of the archive.
    private func nextHeader() throws -> Header? {
        while true {
            var e: OpaquePointer?
            let r = archive_read_next_header(archive, &e)
            if r == ARCHIVE_EOF { return nil }
            guard r == ARCHIVE_OK || r == ARCHIVE_WARN, let e else { throw TLLMError(path, "tar: \(archiveMessage(archive))") }
            guard let cname = archive_entry_pathname(e) else { throw TLLMError(path, "tar: a member has an unreadable name") }
            var name = String(cString: cname)
            if name.hasPrefix("./") { name.removeFirst(2) }
            let type = archive_entry_filetype(e)
            if type == TLLM_AE_IFDIR { continue }
            guard type == TLLM_AE_IFREG else { throw TLLMError(path, "member \(name) is not a regular file") }
            guard archive_entry_size_is_set(e) != 0, archive_entry_size(e) >= 0 else { throw TLLMError(path, "member \(name) has no size") }
            return Header(entry: e, name: name, size: Int(archive_entry_size(e)))
        }
    }

    private func takeHeader() throws -> Header? {
        if let e = pending {
            pending = nil
            return Header(entry: e, name: pendingName, size: Int(archive_entry_size(e)))
        }
        return try nextHeader()
    }

    /// The data of the current member (size checked against `limit` before allocating).
    private func readMember(_ name: String, _ size: Int, limit: Int) throws -> [UInt8] {
        guard size <= limit else { throw TLLMError(path, "member \(name) is \(size) bytes, over the limit of \(max(limit, 0))") }
        var out = [UInt8](repeating: 0, count: size)
        try out.withUnsafeMutableBytes { try readData(name, into: $0) }
        return out
    }

    /// Reads exactly `buf.count` bytes of the current member, hashing them when verifying.
    private func readData(_ name: String, into buf: UnsafeMutableRawBufferPointer) throws {
        var hash = SHA256()
        var off = 0
        while off < buf.count {
            let n = archive_read_data(archive, buf.baseAddress! + off, min(buf.count - off, 8 << 20))
            guard n >= 0 else { throw TLLMError(path, "reading \(name): \(archiveMessage(archive))") }
            guard n > 0 else { throw TLLMError(path, "truncated container: member \(name) ends after \(off) of \(buf.count) bytes") }
            if verifying { hash.update(UnsafeRawBufferPointer(rebasing: buf[off..<off + n])) }
            off += n
        }
        if verifying, name != Manifest.checksumsName { sums.append((hash.finalizeHex(), name)) }
    }

    /// After the last tensor: reads SHA256SUMS, expects the end of the archive, checks every digest.
    private func finish() throws {
        finished = true
        guard verifying else { return }
        guard let h = try takeHeader() else { throw TLLMError(path, "truncated container: SHA256SUMS is missing") }
        guard h.name == Manifest.checksumsName else {
            throw TLLMError(path, "unexpected member \(h.name) after the last tensor (expected SHA256SUMS)")
        }
        let text = try readMember(h.name, h.size, limit: ContainerReader.maxMetaBytes)
        if let extra = try nextHeader() { throw TLLMError(path, "unexpected member \(extra.name) after SHA256SUMS") }
        let listed = try text.withUnsafeBytes { try SHA256Sums.parse($0, file: path) }
        try SHA256Sums.verify(listed, sums, file: path)
    }
}
