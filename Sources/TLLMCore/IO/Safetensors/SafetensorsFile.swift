// Reader of one .safetensors file (https://github.com/huggingface/safetensors): an 8-byte little-endian header
// length N, N bytes of JSON {name: {dtype, shape, data_offsets: [begin, end]}, "__metadata__": {str: str}},
// then the data section, offsets relative to its start. Everything is validated before use (DESIGN §4):
// header inside the file, offsets inside the data section, no overlaps, size = product(shape) · dtype size.

public struct SafetensorsEntry: Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    /// Byte range inside the data section.
    public var begin: Int
    public var end: Int
}

public final class SafetensorsFile: @unchecked Sendable {
    public let path: String
    public let file: MappedFile
    /// Tensors in data order.
    public let entries: [SafetensorsEntry]
    public let metadata: [(String, String)]
    /// Offset of the data section in the file.
    public let dataStart: Int

    /// The largest JSON header we accept (the format's own readers cap it at 100 MB).
    public static let maxHeader = 100_000_000

    public convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        path = file.path
        var r = ByteReader(file.bytes, file: path)
        let n64 = try r.read(UInt64.self, "header length")
        guard n64 <= UInt64(SafetensorsFile.maxHeader) else {
            throw TLLMError(path, "header length \(n64) is larger than the 100 MB limit")
        }
        let n = Int(n64)
        guard n <= r.remaining else {
            throw TLLMError(path, "header length \(n) extends past the end of the file (\(file.bytes.count) bytes)")
        }
        let header = try JSON.parse(try r.readBytes(n, "header"), file: path)
        dataStart = 8 + n
        let dataSize = file.bytes.count - dataStart
        guard let kv = header.object else { throw TLLMError(path, "header is not a JSON object") }
        var es: [SafetensorsEntry] = []
        var meta: [(String, String)] = []
        for (name, v) in kv {
            if name == "__metadata__" {
                guard let m = v.object else { throw TLLMError(path, "__metadata__ is not an object") }
                for (k, s) in m {
                    guard let s = s.string else { throw TLLMError(path, "__metadata__ value \(k) is not a string") }
                    meta.append((k, s))
                }
                continue
            }
            guard let dtName = v["dtype"]?.string else { throw TLLMError(path, "tensor \(name): missing dtype") }
            guard let dt = DType(safetensorsName: dtName) else {
                throw TLLMError(path, "tensor \(name): unsupported dtype \(dtName) (F32, F16, BF16, I8, U8, I32 are supported)")
            }
            guard let sh = v["shape"]?.array else { throw TLLMError(path, "tensor \(name): missing shape") }
            var shape: [Int] = []
            for d in sh {
                guard let d = d.int, d >= 0 else { throw TLLMError(path, "tensor \(name): bad shape") }
                shape.append(d)
            }
            guard let off = v["data_offsets"]?.array, off.count == 2, let b = off[0].int, let e = off[1].int else {
                throw TLLMError(path, "tensor \(name): missing or bad data_offsets")
            }
            guard b >= 0, e >= b else { throw TLLMError(path, "tensor \(name): data_offsets [\(b), \(e)] are reversed") }
            guard e <= dataSize else {
                throw TLLMError(path, "tensor \(name) extends past end of file (ends at data offset \(e), data section is \(dataSize) bytes)")
            }
            guard let size = byteCount(shape, dt), size == e - b else {
                throw TLLMError(path, "tensor \(name): \(e - b) bytes of data for shape \(shape) \(dtName)")
            }
            es.append(SafetensorsEntry(name: name, dtype: dt, shape: shape, begin: b, end: e))
        }
        es.sort { ($0.begin, $0.end) < ($1.begin, $1.end) }
        for i in es.indices.dropFirst() where es[i].begin < es[i - 1].end {
            throw TLLMError(path, "tensors \(es[i - 1].name) and \(es[i].name) overlap")
        }
        var seen = Set<String>()
        for e in es where !seen.insert(e.name).inserted { throw TLLMError(path, "tensor \(e.name) appears twice") }
        entries = es
        metadata = meta
    }

    public func entry(_ name: String) -> SafetensorsEntry? { entries.first { $0.name == name } }

    /// The tensor's bytes in place (borrowed from the mapping).
    public func tensor(_ e: SafetensorsEntry) -> Tensor {
        let b = file.slice(dataStart + e.begin, e.end - e.begin)!
        return Tensor(name: e.name, dtype: e.dtype, shape: e.shape, storage: TensorStorage(borrowing: b, owner: file))
    }

    public func tensor(named name: String) throws -> Tensor {
        guard let e = entry(name) else { throw TLLMError(path, "no tensor \(name)") }
        return tensor(e)
    }
}
