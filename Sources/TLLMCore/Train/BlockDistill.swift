// Block-wise distillation (DESIGN §8, `--block i`): block i of the student alone learns to map the teacher's input
// to block i (its captured output of block i − 1, or the embedding for block 0) to the teacher's output of block i,
// by the per-token cosine (and optionally MSE). Nothing else is trained, so blocks are independent processes (make
// -j, a job array); each writes a partial ternary container holding only block i's tensors, and `--merge` puts
// the parts back into the student.

import Foundation

/// The teacher's input and output of one block for a batch of sequences: captured where the calibration container
/// has them, otherwise from a teacher forward pass.
final class BlockTargets {
    let block: Int
    let input: UnsafeMutablePointer<Float>
    let target: UnsafeMutablePointer<Float>
    let n: Int

    init(block: Int, rows: Int, width: Int) {
        self.block = block
        n = rows * width
        input = .allocate(capacity: max(1, n))
        target = .allocate(capacity: max(1, n))
    }

    deinit {
        input.deallocate()
        target.deallocate()
    }

    /// Fills input and target for the sequences `seqs`.
    func fill(_ seqs: [Int], data: DistillData, distiller d: Distiller) throws {
        let i = block
        var haveIn = i > 0 ? data.capturedHidden(i - 1, seqs, into: input) : false
        let haveOut = data.capturedHidden(i, seqs, into: target)
        let tokens = data.tokens(of: seqs)
        if i == 0 {
            let m = d.teacher ?? d.student
            tokens.withUnsafeBufferPointer { m.embed($0, into: input) }
            haveIn = true
        }
        guard !haveIn || !haveOut else { return }
        guard let teacher = d.teacher else {
            throw TLLMError(data.calib.path, "block \(i): the calibration container lacks the teacher's hidden states of block " +
                            (haveOut ? "\(i - 1)" : "\(i)") + "; capture them with tllm-calib --layers or give --teacher")
        }
        let n = self.n
        try teacher.checkTokens(tokens, file: data.calib.path)
        _ = tokens.withUnsafeBufferPointer { tk in
            // blocks after i cannot change its input or output: the forward pass stops there
            teacher.inferenceForward(tk, B: d.B, T: d.T, acts: d.acts, x: d.inputs[0], y: d.inputs[1], blocks: i + 1) { l, h in
                if l == i - 1 && !haveIn { self.input.update(from: h, count: n) }
                if l == i && !haveOut { self.target.update(from: h, count: n) }
            }
        }
    }
}

extension Distiller {
    /// Mean held-out cosine distance (and MSE) of block l's output, over `seqs` B at a time.
    func blockEvaluate(_ l: Int, _ seqs: [Int], data: DistillData, targets bt: BlockTargets) throws -> Double {
        var sum = 0.0, n = 0
        var i = 0
        while i < seqs.count {
            var group = Array(seqs[i..<min(seqs.count, i + B)])
            let real = group.count
            while group.count < B { group.append(group[0]) }
            try bt.fill(group, data: data, distiller: self)
            student.blockForward(l, bt.input, inputs[1], acts)
            let C = student.config.hiddenSize
            DistillLoss.cosine(inputs[1], bt.target, rows: real * T, C, rowLoss: rowLoss, grad: nil, gradScale: 0,
                               channelWeights: channelWeights[l].map { UnsafePointer($0) })
            for r in 0..<(real * T) { sum += rowLoss[r] }
            n += real * T
            i += B
        }
        return n > 0 ? sum / Double(n) : .nan
    }
}

/// The prefix of block i's tensors.
func blockPrefix(_ i: Int) -> String { "model.layers.\(i)." }

/// Writes the partial container of block i: only its tensors (latent, codes, α, γ, norms, biases), in the
/// student's order, with metadata distill {block, student}.
func writeBlockPart(_ s: StudentContainer, block i: Int, model: TrainModel, to path: String, meta: JSON) throws {
    let prefix = blockPrefix(i)
    var plan: [ManifestTensor] = [], out: [Tensor] = []
    for (m, t) in zip(s.manifest.tensors, s.tensors) where m.name.hasPrefix(prefix) {
        let x = model.trainedTensor(m.name, shape: m.shape) ?? t
        plan.append(ManifestTensor(name: m.name, dtype: x.dtype, shape: m.shape, extra: m.extra))
        out.append(x)
    }
    var metadata = s.manifest.metadata
    if case .object = metadata {} else { metadata = .object([]) }
    metadata.set("distill", meta)
    let manifest = Manifest(kind: .ternary, producer: "tllm-distill \(tllmVersion)", config: s.manifest.config, tensors: plan, metadata: metadata)
    let w = try ContainerWriter(path: path, manifest: manifest, files: [])
    for t in out { try w.write(t) }
    try w.finish()
}

/// What `mergeBlocks` did.
public struct MergeResult: Sendable {
    public var blocks: [Int]
    /// Blocks no part covered (kept as in the student).
    public var fromStudent: [Int]
}

/// Joins the partial containers of `tllm-distill --block` into the student: every tensor of a part replaces the
/// student's tensor of that name. `student` nil: the path recorded in the first part.
@discardableResult
public func mergeBlocks(parts: [String], student studentPath: String?, output: String) throws -> MergeResult {
    guard !parts.isEmpty else { throw TLLMError("", "--merge needs at least one part (from tllm-distill --block)") }
    var replacement: [String: Tensor] = [:]
    var blocks: [Int] = []
    var recorded: String?
    var config: JSON?
    for p in parts {
        let c = try StudentContainer(path: p)
        guard let b = c.manifest.metadata["distill"]?["block"]?.int else {
            throw TLLMError(p, "is not a block part (no metadata distill.block; write parts with tllm-distill --block)")
        }
        if blocks.contains(b) { throw TLLMError(p, "block \(b) is given twice") }
        if let cf = config, cf != c.manifest.config { throw TLLMError(p, "is a part of a different model than \(parts[0])") }
        config = c.manifest.config
        blocks.append(b)
        recorded = recorded ?? c.manifest.metadata["distill"]?["student"]?.string
        for t in c.tensors {
            guard t.name.hasPrefix(blockPrefix(b)) else { throw TLLMError(p, "block \(b) part holds \(t.name)") }
            replacement[t.name] = t
        }
    }
    guard let sp = studentPath ?? recorded else { throw TLLMError(parts[0], "no --student given and none recorded in the part") }
    let s = try StudentContainer(path: sp)
    guard s.manifest.config == config else { throw TLLMError(sp, "is not the model the parts were trained from (config differs)") }
    let names = Set(s.manifest.tensors.map(\.name))
    if let stray = replacement.keys.sorted().first(where: { !names.contains($0) }) {
        throw TLLMError(sp, "has no tensor \(stray) (named in a part)")
    }
    let missing = (0..<s.config.numLayers).filter { !blocks.contains($0) }
    let meta: JSON = .object([("merged_blocks", .array(blocks.sorted().map { JSON($0) })),
                              ("parts", .array(parts.map { .string(URL(fileURLWithPath: $0).lastPathComponent) }))])
    try writeStudentContainer(s, to: output, producer: "tllm-distill \(tllmVersion)", extra: [("distill", meta)]) { n, _ in
        replacement[n]
    }
    return MergeResult(blocks: blocks.sorted(), fromStudent: missing)
}
