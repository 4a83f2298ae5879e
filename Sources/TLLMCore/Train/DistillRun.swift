// tllm-distill's end-to-end run (DESIGN §8): load the calibration data, the ternary student and the float teacher;
// evaluate the student on the held-out split; warm-start block by block (each block alone learns the teacher's
// mapping of that block for --blockwise-steps, with its own AdamW and schedule); train end to end for --steps
// (Distiller.step + AdamW, the quantizer refreshed after every update) with progress on stderr, a JSON Lines log, checkpoints every N steps and on SIGINT/SIGTERM;
// evaluate again; write the distilled ternary container and the loss plot. Everything is a function of the inputs,
// the options and the seed: a resumed run ends with the same bytes as an uninterrupted one (same --threads).

import Foundation

public struct DistillOptions: Sendable {
    public var teacher: String?
    public var student: String
    public var calib: String
    public var output: String
    public var steps = 16000
    public var batch = 4
    /// Block-wise warm start: steps of each block alone (Distiller.blockStep) before the end-to-end steps; 0: none,
    /// nil: a quarter of `steps` (the warm start then costs about a quarter of the end-to-end time whatever the number
    /// of blocks: a block's step is about 1/L of an end-to-end step). Only with a feature or mse loss weight, and not
    /// with `block`.
    public var blockwiseSteps: Int?

    /// The warm start's steps per block.
    public var warmStartSteps: Int { blockwiseSteps ?? steps / 4 }
    public var optimizer = OptimizerSettings()
    public var loss = LossWeights()
    /// Where the feature cosine compares block outputs (FeatureSpace).
    public var featureSpace = FeatureSpace.normed
    public var layers: LayerSelection = .all
    public var seed: UInt64 = 0
    public var threads = FloatModel.defaultThreads
    public var steClip: Float = 1.5
    /// Decay of the latent weights toward the grid in the end-to-end steps: step s of S moves every latent weight the
    /// fraction gridDecay·(s + 1)/S of the way to its dequantized value (FakeQuantizer.decayTowardGrid); 0: off.
    public var gridDecay = DistillOptions.defaultGridDecay
    public static let defaultGridDecay: Float = 0.01
    public var trainable = TrainableSet()
    /// Shift γ fixed at 0 (the ablation of the paper's second claim).
    public var zeroShift = false
    public var log: String?
    public var plot: String?
    /// Checkpoint path (default: output + ".ckpt") and period in steps (0: only on a signal).
    public var checkpoint: String?
    public var checkpointEvery = 0
    public var resume: String?
    /// Held-out evaluation every N steps (0: at the start and the end only).
    public var evalEvery = 0
    /// A calibration container whose sequences (all of them, either split) replace the held-out split in every
    /// evaluation: a validation text that shares no document with the training text.
    public var validation: String?
    public var quiet = false
    /// Stop (with a checkpoint, like a signal) after this many steps of this invocation — for tests of resume.
    public var stopAfter: Int?
    /// Block-wise mode: train this block alone and write a partial container.
    public var block: Int?

    public init(student: String, calib: String, output: String) {
        self.student = student
        self.calib = calib
        self.output = output
    }

    public var checkpointPath: String { checkpoint ?? (output == "-" ? "tllm-distill.ckpt" : output + ".ckpt") }

    /// What must not change between a run and its resumption.
    public var fingerprint: JSON {
        let o = optimizer
        func f(_ x: Float) -> JSON { .string("\(x)") }
        return .object([
            ("steps", JSON(steps)), ("batch", JSON(batch)), ("seed", .string("\(seed)")), ("lr", f(o.lr)), ("lr_qparams", f(o.lrQParams)),
            ("lr_norm", f(o.lrNorm)), ("weight_decay", f(o.weightDecay)), ("beta1", f(o.beta1)), ("beta2", f(o.beta2)),
            ("clip", f(o.clip)), ("warmup", JSON(o.warmup)), ("schedule", .string(o.schedule.rawValue)), ("min_lr_ratio", f(o.minRatio)),
            ("loss", .string(loss.description)), ("feature_space", .string(featureSpace.rawValue)), ("temperature", f(loss.temperature)), ("layers", .string("\(layers)")),
            ("ste_clip", f(steClip)), ("grid_decay", f(gridDecay)), ("trainable", .string("\(trainable)")), ("zero_shift", .bool(zeroShift)),
            ("block", block.map { JSON($0) } ?? .null), ("blockwise_steps", JSON(warmStartSteps)),
        ])
    }
}

