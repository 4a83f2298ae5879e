// Streaming writer of one .safetensors file: the header (all names, dtypes, shapes and offsets, padded with
// spaces to a multiple of 8 bytes as the reference implementation does) goes out first, then each tensor's
// bytes in the declared order, one at a time. The caller owns the AtomicOutput and commits it.

public final class SafetensorsWriter {
    private let out: AtomicOutput
    private let infos: [TensorInfo]
    private var next = 0

    public init(output: AtomicOutput, tensors: [TensorInfo], metadata: [(String, String)] = []) throws {
        out = output
        infos = tensors
        var kv: [(String, JSON)] = []
        if !metadata.isEmpty { kv.append(("__metadata__", .object(metadata.map { ($0.0, .string($0.1)) }))) }
        var offset = 0
        for t in tensors {
            guard let size = byteCount(t.shape, t.dtype) else { throw TLLMError(output.path, "tensor \(t.name) is too large") }
            kv.append((t.name, .object([
                ("dtype", .string(t.dtype.safetensorsName)),
                ("shape", .array(t.shape.map { JSON($0) })),
                ("data_offsets", [JSON(offset), JSON(offset + size)]),
            ])))
            offset += size
        }
        var header = Array(JSON.object(kv).text(pretty: false).utf8)
        while header.count % 8 != 0 { header.append(0x20) }
        var len = UInt64(header.count).littleEndian
        try withUnsafeBytes(of: &len) { try out.write($0) }
        try out.write(header)
    }

    /// Writes the next tensor; it must match the declared name, dtype and shape.
    public func write(_ t: Tensor) throws {
        guard next < infos.count else { throw TLLMError(out.path, "more tensors written than declared") }
        let i = infos[next]
        guard t.name == i.name, t.dtype == i.dtype, t.shape == i.shape else {
            throw TLLMError(out.path, "tensor \(t.name) \(t.dtype) \(t.shape) written where \(i.name) \(i.dtype) \(i.shape) was declared")
        }
        try out.write(t.bytes)
        next += 1
    }

    /// Checks every declared tensor was written.
    public func finish() throws {
        guard next == infos.count else { throw TLLMError(out.path, "only \(next) of \(infos.count) tensors were written") }
    }
}
