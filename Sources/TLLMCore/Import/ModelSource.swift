// A float model being read, whatever its file format: its config, the tensors it will yield (canonical names,
// in order), the files it carries (tokenizer), and the tensors themselves one at a time, so importers and
// exporters never hold more than one tensor (DESIGN §1). `openModel` picks the reader by content.

import Foundation

public struct TensorInfo: Equatable, Sendable {
    public var name: String
    public var dtype: DType
    public var shape: [Int]
    public init(name: String, dtype: DType, shape: [Int]) {
        self.name = name
        self.dtype = dtype
        self.shape = shape
    }
}

public protocol ModelSource: AnyObject {
    /// The path given by the user ("-" for stdin).
    var path: String { get }
    /// Human-readable format, e.g. "GGUF v3", "safetensors (3 shards)", "tllm container (float)".
    var formatName: String { get }
    var config: ModelConfig { get }
    /// The tensors `nextTensor` yields, in that order, with the dtypes they come in.
    var tensorInfos: [TensorInfo] { get }
    /// Files carried untouched into the container (tokenizer and friends), as (member name, bytes).
    var files: [(name: String, bytes: [UInt8])] { get }
    /// Facts about the source recorded under the manifest's "metadata" (source format, original dtypes).
    var metadata: JSON { get }
    /// The next tensor in `tensorInfos` order, or nil after the last.
    func nextTensor() throws -> Tensor?
}

/// What a file is, by its first bytes (and whether it is a directory).
public enum ModelFileKind: Equatable {
    case gguf, safetensors, container, hfDirectory
}

/// Detects the format of `path` by content (GGUF magic, tar header, safetensors header length), so file
/// suffixes never matter; compressed files are taken for containers.
public func detectModelFile(_ path: String) throws -> ModelFileKind {
    if path == "-" { return .container }
    var isDir: ObjCBool = false
    guard FileManager.default.fileExists(atPath: path, isDirectory: &isDir) else { throw TLLMError(path, "no such file or directory") }
    if isDir.boolValue { return .hfDirectory }
    guard let h = FileHandle(forReadingAtPath: path) else { throw TLLMError(path, "cannot open") }
    defer { try? h.close() }
    let head = [UInt8]((try? h.read(upToCount: 512)) ?? Data())
    if head.count >= 4, head[0..<4] == [0x47, 0x47, 0x55, 0x46] { return .gguf }  // "GGUF"
    if head.count >= 263, head[257..<262] == [0x75, 0x73, 0x74, 0x61, 0x72] { return .container }  // "ustar"
    if head.count >= 2, head[0] == 0x1F, head[1] == 0x8B { return .container }  // gzip
    if head.count >= 4, head[0..<4] == [0x28, 0xB5, 0x2F, 0xFD] { return .container }  // zstd
    if head.count >= 6, head[0..<6] == [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00] { return .container }  // xz
    if head.count >= 9, head[8] == UInt8(ascii: "{") { return .safetensors }
    if head.count < 8 { throw TLLMError(path, "file too short (\(head.count) bytes) to be a model") }
    throw TLLMError(path, "unknown file format (not GGUF, safetensors or a tllm container)")
}

/// Opens a float model from a GGUF file, a safetensors file, a Hugging Face directory or a float container; a
/// ternary container opens as its dequantized weights Ŵ = α·T + γ (TernarySource), a packed one (.tpk) as the
/// float model it computes (PackedSource: packed, q8 and q4 weights dequantized).
public func openModel(_ path: String) throws -> ModelSource {
    switch try detectModelFile(path) {
    case .gguf: return try GGUFSource(path: path)
    case .safetensors, .hfDirectory: return try HFSource(path: path)
    case .container:
        let r = try ContainerReader(path: path)
        switch r.manifest.kind {
        case .ternary: return try TernarySource(reader: r)
        case .packed: return try PackedSource(reader: r)
        default: return try ContainerSource(reader: r)
        }
    }
}