public struct DistillResult: Sendable {
    public var teacherPerplexity: Double?
    public var startPerplexity: Double
    public var endPerplexity: Double
    public var history: [StepRecord]
    public var evals: [EvalRecord]
    public var seconds: Double
    public var tokensPerSecond: Double
    /// Achieved training GFLOP/s (Distiller.flopsPerStep over the steps' wall time).
    public var gflops: Double
    public var peakRSS: Int
    /// False when the run stopped early on a signal or --stop-after (a checkpoint was written, no output).
    public var completed: Bool
    public var heldOutSequences: Int
    /// Steps of each block in the block-wise warm start (0: none) and the steps it took in all (before the
    /// end-to-end ones).
    public var blockwiseSteps = 0
    public var warmStartSteps = 0

    public func toJSON() -> JSON {
        var o: [(String, JSON)] = [
            ("completed", .bool(completed)), ("steps", JSON(max(0, (history.last.map { $0.step + 1 } ?? 0) - warmStartSteps))),
            ("blockwise_steps", JSON(blockwiseSteps)),
            ("heldout_sequences", JSON(heldOutSequences)), ("start_ppl", .double(startPerplexity)), ("end_ppl", .double(endPerplexity)),
            ("seconds", .double(seconds)), ("tokens_per_s", .double(tokensPerSecond)), ("gflops_per_s", .double(gflops)), ("peak_rss_bytes", JSON(peakRSS)),
            ("evals", .array(evals.map { $0.toJSON() })),
        ]
        if let t = teacherPerplexity { o.insert(("teacher_ppl", .double(t)), at: 3) }
        if let l = history.last { o.append(("final_losses", l.toJSON())) }
        return .object(o)
    }
}

/// Set by SIGINT/SIGTERM during a run: the loop checkpoints after the current step and stops.
nonisolated(unsafe) var distillStopSignal: Int32 = 0

/// Exit status after a run stopped early: 128 + the signal (130 for SIGINT), 0 for --stop-after.
public func distillStopSignalStatus() -> Int32 { distillStopSignal != 0 ? 128 + distillStopSignal : 0 }

/// Replaces the tools' default SIGINT/SIGTERM handling (delete temporaries, exit) with "checkpoint, then exit":
/// the signal is noted and the training loop acts on it between steps.
public func installDistillSignalHandlers() {
    unblockSignals([SIGINT, SIGTERM])
    for s in [SIGINT, SIGTERM] {
        signal(s) { sig in distillStopSignal = sig }
    }
}

