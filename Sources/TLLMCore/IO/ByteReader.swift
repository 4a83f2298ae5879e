// A bounds-checked little-endian cursor over untrusted bytes (GGUF headers, safetensors headers, tar headers).
// Every read checks the remaining length first and throws a TLLMError naming the file and offset, so a
// truncated or lying file can never make us read out of bounds or allocate from an unchecked count.

public struct ByteReader {
    public let bytes: UnsafeRawBufferPointer
    public let file: String
    public private(set) var offset: Int

    public init(_ bytes: UnsafeRawBufferPointer, file: String, offset: Int = 0) {
        self.bytes = bytes
        self.file = file
        self.offset = offset
    }

    public var remaining: Int { bytes.count - offset }

    func truncated(_ what: String) -> TLLMError {
        TLLMError(file, "truncated at offset \(offset) while reading \(what)")
    }

    public mutating func need(_ n: Int, _ what: String) throws {
        guard n >= 0, n <= remaining else { throw truncated(what) }
    }

    public mutating func read<T: FixedWidthInteger>(_: T.Type, _ what: String) throws -> T {
        try need(MemoryLayout<T>.size, what)
        let v = bytes.loadUnaligned(fromByteOffset: offset, as: T.self)
        offset += MemoryLayout<T>.size
        return T(littleEndian: v)
    }

    public mutating func readF32(_ what: String) throws -> Float { Float(bitPattern: try read(UInt32.self, what)) }
    public mutating func readF64(_ what: String) throws -> Double { Double(bitPattern: try read(UInt64.self, what)) }

    /// `n` raw bytes.
    public mutating func readBytes(_ n: Int, _ what: String) throws -> UnsafeRawBufferPointer {
        try need(n, what)
        let s = UnsafeRawBufferPointer(rebasing: bytes[offset..<offset + n])
        offset += n
        return s
    }

    /// A UTF-8 string of `n` bytes (invalid UTF-8 is an error: names must round-trip exactly).
    public mutating func readString(_ n: Int, _ what: String) throws -> String {
        let b = try readBytes(n, what)
        guard let s = String(validating: b, as: UTF8.self) else {
            throw TLLMError(file, "\(what) at offset \(offset - n) is not valid UTF-8")
        }
        return s
    }

    public mutating func skip(_ n: Int, _ what: String) throws {
        try need(n, what)
        offset += n
    }

    public mutating func seek(_ to: Int, _ what: String) throws {
        guard to >= 0, to <= bytes.count else { throw TLLMError(file, "\(what): offset \(to) is past the end of the file (\(bytes.count) bytes)") }
        offset = to
    }
}
