// tllm-calib's pipeline (DESIGN §9): read and tokenize the text (CalibText), choose the sequences
// (CalibSequences, plus --generate), run the float model over each one (CaptureForward), accumulating the
// statistics of the train sequences (CalibStatistics) and spooling the chosen blocks' hidden states as f16;
// then write the calib container (CalibFormat.swift). Memory: one sequence's activations + the accumulators.

import Foundation

/// Which blocks' hidden states are stored (`--layers all|none|0,3,5`).
public enum LayerSelection: Equatable, Sendable {
    case all, none
    case list([Int])

    public init(parsing s: String) throws {
        switch s {
        case "all": self = .all
        case "none": self = .none
        default:
            var ls: [Int] = []
            for p in s.split(separator: ",", omittingEmptySubsequences: false) {
                guard let v = Int(p.trimmingCharacters(in: .whitespaces)), v >= 0 else {
                    throw TLLMError("", "--layers: \"\(p)\" is not a block index (use all, none or a list like 0,3,5)")
                }
                ls.append(v)
            }
            self = .list(Array(Set(ls)).sorted())
        }
    }

    public func layers(_ n: Int) throws -> [Int] {
        switch self {
        case .all: return Array(0..<n)
        case .none: return []
        case let .list(ls):
            if let bad = ls.first(where: { $0 >= n }) { throw TLLMError("", "--layers: block \(bad) does not exist (the model has \(n) blocks: 0…\(n - 1))") }
            return ls
        }
    }
}

public struct CalibOptions: Sendable {
    public var model: String
    /// Text files ("-" = stdin); may be empty with `generate` > 0.
    public var inputs: [String]
    public var output: String
    /// Sequences taken from the text (nil: every disjoint window).
    public var samples: Int?
    public var seqLen = 256
    public var seed: UInt64 = 0
    public var holdout = 0.1
    public var layers: LayerSelection = .all
    public var field: String?
    public var generate = 0
    public var generation = GenerationSettings()
    /// Largest K whose full XᵀX is stored; wider inputs get Σx² and max|x| only.
    public var xtxMax = 4096
    public var threads = FloatModel.defaultThreads
    public var quiet = false

    public init(model: String, inputs: [String], output: String) {
        self.model = model
        self.inputs = inputs
        self.output = output
    }
}

/// Runs tllm-calib; returns what the stderr summary reports.
public func runCalibration(_ o: CalibOptions) throws -> CalibSummary {
    guard !o.inputs.isEmpty || o.generate > 0 else { throw TLLMError("", "no calibration text: give TEXT files (or -) or --generate N") }
    guard o.holdout >= 0, o.holdout < 1 else { throw TLLMError("", "--holdout \(o.holdout) must be in [0, 1)") }
    if let s = o.samples, s < 1 { throw TLLMError("", "--samples \(s) must be at least 1") }
    guard o.xtxMax >= 0 else { throw TLLMError("", "--xtx-max must be non-negative") }
    let src = try openModel(o.model)
    let tokenizer = try Tokenizer.load(containerFiles: src.files, file: o.model)
    let cfg = src.config
    guard o.seqLen <= cfg.maxPositions else {
        throw TLLMError(o.model, "--seq-len \(o.seqLen) exceeds the model's \(cfg.maxPositions) positions")
    }
    guard let bos = cfg.bosTokenId.map(Int32.init) ?? tokenizer.bosId else { throw TLLMError(o.model, "the model has no BOS token") }
    let hiddenLayers = try o.layers.layers(cfg.numLayers)

    var seqs = CalibSequences(seqLen: o.seqLen)
    if !o.inputs.isEmpty {
        let docs = try CalibText.readAll(o.inputs, field: o.field)
        let names = o.inputs.joined(separator: ", ")
        guard docs.contains(where: { $0.text.contains { !$0.isWhitespace } }) else { throw TLLMError(names, "no text (the input is empty)") }
        let stream = CalibSequences.tokenStream(docs, tokenizer: tokenizer)
        seqs = try CalibSequences.fromText(stream, seqLen: o.seqLen, samples: o.samples, holdout: o.holdout, seed: o.seed,
                                           bos: bos, source: names)
    }
    let model = try FloatModel(source: src, threads: o.threads)
    if o.generate > 0 {
        let p = Progress("generating", total: Double(o.generate), unit: "seq", quiet: o.quiet)
        try seqs.appendGenerated(o.generate, model: model, settings: o.generation, seed: o.seed, holdout: o.holdout, bos: bos) {
            p.update(Double($0))
        }
        p.finish()
    }

    let meta: JSON = .object([
        ("holdout_fraction", .double(o.holdout)), ("generated", JSON(o.generate)), ("seed", JSON(Int(truncatingIfNeeded: o.seed))),
        ("sources", .array(o.inputs.map { .string($0) })), ("field", o.field.map { .string($0) } ?? .null),
        ("generation", o.generate > 0 ? o.generation.toJSON() : .null), ("model", .string(o.model)),
    ])
    return try writeCalibration(model: model, sequences: seqs, to: o.output, hiddenLayers: hiddenLayers, xtxMax: o.xtxMax,
                                metadata: meta, quiet: o.quiet)
}