/// Runs a whole distillation. Throws on bad input; returns with `completed == false` after a signal.
public func runDistill(_ o: DistillOptions) throws -> DistillResult {
    let t0 = Date()
    let calib = try CalibData(path: o.calib)
    let data = try DistillData(calib: calib, seed: o.seed)
    let student = try StudentContainer(path: o.student)
    try calib.checkMatches(student.config, model: o.student)
    guard o.batch >= 1, o.steps >= 1 else { throw TLLMError("", "--steps and --batch must be at least 1") }
    var featureLayers = try o.layers.layers(student.config.numLayers)
    var weights = o.loss
    if let i = o.block {
        guard i >= 0, i < student.config.numLayers else {
            throw TLLMError(o.student, "--block \(i): the model has blocks 0…\(student.config.numLayers - 1)")
        }
        featureLayers = [i]
        weights.kd = 0
        weights.ce = 0
        if weights.feature == 0 && weights.mse == 0 { throw TLLMError("", "--block needs a feature or mse loss weight above 0") }
    }
    var trainable = o.trainable
    if o.zeroShift { trainable.gamma = false }
    guard o.warmStartSteps >= 0 else { throw TLLMError("", "--blockwise-steps must be at least 0") }
    let inputs = student.trainInputs(zeroShift: o.zeroShift)
    let model = try TrainModel(config: student.config, tensors: inputs.tensors, ternary: inputs.ternary, trainable: trainable,
                               steClip: o.steClip, threads: o.threads, file: o.student)
    var teacher: TrainModel?
    if let tp = o.teacher {
        let (tc, tt) = try readFloatModel(tp)
        try calib.checkMatches(tc, model: tp)
        teacher = try TrainModel(config: tc, tensors: tt.map { $0.converted(to: .f32) }, trainable: .frozen, threads: o.threads,
                                 pool: model.pool, file: tp)
    }
    let distiller = try Distiller(student: model, teacher: teacher, B: o.batch, T: data.seqLen, weights: weights, featureLayers: featureLayers,
                                  channelWeights: o.featureSpace.channelWeights(model, blocks: featureLayers))
    let say: (String) -> Void = { if !o.quiet { printError("tllm-distill: " + $0) } }

    // The run's steps, numbered globally: with a block-wise warm start, blocks 0…L−1 alone for `warm` steps each,
    // then the end-to-end steps. Each phase has its own AdamW (moments of what it trains) and its own schedule, and
    // reads the train split from its first batch on. With --block, one phase: that block.
    let L = student.config.numLayers
    let blockLoss = weights.feature > 0 || weights.mse > 0
    let warm = o.block == nil && blockLoss ? o.warmStartSteps : 0
    if o.block == nil && o.warmStartSteps > 0 && !blockLoss { say("no block-wise warm start: the feature and mse loss weights are 0") }
    let warmTotal = warm * L, total = warmTotal + o.steps
    func phase(_ g: Int) -> (block: Int?, step: Int, length: Int) {
        if let i = o.block { return (i, g, o.steps) }
        return g < warmTotal ? (g / warm, g % warm, warm) : (nil, g - warmTotal, o.steps)
    }
    let baseTrainable = model.params.trainableFlags
    var opt = AdamW(settings: o.optimizer, params: model.params)
    var blockIO: BlockTargets?
    var current: Int?
    func enter(_ b: Int?) {
        model.params.trainableFlags = baseTrainable
        if let b { model.params.freeze { !$0.name.hasPrefix(blockPrefix(b)) } }
        opt = AdamW(settings: o.optimizer, params: model.params)
        blockIO = b.map { BlockTargets(block: $0, rows: o.batch * data.seqLen, width: model.config.hiddenSize) }
        current = b
    }

    var startStep = 0, history: [StepRecord] = [], evals: [EvalRecord] = []
    if let r = o.resume {
        startStep = try DistillCheckpoint.step(of: r)
        guard startStep >= 0 && startStep < total else { throw TLLMError(r, "checkpoint step \(startStep) is outside this run's \(total) steps") }
    }
    enter(phase(startStep).block)
    if let r = o.resume {
        let ck = try DistillCheckpoint.load(r, into: model.params, optimizer: opt, fingerprint: o.fingerprint)
        let pos = data.batch(step: phase(ck.step).step, size: o.batch)
        guard pos.epoch == ck.epoch, pos.offset == ck.offset else {
            throw TLLMError(r, "data position (epoch \(ck.epoch), offset \(ck.offset)) does not match this calibration container")
        }
        model.refreshWeights()
        history = ck.history
        evals = ck.evals
        say("resuming at step \(startStep) of \(total) from \(r)")
    }
    var heldOut = data.heldOutSequences
    if let v = o.validation {
        let vc = try CalibData(path: v)
        try vc.checkMatches(student.config, model: o.student)
        let vt = vc.tokens(), L = vc.seqLen
        heldOut = (0..<vc.samples).map { Array(vt[($0 * L)..<(($0 + 1) * L)]) }
        guard o.block == nil else { throw TLLMError(v, "--validation is for end-to-end runs (--block evaluates on the held-out split)") }
    }
    let metric = o.block == nil ? "heldout_ppl" : "heldout_cos_distance"
    func evaluate() throws -> Double {
        if heldOut.isEmpty { return .nan }
        if o.block != nil, let bt = blockIO { return try distiller.blockEvaluate(bt.block, data.heldOut, data: data, targets: bt) }
        return try distiller.perplexity(heldOut).ppl
    }
    var teacherPPL: Double?
    if let teacher, !heldOut.isEmpty, o.block == nil {
        let td = try Distiller(student: teacher, teacher: nil, B: o.batch, T: data.seqLen, weights: LossWeights(), featureLayers: [])
        teacherPPL = try td.perplexity(heldOut).ppl
    }
    if evals.isEmpty { evals.append(EvalRecord(step: 0, perplexity: try evaluate(), metric: metric)) }
    let startPPL = evals[0].perplexity
    let what = o.block.map { "block \($0) output, held-out 1 − cos" } ?? (o.validation == nil ? "held-out ppl" : "validation ppl")
    say(String(format: "%d train / %d \(o.validation == nil ? "held-out" : "validation") sequences of %d tokens; %d parameters trained; %@: student %.4g", data.train.count,
               heldOut.count, data.seqLen, model.params.trainableCount, what, startPPL)
        + (teacherPPL.map { String(format: ", teacher %.3f", $0) } ?? "")
        + (data.capturedLayers.isEmpty ? "" : "; feature targets of blocks \(data.capturedLayers) from the calibration container"))
    if warm > 0 { say("block-wise warm start: each of the \(L) blocks alone for \(warm) steps, then \(o.steps) end-to-end steps") }

    let log = try o.log.map { try StepLog(path: $0, history: history, evals: evals) }
    let progress = Progress("distill", total: Double(total - startStep), unit: "steps", quiet: o.quiet)
    distillStopSignal = 0
    var step = startStep, ran = 0
    // end-to-end steps and their time (the throughput reported; block steps are cheaper)
    var e2eRan = 0, e2eSeconds = 0.0
    let loopStart = Date()
    func checkpoint() throws {
        let pos = data.batch(step: phase(step).step, size: o.batch)
        try DistillCheckpoint(step: step, adamSteps: opt.t, epoch: pos.epoch, offset: pos.offset, fingerprint: o.fingerprint,
                              history: history, evals: evals)
            .write(to: o.checkpointPath, params: model.params, optimizer: opt, config: model.config)
    }
    while step < total {
        let ph = phase(step), t1 = Date()
        let b = data.batch(step: ph.step, size: o.batch)
        let losses: StepLosses
        if let i = ph.block, let bt = blockIO {
            try bt.fill(b.sequences, data: data, distiller: distiller)
            losses = distiller.blockStep(i, input: bt.input, target: bt.target)
        } else {
            losses = try distiller.step(tokens: data.tokens(of: b.sequences)) { l, out in data.capturedHidden(l, b.sequences, into: out) }
        }
        let factor = o.optimizer.factor(step: ph.step, total: ph.length)
        let norm = opt.step(model.params, factor: factor, pool: model.pool)
        if ph.block == nil { model.decayTowardGrid(o.gridDecay * Float(ph.step + 1) / Float(ph.length)) }
        model.refreshWeights(layer: ph.block)
        if ph.block == nil { e2eRan += 1; e2eSeconds += Date().timeIntervalSince(t1) }
        let rec = StepRecord(step: step, lr: Double(o.optimizer.lr * factor), lrQParams: Double(o.optimizer.lrQParams * factor),
                             losses: losses, gradNorm: norm, block: ph.block)
        history.append(rec)
        try log?.append(rec.toJSON())
        step += 1
        ran += 1
        // the next phase starts with its own optimizer (so a checkpoint written now resumes into it)
        if step < total && phase(step).block != current { enter(phase(step).block) }
        if ((o.evalEvery > 0 && step % o.evalEvery == 0) || (warm > 0 && step == warmTotal)) && step < total {
            let e = EvalRecord(step: step, perplexity: try evaluate(), metric: metric)
            evals.append(e)
            try log?.append(e.toJSON())
        }
        let tps = Double(ran * o.batch * data.seqLen) / max(Date().timeIntervalSince(loopStart), 1e-9)
        let note = ph.block != nil && o.block == nil
            ? String(format: "warm start, block %d of %d: step %d/%d 1 − cos %.4f", ph.block! + 1, L, ph.step + 1, ph.length, losses.feature)
            : String(format: "step %d/%d loss %.4f (feature %.4f kd %.4f ce %.4f)", ph.step + 1, ph.length, losses.total, losses.feature,
                     losses.kd, losses.ce)
        progress.update(Double(step - startStep), note: note + String(format: " %.0f tok/s", tps))
        if o.checkpointEvery > 0 && step % o.checkpointEvery == 0 && step < total { try checkpoint() }
        if distillStopSignal != 0 || (o.stopAfter.map { ran >= $0 } ?? false) {
            try checkpoint()
            progress.finish()
            say("stopped at step \(step) of \(total); checkpoint written to \(o.checkpointPath) (continue with --resume \(o.checkpointPath))")
            return DistillResult(teacherPerplexity: teacherPPL, startPerplexity: startPPL, endPerplexity: .nan, history: history, evals: evals,
                                 seconds: Date().timeIntervalSince(t0), tokensPerSecond: tps, gflops: tps / Double(o.batch * data.seqLen) * distiller.flopsPerStep / 1e9,
                                 peakRSS: peakRSSBytes(), completed: false,
                                 heldOutSequences: heldOut.count, blockwiseSteps: warm, warmStartSteps: warmTotal)
        }
    }
    progress.finish()
    let seconds = Date().timeIntervalSince(loopStart)
    let endPPL = try evaluate()
    if evals.last?.step != total { evals.append(EvalRecord(step: total, perplexity: endPPL, metric: metric)) }
    try log?.append(evals.last!.toJSON())
    // throughput of the end-to-end steps (of all steps in --block mode)
    let (rateSteps, rateSeconds) = e2eRan > 0 ? (e2eRan, e2eSeconds) : (ran, seconds)
    let tps = Double(rateSteps * o.batch * data.seqLen) / max(rateSeconds, 1e-9)
    let gflops = Double(rateSteps) * distiller.flopsPerStep / max(rateSeconds, 1e-9) / 1e9

    let meta: JSON = .object([
        ("steps", JSON(o.steps)), ("blockwise_steps", JSON(warm)), ("batch", JSON(o.batch)), ("seq_len", JSON(data.seqLen)),
        ("settings", o.fingerprint),
        ("teacher", o.teacher.map { .string(URL(fileURLWithPath: $0).lastPathComponent) } ?? .null),
        ("calib", .string(URL(fileURLWithPath: o.calib).lastPathComponent)),
        ("heldout_ppl_start", .double(startPPL)), ("heldout_ppl_end", .double(endPPL)),
        ("teacher_heldout_ppl", teacherPPL.map { .double($0) } ?? .null),
        ("final_loss", history.last?.toJSON() ?? .null),
    ])
    if let i = o.block {
        var m = meta
        m.set("block", JSON(i))
        m.set("student", .string(o.student))
        try writeBlockPart(student, block: i, model: model, to: o.output, meta: m)
    } else {
        try writeStudentContainer(student, to: o.output, producer: "tllm-distill \(tllmVersion)", extra: [("distill", meta)]) {
            model.trainedTensor($0, shape: $1)
        }
    }
    if let p = o.plot { try writeLossPlot(p, history: history, evals: evals) }
    let rss = peakRSSBytes()
    say(String(format: "%@ %.4g -> %.4g", what, startPPL, endPPL) + (teacherPPL.map { String(format: " (teacher %.3f, ratio %.3f)", $0, endPPL / $0) } ?? "")
        + String(format: "; %.0f tokens/s (%.1f GFLOP/s), %.1f s, peak RSS %.1f MB", tps, gflops, seconds, Double(rss) / 1e6))
    if o.checkpointEvery > 0 || o.resume != nil { try? FileManager.default.removeItem(atPath: o.checkpointPath) }
    return DistillResult(teacherPerplexity: teacherPPL, startPerplexity: startPPL, endPerplexity: endPPL, history: history, evals: evals,
                         seconds: Date().timeIntervalSince(t0), tokensPerSecond: tps, gflops: gflops, peakRSS: rss, completed: true,
                         heldOutSequences: heldOut.count, blockwiseSteps: warm, warmStartSteps: warmTotal)
}

