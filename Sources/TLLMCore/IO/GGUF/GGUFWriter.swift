// Streaming writer of GGUF v3 (layout in GGUFFile.swift): the header, metadata and tensor infos are written at
// once, offsets computed from the declared sizes; then each tensor's bytes in the declared order, every tensor
// padded with zeros to the alignment (32, or `general.alignment` when the metadata has it), as gguf-py does.
// Any ggml type may be declared (the caller supplies the bytes: f32/f16/bf16 converted, or quantized blocks).

public final class GGUFWriter {
    public let output: AtomicOutput
    public let alignment: Int
    public let tensors: [(name: String, ne: [Int], type: GGMLType)]
    /// Byte size of each declared tensor.
    public let sizes: [Int]
    private var next = 0
    private var path: String { output.path }

    public init(output: AtomicOutput, metadata: [(String, GGUFValue)], tensors: [(name: String, ne: [Int], type: GGMLType)]) throws {
        self.output = output
        self.tensors = tensors
        let path = output.path
        func fail(_ m: String) -> TLLMError { TLLMError(path, m) }

        var align = GGUFFile.defaultAlignment
        var keys = Set<String>()
        for (k, v) in metadata {
            guard keys.insert(k).inserted else { throw fail("duplicate metadata key \(k)") }
            if let problem = GGUFWriter.check(v, depth: 0) { throw fail("metadata \(k): \(problem)") }
            if k == "general.alignment" {
                guard case let .u32(a) = v, a > 0, a & (a - 1) == 0, a <= 1 << 30 else {
                    throw fail("general.alignment must be a u32 power of two, not \(v)")
                }
                align = Int(a)
            }
        }
        alignment = align

        var out: [UInt8] = []
        out.append(contentsOf: Array("GGUF".utf8))
        GGUFWriter.put(UInt32(3), &out)
        GGUFWriter.put(UInt64(tensors.count), &out)
        GGUFWriter.put(UInt64(metadata.count), &out)
        for (k, v) in metadata {
            GGUFWriter.put(string: k, &out)
            GGUFWriter.put(v.type.rawValue, &out)
            GGUFWriter.encode(v, &out)
        }
        var names = Set<String>()
        var sizes: [Int] = []
        var offset = 0
        for t in tensors {
            guard names.insert(t.name).inserted else { throw fail("duplicate tensor name \(t.name)") }
            guard (1...GGUFFile.maxDims).contains(t.ne.count) else {
                throw fail("tensor \(t.name) has \(t.ne.count) dimensions (1 to \(GGUFFile.maxDims) are allowed)")
            }
            guard let size = t.type.byteSize(ne: t.ne) else {
                throw fail("tensor \(t.name): dimensions \(t.ne) are not valid for \(t.type.name) (positive, ne[0] a multiple of \(t.type.blockSize))")
            }
            GGUFWriter.put(string: t.name, &out)
            GGUFWriter.put(UInt32(t.ne.count), &out)
            for d in t.ne { GGUFWriter.put(UInt64(d), &out) }
            GGUFWriter.put(t.type.rawValue, &out)
            GGUFWriter.put(UInt64(offset), &out)
            sizes.append(size)
            let (o, overflow) = offset.addingReportingOverflow(GGUFWriter.padded(size, align))
            guard !overflow else { throw fail("tensor data larger than \(Int.max) bytes") }
            offset = o
        }
        self.sizes = sizes
        out.append(contentsOf: [UInt8](repeating: 0, count: GGUFWriter.padded(out.count, align) - out.count))
        try output.write(out)
    }

    /// Writes the next declared tensor's bytes (exactly its byte size) and the padding after it.
    public func write(tensorData: UnsafeRawBufferPointer) throws {
        guard next < tensors.count else { throw TLLMError(path, "more tensor data than the \(tensors.count) tensors declared") }
        let t = tensors[next], size = sizes[next]
        guard tensorData.count == size else {
            throw TLLMError(path, "tensor \(t.name): \(tensorData.count) bytes of data, \(t.type.name) \(t.ne) takes \(size)")
        }
        try output.write(tensorData)
        let pad = GGUFWriter.padded(size, alignment) - size
        if pad > 0 { try output.write([UInt8](repeating: 0, count: pad)) }
        next += 1
    }

    /// Checks that every declared tensor was written. The caller commits the output.
    public func finish() throws {
        guard next == tensors.count else {
            throw TLLMError(path, "GGUF incomplete: \(next) of \(tensors.count) tensors written (next: \(tensors[next].name))")
        }
    }

    // MARK: encoding

    static func padded(_ n: Int, _ align: Int) -> Int { (n + align - 1) / align * align }

    static func put<T: FixedWidthInteger>(_ v: T, _ out: inout [UInt8]) {
        withUnsafeBytes(of: v.littleEndian) { out.append(contentsOf: $0) }
    }

    static func put(string s: String, _ out: inout [UInt8]) {
        put(UInt64(s.utf8.count), &out)
        out.append(contentsOf: s.utf8)
    }

    /// The value's bytes after its type tag.
    static func encode(_ v: GGUFValue, _ out: inout [UInt8]) {
        switch v {
        case let .u8(x): put(x, &out)
        case let .i8(x): put(x, &out)
        case let .u16(x): put(x, &out)
        case let .i16(x): put(x, &out)
        case let .u32(x): put(x, &out)
        case let .i32(x): put(x, &out)
        case let .u64(x): put(x, &out)
        case let .i64(x): put(x, &out)
        case let .f32(x): put(x.bitPattern, &out)
        case let .f64(x): put(x.bitPattern, &out)
        case let .bool(x): put(UInt8(x ? 1 : 0), &out)
        case let .string(s): put(string: s, &out)
        case let .array(e, a):
            put(e.rawValue, &out)
            put(UInt64(a.count), &out)
            for x in a { encode(x, &out) }
        }
    }

    /// Why `v` cannot be written (array elements of the wrong type, nesting too deep), or nil.
    static func check(_ v: GGUFValue, depth: Int) -> String? {
        guard case let .array(e, a) = v else { return nil }
        guard depth < GGUFValue.maxDepth else { return "arrays nested more than \(GGUFValue.maxDepth) deep" }
        for (i, x) in a.enumerated() {
            guard x.type == e else { return "array of \(e.name) has a \(x.type.name) at index \(i)" }
            if let p = check(x, depth: depth + 1) { return p }
        }
        return nil
    }
}
