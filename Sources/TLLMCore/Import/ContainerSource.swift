// A float tllm container read as a model source, streaming (works on stdin and compressed files; one tensor in
// memory at a time). Checksums are verified by the reader as the tensors pass.

public final class ContainerSource: ModelSource {
    public let path: String
    public let formatName: String
    public let config: ModelConfig
    public let tensorInfos: [TensorInfo]
    public let files: [(name: String, bytes: [UInt8])]
    public let metadata: JSON
    private let reader: ContainerReader

    public convenience init(path: String) throws {
        try self.init(reader: try ContainerReader(path: path))
    }

    public init(reader: ContainerReader) throws {
        path = reader.path
        self.reader = reader
        let m = reader.manifest
        guard m.kind == .float else {
            throw TLLMError(path, "is a \(m.kind.rawValue) container; this needs a float model (kind \"float\")")
        }
        config = try ModelConfig(json: m.config, file: path)
        tensorInfos = m.tensors.map { TensorInfo(name: $0.name, dtype: $0.dtype, shape: $0.shape) }
        files = reader.files
        metadata = m.metadata
        formatName = "tllm container (\(m.kind.rawValue), version \(m.version))"
    }

    public func nextTensor() throws -> Tensor? { try reader.next() }
}
