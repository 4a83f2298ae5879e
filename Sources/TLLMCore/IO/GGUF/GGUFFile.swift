// Reader of GGUF v2/v3 files (ggml's gguf.h; little-endian): "GGUF", u32 version, u64 tensor count, u64 KV count,
// KVs {str key, u32 type, value}, tensor infos {str name, u32 n_dims, u64 ne[n_dims], u32 ggml type, u64 offset},
// zero padding to `general.alignment` (default 32), then the data section; str = u64 length + UTF-8 bytes.
// The file is untrusted: every count, length and offset is checked against the bytes left before use.

public struct GGUFTensorInfo: Sendable, Equatable {
    public var name: String
    /// Dimensions in ggml order: ne[0] is the contiguous one.
    public var ne: [Int]
    public var type: GGMLType
    /// Byte offset inside the data section.
    public var offset: Int
    public var byteSize: Int

    /// Row-major (numpy/PyTorch) shape: ne reversed.
    public var shape: [Int] { ne.reversed() }
    public var count: Int { ne.reduce(1, *) }
}

public final class GGUFFile: @unchecked Sendable {
    public let path: String
    public let file: MappedFile
    public let version: Int
    /// Key-value metadata in file order.
    public let metadata: [(String, GGUFValue)]
    /// Tensor infos in file order.
    public let tensors: [GGUFTensorInfo]
    public let alignment: Int
    /// Offset of the data section in the file.
    public let dataStart: Int

    private let keyIndex: [String: Int]
    private let tensorIndex: [String: Int]

    public static let defaultAlignment = 32
    public static let maxDims = 4

    public convenience init(path: String) throws {
        try self.init(file: try MappedFile(path: path))
    }

    public init(file: MappedFile) throws {
        self.file = file
        let path = file.path
        self.path = path
        var r = ByteReader(file.bytes, file: path)
        func fail(_ m: String) -> TLLMError { TLLMError(path, m) }

        guard file.bytes.count >= 4, Array(file.bytes[0..<4]) == Array("GGUF".utf8) else {
            throw fail("not a GGUF file (the first 4 bytes are not \"GGUF\")")
        }
        try r.skip(4, "magic")
        let v = try r.read(UInt32.self, "version")
        switch v {
        case 2, 3: break
        case 1: throw fail("GGUF version 1 is not supported (only v2 and v3); convert it with a newer llama.cpp")
        case 0x0200_0000, 0x0300_0000: throw fail("big-endian GGUF files are not supported")
        default: throw fail("unsupported GGUF version \(v) (v2 and v3 are supported)")
        }
        version = Int(v)
        let nTensors = try r.read(UInt64.self, "tensor count")
        let nKV = try r.read(UInt64.self, "metadata count")
        // Each KV takes at least 13 bytes (key length, type, a 1-byte value); each tensor info at least 32.
        guard nKV <= UInt64(r.remaining / 13) else {
            throw fail("metadata count \(nKV) is impossible in a file of \(file.bytes.count) bytes")
        }
        guard nTensors <= UInt64(r.remaining / 32) else {
            throw fail("tensor count \(nTensors) is impossible in a file of \(file.bytes.count) bytes")
        }

        var meta: [(String, GGUFValue)] = []
        var keys: [String: Int] = [:]
        meta.reserveCapacity(Int(nKV))
        for _ in 0..<Int(nKV) {
            let key = try GGUFFile.readString(&r, "metadata key")
            let t = try GGUFFile.readType(&r, "value type of \(key)")
            let value = try GGUFFile.readValue(&r, t, key, depth: 0)
            guard keys[key] == nil else { throw fail("duplicate metadata key \(key)") }
            keys[key] = meta.count
            meta.append((key, value))
        }
        metadata = meta
        keyIndex = keys

        var align = GGUFFile.defaultAlignment
        if let a = keys["general.alignment"].map({ meta[$0].1 }) {
            guard let n = a.int, n > 0, n & (n - 1) == 0, n <= 1 << 30 else {
                throw fail("general.alignment \(a) is not a power of two")
            }
            align = n
        }
        alignment = align

        var infos: [GGUFTensorInfo] = []
        var names: [String: Int] = [:]
        infos.reserveCapacity(Int(nTensors))
        for _ in 0..<Int(nTensors) {
            let name = try GGUFFile.readString(&r, "tensor name")
            let nDims = try r.read(UInt32.self, "dimension count of tensor \(name)")
            guard nDims >= 1, nDims <= UInt32(GGUFFile.maxDims) else {
                throw fail("tensor \(name) has \(nDims) dimensions (1 to \(GGUFFile.maxDims) are allowed)")
            }
            var ne: [Int] = []
            for _ in 0..<Int(nDims) {
                let d = try r.read(UInt64.self, "dimensions of tensor \(name)")
                guard d > 0, d <= UInt64(Int64.max) else { throw fail("tensor \(name) has dimension \(d)") }
                ne.append(Int(d))
            }
            let tid = try r.read(UInt32.self, "type of tensor \(name)")
            guard let type = GGMLType(rawValue: tid) else { throw fail("tensor \(name) has unknown ggml type id \(tid)") }
            let off = try r.read(UInt64.self, "offset of tensor \(name)")
            guard elementCount(ne) != nil else { throw fail("tensor \(name): element count of \(ne) overflows") }
            guard ne[0] % type.blockSize == 0 else {
                throw fail("tensor \(name): row length \(ne[0]) is not a multiple of the \(type.name) block size \(type.blockSize)")
            }
            guard let size = type.byteSize(ne: ne) else { throw fail("tensor \(name): byte size of \(ne) \(type.name) overflows") }
            guard off <= UInt64(Int.max), Int(off) % align == 0 else {
                throw fail("tensor \(name): offset \(off) is not a multiple of the alignment \(align)")
            }
            guard names[name] == nil else { throw fail("duplicate tensor name \(name)") }
            names[name] = infos.count
            infos.append(GGUFTensorInfo(name: name, ne: ne, type: type, offset: Int(off), byteSize: size))
        }
        tensors = infos
        tensorIndex = names

        let start = (r.offset + align - 1) / align * align
        dataStart = start
        let dataSize = file.bytes.count - start
        if !infos.isEmpty && dataSize < 0 { throw fail("data section starts past end of file (offset \(start))") }
        for t in infos where t.byteSize > dataSize - t.offset {
            throw fail("tensor \(t.name) extends past end of file (data offset \(t.offset) + \(t.byteSize) bytes, data section is \(max(0, dataSize)) bytes)")
        }
        let byOffset = infos.sorted { ($0.offset, $0.byteSize) < ($1.offset, $1.byteSize) }
        for (a, b) in zip(byOffset, byOffset.dropFirst()) where a.offset + a.byteSize > b.offset {
            throw fail("tensors \(a.name) and \(b.name) overlap")
        }
    }