/// Runs `model` over every sequence, accumulating the statistics of the train ones, and writes the calib
/// container `output` (CalibFormat.swift); the entries of `extra` are appended to metadata.calib.
public func writeCalibration(model: FloatModel, sequences seqs: CalibSequences, to output: String, hiddenLayers: [Int],
                             xtxMax: Int, metadata extra: JSON = .object([]), quiet: Bool = true) throws -> CalibSummary
{
    let cfg = model.config
    guard seqs.count > 0 else { throw TLLMError(output, "no calibration sequences") }
    if let bad = hiddenLayers.first(where: { $0 < 0 || $0 >= cfg.numLayers }) { throw TLLMError(output, "no block \(bad) to store") }
    let N = seqs.count, L = seqs.seqLen, C = cfg.hiddenSize
    let spoolDir = output == "-" ? nil : URL(fileURLWithPath: output).deletingLastPathComponent().path
    let spool = try TensorSpool(directory: spoolDir, for: output)
    var regions: [Int: TensorSpool.Region] = [:]
    for l in hiddenLayers { regions[l] = spool.reserve(N * L * C * 2) }
    let stats = CalibStatistics(config: cfg, xtxMax: xtxMax, pool: WorkerPool(threads: model.threads))
    let half = UnsafeMutablePointer<UInt16>.allocate(capacity: L * C)
    defer { half.deallocate() }
    let progress = Progress("capturing", total: Double(N * L), unit: "tok", quiet: quiet)
    var spoolError: Error?
    for i in 0..<N {
        let train = seqs.split[i] == 0
        try model.forwardCapturing(tokens: Array(seqs.sequence(i)), linearInput: { l, s, x in
            if train { stats.add(layer: l, site: s, x) }
        }, blockOutput: { l, h in
            if train { stats.addBlock(layer: l, h) }
            guard let r = regions[l], spoolError == nil else { return }
            convertF32ToF16(h.baseAddress!, half, L * C)
            do { try spool.write(UnsafeRawBufferPointer(start: half, count: L * C * 2), into: r, at: i * L * C * 2) } catch { spoolError = error }
        })
        if let e = spoolError { throw e }
        progress.advance(by: Double(L))
    }
    progress.finish()

    let meta: JSON = .object([
        ("seq_len", JSON(L)), ("samples", JSON(N)), ("train", JSON(seqs.trainCount)), ("holdout", JSON(N - seqs.trainCount)),
        ("tokens_train", JSON(stats.tokens)), ("hidden_layers", .array(hiddenLayers.map { JSON($0) })), ("xtx_max", JSON(xtxMax)),
    ] + (extra.object ?? []))
    let manifest = Manifest(kind: .calib, producer: "tllm-calib \(tllmVersion)", config: cfg.toJSON(),
                            tensors: CalibNames.manifestTensors(config: cfg, samples: N, seqLen: L, hiddenLayers: hiddenLayers,
                                                                xtxMax: xtxMax),
                            metadata: .object([("calib", meta)]))
    let w = try ContainerWriter(path: output, manifest: manifest)
    try w.write(seqs.tokens.withUnsafeBytes { Tensor(name: CalibNames.tokens, dtype: .i32, shape: [N, L], storage: TensorStorage(copying: $0)) })
    try w.write(seqs.split.withUnsafeBytes { Tensor(name: CalibNames.split, dtype: .u8, shape: [N], storage: TensorStorage(copying: $0)) })
    try w.write(seqs.origin.withUnsafeBytes { Tensor(name: CalibNames.origin, dtype: .u8, shape: [N], storage: TensorStorage(copying: $0)) })
    for l in hiddenLayers { try w.write(try spool.tensor(regions[l]!, name: CalibNames.hidden(l), dtype: .f16, shape: [N, L, C])) }
    for t in stats.tensors() { try w.write(t) }
    try w.finish()

    var bytes = manifest.tensors.reduce(0) { $0 + $1.byteCount }
    if output != "-", let a = try? FileManager.default.attributesOfItem(atPath: output), let s = a[.size] as? NSNumber { bytes = s.intValue }
    return CalibSummary(sequences: N, train: seqs.trainCount, generated: seqs.origin.reduce(0) { $0 + Int($1) }, seqLen: L,
                        tokensTrain: stats.tokens, bytesWritten: bytes, output: output, outliers: CalibSummary.outliers(stats))
}
