// tllm-ternarize's pipeline (DESIGN §7): read a float model one tensor at a time, fit every block linear weight
// (DLTQuantizer; ActivationRefit with --calib), spool the output tensors to an unlinked temporary file, then
// write the ternary container (TernaryContainer.swift) whose manifest carries the per-layer report. Memory: one
// layer (its f32 weight, codes, XᵀX) plus the pool's buffers, whatever the model size; "-" in and out works.

import Foundation

public struct TernarizeOptions: Sendable {
    /// G; ≤ 0 means one group per row (G = K).
    public var groupSize = 128
    public var method: TernaryInit = .dlt
    /// A calibration container for the activation-aware refit.
    public var calib: String?
    /// Glob patterns (fnmatch) on canonical names of linear weights to leave in float; a pattern without
    /// `*?[` matches as a substring (`down_proj`, `model.layers.0.*`).
    public var skip: [String] = []
    /// Storage type of the tensors left in float (nil: as the source stores them).
    public var floatDType: DType?
    public var threads = FloatModel.defaultThreads
    public var maxIterations = TernaryFitter.defaultMaxIterations
    /// Where the spool goes (default: beside the output file; $TMPDIR for stdout).
    public var spoolDirectory: String?

    public init() {}

    /// True when `name` matches one of the --skip patterns.
    public func skips(_ name: String) -> Bool {
        skip.contains { p in
            p.contains(where: { "*?[".contains($0) }) ? fnmatch(p, name, 0) == 0 : name.contains(p)
        }
    }
}

public struct TernarizeResult: Sendable {
    public var reports: [TernaryLayerReport]
    public var skipped: [String]
    public var sourceFormat: String
    /// The manifest's metadata.ternary object.
    public var metadata: JSON
}

/// Ternarizes the model at `input` ("-" = a float container on stdin) into the ternary container `output`.
@discardableResult
public func ternarizeModel(input: String, output: String, options: TernarizeOptions, progress: Progress? = nil) throws -> TernarizeResult {
    try ternarize(source: try openTernarizeInput(input), to: output, options: options, progress: progress)
}

/// The model to fit: any float model (openModel), or a ternary container's latent weights (refitting the output
/// of tllm-ternarize or tllm-distill with other settings).
public func openTernarizeInput(_ path: String) throws -> ModelSource {
    if path != "-", try detectModelFile(path) == .container {
        let r = try ContainerReader(path: path)
        if r.manifest.kind == .ternary { return try TernarySource(reader: r, weights: .latent) }
    }
    return try openModel(path)
}

/// Ternarizes `src` into `output`; nothing is left at `output` on error.
@discardableResult
public func ternarize(source src: ModelSource, to output: String, options o: TernarizeOptions,
                      progress: Progress? = nil) throws -> TernarizeResult
{
    let calib = try o.calib.map { try CalibData(path: $0) }
    try calib?.checkMatches(src.config, model: src.path)
    if let d = o.floatDType, !d.isFloat { throw TLLMError(output, "float storage type must be f32, f16 or bf16") }
    let pool = WorkerPool(threads: max(1, o.threads))
    let quantizer = DLTQuantizer(method: o.method, groupSize: o.groupSize, maxIterations: o.maxIterations)
    let spoolDir = o.spoolDirectory ?? (output == "-" ? nil : URL(fileURLWithPath: output).deletingLastPathComponent().path)
    let spool = try TensorSpool(directory: spoolDir, for: output)
    var plan: [ManifestTensor] = [], regions: [TensorSpool.Region] = []
    var reports: [TernaryLayerReport] = [], skipped: [String] = []
    let infos = src.tensorInfos
    var index = 0
    while let t = try src.nextTensor() {
        guard index < infos.count, t.name == infos[index].name else {
            throw TLLMError(src.path, "tensor \(t.name) arrived out of order (expected \(index < infos.count ? infos[index].name : "no more"))")
        }
        index += 1
        let linear = TernaryNames.isLinear(t.name, shape: t.shape) && t.dtype.isFloat
        if linear && !o.skips(t.name) {
            let rows = t.shape[0], cols = t.shape[1]
            let w = t.floats()
            var (tw, fit) = quantizer.quantize(w, rows: rows, cols: cols, pool: pool)
            var refit: RefitResult?
            if let calib {
                guard let m = try calib.moments(forLinear: t.name) else { throw TLLMError(calib.path, "no statistics for \(t.name)") }
                guard m.cols == cols else { throw TLLMError(calib.path, "statistics for \(t.name) have \(m.cols) channels, the weight \(cols)") }
                refit = w.withUnsafeBufferPointer { ActivationRefit.refit(&tw, weights: $0.baseAddress!, moments: m, pool: pool) }
            }
            reports.append(w.withUnsafeBufferPointer {
                TernaryLayerReport(name: t.name, weight: tw, latent: $0.baseAddress!, fit: fit, refit: refit)
            })
            let out = [Tensor(name: t.name, shape: t.shape, floats: w)] + tw.tensors(name: t.name)
            plan += TernaryNames.entries(t.name, rows: rows, cols: cols, groupSize: o.groupSize)
            for x in out { regions.append(try spool.append(x)) }
        } else {
            if linear { skipped.append(t.name) }
            let x = t.dtype.isFloat ? t.converted(to: o.floatDType ?? t.dtype) : t
            plan.append(ManifestTensor(name: x.name, dtype: x.dtype, shape: x.shape))
            regions.append(try spool.append(x))
        }
        progress?.advance(by: Double(t.bytes.count))
    }
    guard index == infos.count else { throw TLLMError(src.path, "ended after \(index) of \(infos.count) tensors") }

    var meta: JSON = .object([
        ("group_size", JSON(max(0, o.groupSize))), ("init", .string(o.method.rawValue)),
        ("refit", .string(calib == nil ? "none" : "calib")), ("max_iterations", JSON(o.maxIterations)),
        ("skipped", .array(skipped.map { .string($0) })), ("report", .array(reports.map { $0.toJSON() })),
    ])
    if let c = o.calib { meta.set("calib", .string(URL(fileURLWithPath: c).lastPathComponent)) }
    var metadata = src.metadata
    if case .object = metadata {} else { metadata = .object([]) }
    metadata.set("ternary", meta)
    let manifest = Manifest(kind: .ternary, producer: "tllm-ternarize \(tllmVersion)", config: src.config.toJSON(),
                            tensors: plan, metadata: metadata)
    var files = src.files
    if !files.contains(where: { $0.name == Tokenizer.containerMember }),
       let tok = try? normalizedTokenizerJSON(fromContainerFiles: src.files, file: src.path)
    {
        files.insert((Tokenizer.containerMember, Array((tok.text() + "\n").utf8)), at: 0)
    }
    let writer = try ContainerWriter(path: output, manifest: manifest, files: files)
    for (m, r) in zip(plan, regions) {
        try writer.write(try spool.tensor(r, name: m.name, dtype: m.dtype, shape: m.shape))
    }
    try writer.finish()
    return TernarizeResult(reports: reports, skipped: skipped, sourceFormat: src.formatName, metadata: meta)
}
