// tllm-distill's resumable state (DESIGN §8): a container of kind "checkpoint" written atomically (temporary file +
// rename, so a kill at any moment leaves the previous checkpoint intact). Tensors: param/<name> for every
// parameter (f32), adam.m/<name> and adam.v/<name> for the trained ones. Metadata "checkpoint": the step reached,
// the optimizer's update count, the data position (epoch, offset: derived from seed and step, recorded to be
// checked), the settings fingerprint a resume must match, and the loss/eval history (for the log and the plot).

import Foundation

/// One step's record (the JSON Lines log and the plot).
public struct StepRecord: Equatable, Sendable {
    public var step: Int
    public var lr: Double
    public var lrQParams: Double
    public var losses: StepLosses
    public var gradNorm: Double
    /// The block trained alone at this step (the block-wise warm start), nil for an end-to-end step.
    public var block: Int?

    public func toJSON() -> JSON {
        var o: [(String, JSON)] = [("step", JSON(step))]
        if let b = block { o.append(("block", JSON(b))) }
        o += [("lr", .double(lr)), ("lr_qparams", .double(lrQParams)), ("loss", .double(losses.total)),
              ("feature", .double(losses.feature)), ("kd", .double(losses.kd)), ("ce", .double(losses.ce)),
              ("mse", .double(losses.mse)), ("grad_norm", .double(gradNorm))]
        return .object(o)
    }

    public init(step: Int, lr: Double, lrQParams: Double, losses: StepLosses, gradNorm: Double, block: Int? = nil) {
        self.step = step
        self.lr = lr
        self.lrQParams = lrQParams
        self.losses = losses
        self.gradNorm = gradNorm
        self.block = block
    }

    public init?(json j: JSON) {
        guard let s = j["step"]?.int, let lr = j["lr"]?.double, let lq = j["lr_qparams"]?.double, let g = j["grad_norm"]?.double else { return nil }
        var l = StepLosses()
        l.total = j["loss"]?.double ?? 0; l.feature = j["feature"]?.double ?? 0; l.kd = j["kd"]?.double ?? 0
        l.ce = j["ce"]?.double ?? 0; l.mse = j["mse"]?.double ?? 0
        self.init(step: s, lr: lr, lrQParams: lq, losses: l, gradNorm: g, block: j["block"]?.int)
    }
}

/// A held-out evaluation after `step` steps: the student's perplexity, or in block-wise mode the block output's
/// mean cosine distance to the teacher's (`metric` names which).
public struct EvalRecord: Equatable, Sendable {
    public var step: Int
    public var perplexity: Double
    public var metric = "heldout_ppl"
    public init(step: Int, perplexity: Double, metric: String = "heldout_ppl") {
        self.step = step
        self.perplexity = perplexity
        self.metric = metric
    }
    public func toJSON() -> JSON { .object([("step", JSON(step)), (metric, .double(perplexity))]) }
    public init?(json e: JSON) {
        guard let s = e["step"]?.int else { return nil }
        for k in ["heldout_ppl", "heldout_cos_distance"] {
            if let v = e[k]?.double { self.init(step: s, perplexity: v, metric: k); return }
        }
        return nil
    }
}

public struct DistillCheckpoint {
    /// Steps completed.
    public var step: Int
    public var adamSteps: Int
    public var epoch: Int
    public var offset: Int
    /// The settings that must be equal for an exact resume.
    public var fingerprint: JSON
    public var history: [StepRecord]
    public var evals: [EvalRecord]

    static func paramName(_ n: String) -> String { "param/" + n }
    static func mName(_ n: String) -> String { "adam.m/" + n }
    static func vName(_ n: String) -> String { "adam.v/" + n }

