// Streaming writer of a tllm container (DESIGN §2): a pax (restricted) tar written through libarchive with
// members manifest.json, the caller's extra files, tensors/<name> in manifest order, then SHA256SUMS.
// One tensor at a time is hashed and written; the file appears only on finish() (AtomicOutput). Entries carry
// mtime 0, uid/gid 0, empty owner names and mode 0644, so equal input gives byte-identical files.

import CArchive
import Foundation

/// Compression filter applied to the whole tar stream.
public enum ContainerCompression: String, Sendable, CaseIterable {
    case none, gzip, zstd, xz

    /// The filter an output path asks for by its suffix (`.gz`, `.zst`, `.xz`); "-" and others: none.
    public static func forPath(_ path: String) -> ContainerCompression {
        if path.hasSuffix(".gz") { return .gzip }
        if path.hasSuffix(".zst") { return .zstd }
        if path.hasSuffix(".xz") { return .xz }
        return .none
    }
}

/// libarchive's message for the last error on `a`.
func archiveMessage(_ a: OpaquePointer?) -> String {
    guard let a, let s = archive_error_string(a) else { return "unknown libarchive error" }
    return String(cString: s)
}

/// Where the archive bytes go: an AtomicOutput (file or stdout) or a descriptor the caller owns.
private final class ArchiveSink {
    let name: String
    let output: AtomicOutput?
    let fd: Int32
    /// Set by a failed write; reported instead of libarchive's generic message.
    var error: TLLMError?
    /// Drop everything (the writer is being abandoned; do not emit a tar trailer to stdout or a pipe).
    var discard = false

    init(name: String, output: AtomicOutput?, fd: Int32) {
        self.name = name
        self.output = output
        self.fd = fd
    }

    func write(_ p: UnsafeRawPointer, _ n: Int) -> Int {
        if discard { return n }
        if error != nil { return -1 }
        var q = p, left = n
        while left > 0 {
            let w = Foundation.write(fd, q, left)
            if w < 0 {
                if errno == EINTR { continue }
                error = TLLMError(name, "write failed: \(String(cString: strerror(errno)))")
                return -1
            }
            q += w
            left -= w
        }
        return n
    }
}

public final class ContainerWriter {
    public let path: String
    public let manifest: Manifest
    private let sink: ArchiveSink
    private var archive: OpaquePointer?
    private var sums: [(String, String)] = []
    /// Index of the next tensor expected, in manifest order.
    public private(set) var written = 0
    private var done = false

    /// Opens `path` ("-" = stdout) and writes manifest.json and `files` at once. `compression` nil picks it
    /// from the suffix of `path`.
    public convenience init(path: String, manifest: Manifest, files: [(name: String, bytes: [UInt8])] = [],
                            compression: ContainerCompression? = nil) throws {
        let out = try AtomicOutput(path: path)
        try self.init(name: path, sink: ArchiveSink(name: path, output: out, fd: out.fd), manifest: manifest,
                      files: files, compression: compression ?? .forPath(path))
    }

    /// Writes to a descriptor the caller owns and closes (a pipe, a socket); `name` is used in errors.
    public convenience init(fd: Int32, name: String, manifest: Manifest, files: [(name: String, bytes: [UInt8])] = [],
                            compression: ContainerCompression = .none) throws {
        try self.init(name: name, sink: ArchiveSink(name: name, output: nil, fd: fd), manifest: manifest,
                      files: files, compression: compression)
    }

    private init(name: String, sink: ArchiveSink, manifest: Manifest, files: [(name: String, bytes: [UInt8])],
                 compression: ContainerCompression) throws {
        path = name
        self.sink = sink
        self.manifest = manifest
        do {
            try manifest.validate(file: name)
            var seen = Set(manifest.tensors.map(\.member))
            for f in files {
                if let why = Manifest.memberNameProblem(f.name) { throw TLLMError(name, "file name \"\(f.name)\" \(why)") }
                guard f.name != Manifest.memberName, f.name != Manifest.checksumsName else {
                    throw TLLMError(name, "file name \"\(f.name)\" is reserved")
                }
                guard seen.insert(f.name).inserted else { throw TLLMError(name, "member \"\(f.name)\" is given twice") }
            }
            try open(compression)
            try member(Manifest.memberName, manifest.encoded())
            for f in files { try member(f.name, f.bytes) }
        } catch {
            abandon()
            throw error
        }
    }

    private func check(_ r: Int32, _ what: String) throws {
        guard r == ARCHIVE_OK else {
            throw sink.error ?? TLLMError(path, "\(what): \(archiveMessage(archive))")
        }
    }

