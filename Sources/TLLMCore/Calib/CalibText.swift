// Calibration text for tllm-calib (DESIGN §9), read through libarchive so every input form is one code path:
// plain text, gzip/zstd/xz/bzip2-compressed text (any filter libarchive detects by content), a tar of text
// files (compressed or not), "-" for stdin. A document is a file, a tar member, or with `field` one JSON Lines
// record's string field. Text must be UTF-8; a missing field or an empty input is an error naming the source.

import CArchive
import Foundation

/// One document of calibration text and where it came from (`file`, `file:member`, `file:line`).
public struct TextDocument: Equatable, Sendable {
    public var source: String
    public var text: String
}

public enum CalibText {
    /// Calls `body` with every document of `path` ("-" = stdin), in order. With `field`, every member is JSON
    /// Lines and each non-blank line an object whose string `field` is one document.
    public static func read(_ path: String, field: String?, _ body: (TextDocument) throws -> Void) throws {
        // stdin is read into memory first (the text is held whole anyway), so an empty stream is recognized.
        let stdinBytes = path == "-" ? try TLLMCore.readAll(fd: 0, name: "-") : nil
        if stdinBytes?.isEmpty == true || isEmptyFile(path) { return }
        guard let a = archive_read_new() else { throw TLLMError(path, "cannot create a libarchive reader") }
        defer { archive_read_free(a) }
        archive_read_support_filter_all(a)
        archive_read_support_format_tar(a)
        archive_read_support_format_raw(a)
        let r: Int32
        let held = UnsafeMutableRawBufferPointer.allocate(byteCount: max(1, stdinBytes?.count ?? 0), alignment: 16)
        defer { held.deallocate() }
        if let b = stdinBytes {
            held.copyBytes(from: b)  // libarchive reads it after this call: keep it in memory we own
            r = archive_read_open_memory(a, held.baseAddress, b.count)
        } else {
            guard FileManager.default.fileExists(atPath: path) else { throw TLLMError.cannotOpen(path, errno: ENOENT) }
            r = archive_read_open_filename(a, path, 1 << 20)
        }
        guard r == ARCHIVE_OK else { throw TLLMError(path, "cannot read: \(archiveMessage(a))") }
        while true {
            var e: OpaquePointer?
            let h = archive_read_next_header(a, &e)
            if h == ARCHIVE_EOF { break }
            guard h == ARCHIVE_OK || h == ARCHIVE_WARN, let e else { throw TLLMError(path, "cannot read: \(archiveMessage(a))") }
            let raw = archive_format(a) == ARCHIVE_FORMAT_RAW
            let member = archive_entry_pathname(e).map { String(cString: $0) } ?? "?"
            if !raw && archive_entry_filetype(e) != TLLM_AE_IFREG { continue }
            let source = raw ? path : "\(path):\(member)"
            let bytes = try readData(a, source)
            guard let text = String(validating: bytes, as: UTF8.self) else {
                throw TLLMError(source, "is not UTF-8 text")
            }
            if let field {
                try jsonLines(text, field: field, source: source, body)
            } else {
                let plainName = raw ? path : member
                if stripCompression(plainName).hasSuffix(".jsonl") {
                    throw TLLMError(source, "looks like JSON Lines: give --field NAME to read one of its string fields")
                }
                try body(TextDocument(source: source, text: text))
            }
        }
    }

    /// Every document of all `paths`, in order.
    public static func readAll(_ paths: [String], field: String?) throws -> [TextDocument] {
        var out: [TextDocument] = []
        for p in paths { try read(p, field: field) { out.append($0) } }
        return out
    }

    static func readData(_ a: OpaquePointer, _ source: String) throws -> [UInt8] {
        var out: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 1 << 20)
        while true {
            let n = chunk.withUnsafeMutableBytes { archive_read_data(a, $0.baseAddress, $0.count) }
            if n == 0 { break }
            guard n > 0 else { throw TLLMError(source, "read failed: \(archiveMessage(a))") }
            out.append(contentsOf: chunk[0..<n])
        }
        return out
    }

    /// One document per non-blank line: the string value of `field`.
    static func jsonLines(_ text: String, field: String, source: String, _ body: (TextDocument) throws -> Void) throws {
        var line = 0
        for l in text.split(separator: "\n", omittingEmptySubsequences: false) {
            line += 1
            if l.allSatisfy({ $0.isWhitespace }) { continue }
            let j: JSON
            do { j = try JSON.parse(String(l), file: source) } catch let e as TLLMError {
                throw TLLMError(source, "line \(line): not JSON (\(e.message))")
            }
            guard j.object != nil else { throw TLLMError(source, "line \(line): not a JSON object") }
            guard let v = j[field] else { throw TLLMError(source, "line \(line): no field \"\(field)\"") }
            guard let s = v.string else { throw TLLMError(source, "line \(line): field \"\(field)\" is not a string") }
            try body(TextDocument(source: "\(source):\(line)", text: s))
        }
    }

    static func stripCompression(_ name: String) -> String {
        for s in [".gz", ".zst", ".xz", ".bz2"] where name.hasSuffix(s) { return String(name.dropLast(s.count)) }
        return name
    }

    /// True for a regular file of 0 bytes (libarchive's raw reader refuses an empty stream; it is an empty text).
    static func isEmptyFile(_ path: String) -> Bool {
        guard path != "-", let a = try? FileManager.default.attributesOfItem(atPath: path) else { return false }
        return (a[.size] as? NSNumber)?.intValue == 0
    }
}
