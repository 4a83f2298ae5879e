// Index of the members of an in-memory tar archive, for reading tensors in place (DESIGN §2).
// 512-byte ustar headers (name/prefix, octal or base-256 size, checksum verified), pax `x` headers (`path`,
// `size` records) and GNU `L` long names apply to the next member; `g` and `K` are skipped. The bytes are
// untrusted: every size and offset is checked against the buffer before use; errors are TLLMErrors.

/// A regular-file member: its name and where its data lies in the archive (`offset` is a multiple of 512).
public struct TarMember: Equatable, Sendable {
    public var name: String
    public var offset: Int
    public var size: Int
}

public enum TarIndex {
    /// The largest pax extended header or GNU long name accepted.
    public static let maxMetaHeader = 1 << 20

    /// The regular-file members of `bytes` in archive order (directories skipped; "./" prefixes removed).
    public static func scan(_ bytes: UnsafeRawBufferPointer, file: String) throws -> [TarMember] {
        var out: [TarMember] = []
        var seen = Set<String>()
        var off = 0
        var paxPath: String?, paxSize: Int?, longName: String?
        while true {
            if off == bytes.count { break }  // no end-of-archive blocks: accepted, as GNU tar does
            guard bytes.count - off >= 512 else { throw TLLMError(file, "tar: truncated header at offset \(off)") }
            let h = UnsafeRawBufferPointer(rebasing: bytes[off..<off + 512])
            if h.allSatisfy({ $0 == 0 }) { break }  // end of archive
            func bad(_ why: String) -> TLLMError { TLLMError(file, "tar: \(why) in the header at offset \(off)") }
            guard let stored = octal(h, 148, 8) else { throw bad("malformed checksum field") }
            var unsignedSum = 0, signedSum = 0
            for i in 0..<512 {
                let c = (148..<156).contains(i) ? 0x20 : h[i]
                unsignedSum += Int(c)
                signedSum += Int(Int8(bitPattern: c))
            }
            guard stored == unsignedSum || stored == signedSum else { throw bad("header checksum mismatch (not a tar archive?)") }
            guard var size = number(h, 124, 12) else { throw bad("malformed size field") }
            if let s = paxSize { size = s }
            let type = h[156]
            let dataStart = off + 512
            guard size <= bytes.count - dataStart else {
                throw bad("member data (\(size) bytes) extends past the end of the archive (\(bytes.count) bytes)")
            }
            let data = UnsafeRawBufferPointer(rebasing: bytes[dataStart..<dataStart + size])
            let padded = size + (512 - size % 512) % 512
            // The last member's padding may be missing (then nothing follows).
            let next = padded <= bytes.count - dataStart ? dataStart + padded : bytes.count
            switch type {
            case UInt8(ascii: "x"):
                guard size <= maxMetaHeader else { throw bad("pax header of \(size) bytes is too large") }
                (paxPath, paxSize) = try paxRecords(data, file: file, at: off)
                off = next
                continue
            case UInt8(ascii: "L"):
                guard size <= maxMetaHeader else { throw bad("GNU long name of \(size) bytes is too large") }
                let n = data.firstIndex(of: 0) ?? data.count
                guard let s = String(validating: UnsafeRawBufferPointer(rebasing: data[0..<n]), as: UTF8.self) else {
                    throw bad("GNU long name is not UTF-8")
                }
                longName = s
                off = next
                continue
            case UInt8(ascii: "g"), UInt8(ascii: "K"):
                off = next
                continue
            default: break
            }
            var name: String
            if let p = paxPath { name = p } else if let l = longName { name = l } else {
                guard let n = field(h, 0, 100) else { throw bad("member name is not UTF-8") }
                name = n
                // POSIX ustar: a prefix field joined with "/"; GNU headers ("ustar  ") use that area otherwise.
                if h[257..<263].elementsEqual("ustar\0".utf8), h[345] != 0 {
                    guard let p = field(h, 345, 155) else { throw bad("member name prefix is not UTF-8") }
                    name = p + "/" + name
                }
            }
            paxPath = nil; paxSize = nil; longName = nil
            while name.hasPrefix("./") { name.removeFirst(2) }
            switch type {
            case UInt8(ascii: "0"), 0, UInt8(ascii: "7"):
                guard !name.isEmpty else { throw bad("member with an empty name") }
                guard seen.insert(name).inserted else { throw bad("member \(name) appears twice") }
                out.append(TarMember(name: name, offset: dataStart, size: size))
            case UInt8(ascii: "5"):
                break
            default:
                throw bad("member \(name) has unsupported type '\(Unicode.Scalar(type))' (a container holds regular files)")
            }
            off = next
        }
        return out
    }