    private func open(_ compression: ContainerCompression) throws {
        guard let a = archive_write_new() else { throw TLLMError(path, "cannot create a libarchive writer") }
        archive = a
        try check(archive_write_set_format_pax_restricted(a), "tar format")
        switch compression {
        case .none: try check(archive_write_add_filter_none(a), "filter")
        case .gzip:
            try check(archive_write_add_filter_gzip(a), "gzip filter")
            // No timestamp in the gzip header: reproducible output.
            try check(archive_write_set_filter_option(a, "gzip", "timestamp", nil), "gzip filter")
        case .zstd: try check(archive_write_add_filter_zstd(a), "zstd filter")
        case .xz: try check(archive_write_add_filter_xz(a), "xz filter")
        }
        try check(archive_write_set_bytes_per_block(a, 65536), "block size")
        // No padding to a full block: file, pipe and stdout output are the same bytes.
        try check(archive_write_set_bytes_in_last_block(a, 1), "block size")
        let ctx = Unmanaged.passUnretained(sink).toOpaque()
        let r = archive_write_open(a, ctx, nil, { _, ctx, buf, n in
            let s = Unmanaged<ArchiveSink>.fromOpaque(ctx!).takeUnretainedValue()
            return s.write(buf!, n)
        }, nil)
        try check(r, "cannot open the output")
    }

    /// Writes one member: header, then the bytes in chunks, hashed on the way.
    private func member(_ name: String, _ data: UnsafeRawBufferPointer) throws {
        let e = archive_entry_new()
        defer { archive_entry_free(e) }
        archive_entry_set_pathname(e, name)
        archive_entry_set_size(e, la_int64_t(data.count))
        archive_entry_set_filetype(e, TLLM_AE_IFREG)
        archive_entry_set_perm(e, 0o644)
        archive_entry_set_mtime(e, 0, 0)
        archive_entry_set_uid(e, 0)
        archive_entry_set_gid(e, 0)
        archive_entry_set_uname(e, "")
        archive_entry_set_gname(e, "")
        try check(archive_write_header(archive, e), "cannot write the header of \(name)")
        var hash = SHA256()
        var off = 0
        let chunk = 4 << 20
        while off < data.count {
            let n = min(chunk, data.count - off)
            let piece = UnsafeRawBufferPointer(rebasing: data[off..<off + n])
            hash.update(piece)
            var done = 0
            while done < n {
                let w = archive_write_data(archive, piece.baseAddress! + done, n - done)
                guard w > 0 else { throw sink.error ?? TLLMError(path, "cannot write \(name): \(archiveMessage(archive))") }
                done += w
            }
            off += n
        }
        try check(archive_write_finish_entry(archive), "cannot finish \(name)")
        sums.append((hash.finalizeHex(), name))
    }

    private func member(_ name: String, _ bytes: [UInt8]) throws {
        try bytes.withUnsafeBytes { try member(name, $0) }
    }

    /// Writes the next tensor; it must be the next one of the manifest, with the same dtype and shape.
    public func write(_ t: Tensor) throws {
        guard !done, archive != nil else { throw TLLMError(path, "container writer already finished or failed") }
        do {
            let n = manifest.tensors.count
            guard written < n else { throw TLLMError(path, "tensor \(t.name) written after all \(n) tensors of the manifest") }
            let m = manifest.tensors[written]
            guard t.name == m.name else {
                throw TLLMError(path, "tensor \(t.name) written out of order: expected \(m.name) (tensor \(written + 1) of \(n))")
            }
            guard t.dtype == m.dtype, t.shape == m.shape else {
                throw TLLMError(path, "tensor \(t.name): got \(t.dtype.rawValue) \(t.shape), manifest says \(m.dtype.rawValue) \(m.shape)")
            }
            try member(m.member, t.bytes)
            written += 1
        } catch {
            abandon()
            throw error
        }
    }

    /// Writes SHA256SUMS, closes the archive and moves the file into place.
    public func finish() throws {
        guard !done, let a = archive else { throw TLLMError(path, "container writer already finished or failed") }
        do {
            guard written == manifest.tensors.count else {
                throw TLLMError(path, "finished after \(written) of \(manifest.tensors.count) tensors (next: \(manifest.tensors[written].name))")
            }
            try member(Manifest.checksumsName, SHA256Sums.format(sums))
            try check(archive_write_close(a), "cannot close the archive")
            archive_write_free(a)
            archive = nil
            if let sinkError = sink.error { throw sinkError }
            try sink.output?.commit()
            done = true
        } catch {
            abandon()
            throw error
        }
    }

    /// Drops everything written so far: the temporary file is removed and nothing more reaches stdout.
    private func abandon() {
        done = true
        sink.discard = true
        if let a = archive { archive_write_free(a) }
        archive = nil
        sink.output?.abandon()
    }

    deinit { if !done || archive != nil { abandon() } }
}