    /// Writes the checkpoint of `params` and `opt` atomically to `path`.
    public func write(to path: String, params p: ParamStore, optimizer opt: AdamW, config: ModelConfig) throws {
        var plan: [ManifestTensor] = [], data: [Tensor] = []
        func add(_ name: String, _ t: ParamTensor, _ start: UnsafeMutablePointer<Float>) {
            plan.append(ManifestTensor(name: name, dtype: .f32, shape: t.shape))
            data.append(Tensor(name: name, shape: t.shape, floats: Array(UnsafeBufferPointer(start: start, count: t.count))))
        }
        for t in p.tensors { add(DistillCheckpoint.paramName(t.name), t, p.values + t.offset) }
        for (i, t) in p.tensors.enumerated() {
            guard let (m, v) = opt.moments(i) else { continue }
            add(DistillCheckpoint.mName(t.name), t, m)
            add(DistillCheckpoint.vName(t.name), t, v)
        }
        let meta: JSON = .object([("checkpoint", .object([
            ("step", JSON(step)), ("adam_steps", JSON(adamSteps)), ("epoch", JSON(epoch)), ("offset", JSON(offset)),
            ("settings", fingerprint), ("history", .array(history.map { $0.toJSON() })),
            ("evals", .array(evals.map { $0.toJSON() })),
        ]))])
        let manifest = Manifest(kind: .checkpoint, producer: "tllm-distill \(tllmVersion)", config: config.toJSON(), tensors: plan,
                                metadata: meta)
        let w = try ContainerWriter(path: path, manifest: manifest)
        for t in data { try w.write(t) }
        try w.finish()
    }

    /// The step a checkpoint reached (to set up the phase it was written in before loading it).
    public static func step(of path: String) throws -> Int {
        let c = try openContainer(path)
        guard c.manifest.kind == .checkpoint, let s = c.manifest.metadata["checkpoint"]?["step"]?.int else {
            throw TLLMError(path, "is not a checkpoint written by tllm-distill (no checkpoint.step)")
        }
        return s
    }

    /// Reads a checkpoint and loads its parameters and optimizer moments into `params` / `opt`, after checking
    /// that it was written for the same model and settings.
    public static func load(_ path: String, into p: ParamStore, optimizer opt: AdamW, fingerprint: JSON) throws -> DistillCheckpoint {
        let c = try openContainer(path)
        guard c.manifest.kind == .checkpoint else {
            throw TLLMError(path, "is a \(c.manifest.kind.rawValue) container; --resume needs a checkpoint written by tllm-distill")
        }
        guard let m = c.manifest.metadata["checkpoint"], let step = m["step"]?.int, let t = m["adam_steps"]?.int,
              let epoch = m["epoch"]?.int, let offset = m["offset"]?.int, let settings = m["settings"]
        else { throw TLLMError(path, "checkpoint metadata is incomplete") }
        if settings != fingerprint {
            let a = settings.object ?? [], b = fingerprint.object ?? []
            let diff = b.first { kv in !a.contains { $0.0 == kv.0 && $0.1 == kv.1 } }
            let what = diff.map { d in "\(d.0) is \(d.1.text(pretty: false)) now, \(a.first { $0.0 == d.0 }?.1.text(pretty: false) ?? "absent") in the checkpoint" }
            throw TLLMError(path, "was written with other settings (\(what ?? "they differ")); resume with the same options")
        }
        func load(_ name: String, _ t: ParamTensor, _ start: UnsafeMutablePointer<Float>) throws {
            guard let x = c.tensor(named: name) else { throw TLLMError(path, "checkpoint lacks \(name)") }
            guard x.dtype == .f32, x.shape == t.shape else { throw TLLMError(path, "\(name) is \(x.dtype.rawValue) \(x.shape), expected f32 \(t.shape)") }
            x.bytes.withMemoryRebound(to: Float.self) { start.update(from: $0.baseAddress!, count: t.count) }
        }
        for t in p.tensors { try load(paramName(t.name), t, p.values + t.offset) }
        for (i, t) in p.tensors.enumerated() {
            guard let (m, v) = opt.moments(i) else { continue }
            try load(mName(t.name), t, m)
            try load(vName(t.name), t, v)
        }
        opt.t = t
        let history = (m["history"]?.array ?? []).compactMap { StepRecord(json: $0) }
        let evals = (m["evals"]?.array ?? []).compactMap { EvalRecord(json: $0) }
        return DistillCheckpoint(step: step, adamSteps: t, epoch: epoch, offset: offset, fingerprint: settings, history: history, evals: evals)
    }
}
