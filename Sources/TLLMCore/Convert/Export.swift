// The conversions of tllm-convert: any model source → tllm container, safetensors (file or HF directory) or
// GGUF. One tensor at a time from source to output (DESIGN §1); outputs are written through AtomicOutput or the
// container writer, so they appear only when complete.

import Foundation

public enum OutputFormat: Equatable {
    case container, safetensorsFile, hfDirectory, gguf

    /// By the output name: `.safetensors`, `.gguf`, a directory (existing, or a name ending in "/"), else a container.
    public init(path: String) {
        var isDir: ObjCBool = false
        if path.hasSuffix("/") || (FileManager.default.fileExists(atPath: path, isDirectory: &isDir) && isDir.boolValue) {
            self = .hfDirectory
        } else if path.hasSuffix(".safetensors") {
            self = .safetensorsFile
        } else if path.hasSuffix(".gguf") {
            self = .gguf
        } else {
            self = .container
        }
    }
}

/// Converts `input` to `output` (format by the output's name); returns a one-line summary.
public func convertModel(input: String, output: String, dtype: DType?, quiet: Bool = false) throws -> String {
    let src = try openModel(input)
    let format = OutputFormat(path: output)
    let total = Double(src.tensorInfos.reduce(0) { $0 + (byteCount($1.shape, $1.dtype) ?? 0) })
    let progress = Progress("converting", total: total, unit: "B", quiet: quiet)
    switch format {
    case .container: try writeContainer(src, to: output, dtype: dtype, progress: progress)
    case .safetensorsFile: try writeSafetensors(src, to: output, dtype: dtype ?? .f32, progress: progress)
    case .hfDirectory: try writeHFDirectory(src, to: output, dtype: dtype ?? .f32, progress: progress)
    case .gguf: try writeGGUF(src, to: output, dtype: dtype ?? .f32, progress: progress)
    }
    progress.finish()
    let params = src.tensorInfos.reduce(0) { $0 + (elementCount($1.shape) ?? 0) }
    return "\(input) (\(src.formatName), \(src.config.architecture), \(params) parameters) → \(output)"
}

/// The float container of a source (stored dtypes kept unless `dtype` is given).
public func writeContainer(_ src: ModelSource, to path: String, dtype: DType?, progress: Progress? = nil) throws {
    let target = { (d: DType) in dtype ?? d }
    var metadata = src.metadata
    if case .object = metadata {} else { metadata = .object([]) }
    let manifest = Manifest(kind: .float, producer: "tllm-convert \(tllmVersion)", config: src.config.toJSON(),
                            tensors: src.tensorInfos.map { ManifestTensor(name: $0.name, dtype: target($0.dtype), shape: $0.shape) },
                            metadata: metadata)
    // Our normalized tokenizer first (tokenizer.json, DESIGN §5), when the carried files describe one we support;
    // otherwise the tools that need a tokenizer report what is unsupported from the carried source files.
    var files = src.files
    if !files.contains(where: { $0.name == Tokenizer.containerMember }),
       let tok = try? normalizedTokenizerJSON(fromContainerFiles: src.files, file: src.path)
    {
        files.insert((Tokenizer.containerMember, Array((tok.text() + "\n").utf8)), at: 0)
    }
    let w = try ContainerWriter(path: path, manifest: manifest, files: files)
    while let t = try src.nextTensor() {
        try w.write(t.converted(to: target(t.dtype)))
        progress?.advance(by: Double(t.bytes.count))
    }
    try w.finish()
}

/// One safetensors file with canonical names, every tensor as `dtype`.
public func writeSafetensors(_ src: ModelSource, to path: String, dtype: DType, progress: Progress? = nil) throws {
    let out = try AtomicOutput(path: path)
    let infos = src.tensorInfos.map { TensorInfo(name: $0.name, dtype: dtype, shape: $0.shape) }
    let w = try SafetensorsWriter(output: out, tensors: infos, metadata: [("format", "pt")])
    while let t = try src.nextTensor() {
        try w.write(t.converted(to: dtype))
        progress?.advance(by: Double(t.bytes.count))
    }
    try w.finish()
    try out.commit()
}

/// A Hugging Face directory: model.safetensors, config.json, and the tokenizer files the source carried.
public func writeHFDirectory(_ src: ModelSource, to dir: String, dtype: DType, progress: Progress? = nil) throws {
    do {
        try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    } catch {
        throw TLLMError(dir, "cannot create directory: \(error.localizedDescription)")
    }
    func inDir(_ n: String) -> String { URL(fileURLWithPath: dir).appendingPathComponent(n).path }
    try writeSafetensors(src, to: inDir("model.safetensors"), dtype: dtype, progress: progress)
    let config = try AtomicOutput(path: inDir("config.json"))
    try config.write(Array((src.config.hfConfigJSON().text() + "\n").utf8))
    try config.commit()
    for (name, bytes) in src.files where name.hasPrefix("source/") {
        let base = String(name.dropFirst("source/".count))
        guard HFSource.carriedFiles.contains(base), base != "config.json" else { continue }
        let o = try AtomicOutput(path: inDir(base))
        try o.write(bytes)
        try o.commit()
    }
}