/// The JSON Lines log: one object per step (and per evaluation). A resumed run rewrites it from the checkpoint's
/// history first, so lines a killed run wrote after its last checkpoint do not appear twice.
final class StepLog {
    let fh: FileHandle

    init(path: String, history: [StepRecord], evals: [EvalRecord]) throws {
        guard FileManager.default.createFile(atPath: path, contents: nil), let h = FileHandle(forWritingAtPath: path) else {
            throw TLLMError(path, "cannot create the log file")
        }
        fh = h
        var ei = 0
        for r in history {
            while ei < evals.count && evals[ei].step <= r.step { try append(evals[ei].toJSON()); ei += 1 }
            try append(r.toJSON())
        }
        while ei < evals.count { try append(evals[ei].toJSON()); ei += 1 }
    }

    func append(_ j: JSON) throws { fh.write(Data((j.text(pretty: false) + "\n").utf8)) }
}

/// The loss curves (log scale) and the held-out perplexity as an SVG.
func writeLossPlot(_ path: String, history: [StepRecord], evals: [EvalRecord]) throws {
    func series(_ name: String, _ f: (StepRecord) -> Double) -> LossPlot.Series {
        LossPlot.Series(name: name, points: history.map { (Double($0.step + 1), f($0)) })
    }
    var s = [series("total", { $0.losses.total })]
    if history.contains(where: { $0.losses.feature > 0 }) { s.append(series("feature (1 − cos)", { $0.losses.feature })) }
    if history.contains(where: { $0.losses.kd > 0 }) { s.append(series("kd", { $0.losses.kd })) }
    if history.contains(where: { $0.losses.ce > 0 }) { s.append(series("ce", { $0.losses.ce })) }
    if history.contains(where: { $0.losses.mse > 0 }) { s.append(series("mse", { $0.losses.mse })) }
    s.append(LossPlot.Series(name: "held-out ppl", points: evals.map { (Double($0.step), $0.perplexity) }))
    let svg = LossPlot.svg(title: "tllm-distill", xLabel: "step", yLabel: "loss / perplexity (log scale)", series: s, logY: true)
    let out = try AtomicOutput(path: path)
    try out.write(Array(svg.utf8))
    try out.commit()
}