    /// A NUL-terminated text field as UTF-8.
    private static func field(_ h: UnsafeRawBufferPointer, _ at: Int, _ len: Int) -> String? {
        let f = h[at..<at + len]
        let end = f.firstIndex(of: 0) ?? f.endIndex
        return String(validating: h[at..<end], as: UTF8.self)
    }

    /// An octal field: optional leading spaces, digits, then NUL/space padding. Nil if malformed or too big.
    private static func octal(_ h: UnsafeRawBufferPointer, _ at: Int, _ len: Int) -> Int? {
        var i = at, v = 0, digits = 0
        let end = at + len
        while i < end, h[i] == 0x20 { i += 1 }
        while i < end, h[i] >= 0x30, h[i] <= 0x37 {
            guard v < (1 << 59) else { return nil }
            v = v * 8 + Int(h[i] - 0x30)
            i += 1; digits += 1
        }
        while i < end {
            guard h[i] == 0 || h[i] == 0x20 else { return nil }
            i += 1
        }
        return digits > 0 ? v : nil
    }

    /// A numeric field: octal, or GNU base-256 (high bit of the first byte set) for large values.
    private static func number(_ h: UnsafeRawBufferPointer, _ at: Int, _ len: Int) -> Int? {
        guard h[at] & 0x80 != 0 else { return octal(h, at, len) }
        guard h[at] == 0x80 else { return nil }  // negative or beyond 2^88: refused
        var v = 0
        for i in (at + 1)..<(at + len) {
            guard v < (1 << 55) else { return nil }
            v = v << 8 | Int(h[i])
        }
        return v
    }

    /// `path` and `size` from pax records "<len> <key>=<value>\n"; other keys are ignored.
    private static func paxRecords(_ d: UnsafeRawBufferPointer, file: String, at: Int) throws -> (String?, Int?) {
        func bad(_ why: String) -> TLLMError { TLLMError(file, "tar: malformed pax header at offset \(at): \(why)") }
        var path: String?, size: Int?
        var i = 0
        while i < d.count {
            if d[i] == 0 { break }  // NUL padding after the last record
            var len = 0, j = i
            while j < d.count, d[j] >= 0x30, d[j] <= 0x39 {
                guard len < 1 << 40 else { throw bad("record length too large") }
                len = len * 10 + Int(d[j] - 0x30)
                j += 1
            }
            guard j > i, j < d.count, d[j] == 0x20 else { throw bad("record length") }
            guard len > j - i + 1, len <= d.count - i else { throw bad("record length \(len) out of bounds") }
            let recEnd = i + len
            guard d[recEnd - 1] == 0x0A else { throw bad("record not terminated by a newline") }
            let body = d[(j + 1)..<(recEnd - 1)]
            guard let eq = body.firstIndex(of: UInt8(ascii: "=")) else { throw bad("record without '='") }
            let key = String(decoding: d[body.startIndex..<eq], as: UTF8.self)
            let value = d[(eq + 1)..<body.endIndex]
            switch key {
            case "path":
                guard let s = String(validating: value, as: UTF8.self) else { throw bad("path is not UTF-8") }
                path = s
            case "size":
                var v = 0
                guard !value.isEmpty else { throw bad("empty size") }
                for c in value {
                    guard c >= 0x30, c <= 0x39, v < (1 << 58) else { throw bad("size is not a number in range") }
                    v = v * 10 + Int(c - 0x30)
                }
                size = v
            default: break
            }
            i = recEnd
        }
        return (path, size)
    }
}