    // MARK: parsing helpers

    static func readString(_ r: inout ByteReader, _ what: String) throws -> String {
        let at = r.offset
        let n = try r.read(UInt64.self, "length of \(what)")
        guard n <= UInt64(r.remaining) else {
            throw TLLMError(r.file, "\(what): string length \(n) at offset \(at) extends past end of file")
        }
        return try r.readString(Int(n), what)
    }

    static func readType(_ r: inout ByteReader, _ what: String) throws -> GGUFValueType {
        let t = try r.read(UInt32.self, what)
        guard let vt = GGUFValueType(rawValue: t) else { throw TLLMError(r.file, "\(what): unknown GGUF value type \(t)") }
        return vt
    }

    static func readValue(_ r: inout ByteReader, _ t: GGUFValueType, _ key: String, depth: Int) throws -> GGUFValue {
        switch t {
        case .u8: return .u8(try r.read(UInt8.self, key))
        case .i8: return .i8(try r.read(Int8.self, key))
        case .u16: return .u16(try r.read(UInt16.self, key))
        case .i16: return .i16(try r.read(Int16.self, key))
        case .u32: return .u32(try r.read(UInt32.self, key))
        case .i32: return .i32(try r.read(Int32.self, key))
        case .u64: return .u64(try r.read(UInt64.self, key))
        case .i64: return .i64(try r.read(Int64.self, key))
        case .f32: return .f32(try r.readF32(key))
        case .f64: return .f64(try r.readF64(key))
        case .bool:
            let b = try r.read(UInt8.self, key)
            guard b <= 1 else { throw TLLMError(r.file, "\(key): bool value \(b) at offset \(r.offset - 1) is not 0 or 1") }
            return .bool(b == 1)
        case .string: return .string(try readString(&r, key))
        case .array:
            guard depth < GGUFValue.maxDepth else {
                throw TLLMError(r.file, "\(key): arrays nested more than \(GGUFValue.maxDepth) deep")
            }
            let e = try readType(&r, "element type of \(key)")
            let at = r.offset
            let n = try r.read(UInt64.self, "element count of \(key)")
            guard n <= UInt64(r.remaining / e.minEncodedSize) else {
                throw TLLMError(r.file, "\(key): array count \(n) at offset \(at) does not fit in the \(r.remaining) bytes left")
            }
            var a: [GGUFValue] = []
            a.reserveCapacity(Int(n))
            for _ in 0..<Int(n) { a.append(try readValue(&r, e, key, depth: depth + 1)) }
            return .array(elem: e, a)
        }
    }

    // MARK: access

    public func value(_ key: String) -> GGUFValue? { keyIndex[key].map { metadata[$0].1 } }

    public func info(_ name: String) -> GGUFTensorInfo? { tensorIndex[name].map { tensors[$0] } }

    /// The stored bytes of a tensor (checked against the file when it was opened).
    public func rawBytes(_ info: GGUFTensorInfo) -> UnsafeRawBufferPointer {
        file.slice(dataStart + info.offset, info.byteSize)!
    }

    /// The tensor's values as f32, flat in ggml memory order (ne[0] fastest).
    public func floats(_ info: GGUFTensorInfo) throws -> [Float] {
        guard let deq = info.type.traits.dequantize else {
            throw TLLMError(path, "tensor \(info.name) has type \(info.type.name), which tllm cannot dequantize")
        }
        let raw = rawBytes(info)
        let nBlocks = info.count / info.type.blockSize
        return [Float](unsafeUninitializedCapacity: info.count) { buf, n in
            if nBlocks > 0 { deq(raw.baseAddress!, buf.baseAddress!, nBlocks) }
            n = info.count
        }
    }

    /// The tensor in row-major shape `info.shape`: F32, F16 and BF16 borrowed from the mapping as stored
    /// (copied if the file's alignment leaves them misaligned), every other type dequantized to f32.
    public func tensor(_ info: GGUFTensorInfo, name: String? = nil) throws -> Tensor {
        let n = name ?? info.name
        if let dt = info.type.dtype {
            let raw = rawBytes(info)
            let storage = Int(bitPattern: raw.baseAddress) % dt.size == 0
                ? TensorStorage(borrowing: raw, owner: file) : TensorStorage(copying: raw)
            return Tensor(name: n, dtype: dt, shape: info.shape, storage: storage)
        }
        return Tensor(name: n, shape: info.shape, floats: try floats(info))
    }
}
