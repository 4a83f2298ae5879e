// tllm-distill: OFF distillation of a ternary student toward its float teacher (DESIGN §8), end to end or one
// block at a time, and the merge of block-wise parts. The work lives in TLLMCore/Train.

import ArgumentParser
import Foundation
import TLLMCore

struct Distill: TLLMCommand {
    static let toolName = "tllm-distill"
    static let configuration = CommandConfiguration(
        commandName: "tllm-distill",
        abstract: "Distill a ternary model toward its float teacher (OFF: feature cosine + KD).",
        discussion: """
            The student (a ternary container from tllm-ternarize) is trained with the DLT quantizer in every \
            forward pass: T = clamp(round((W − γ)/α), −1, 1), Ŵ = α·T + γ, the latent weights W learning through \
            the straight-through estimator and α, γ through their exact gradients. The loss is \
            feature·Σ_l mean_t (1 − cos(h_l^student, h_l^teacher)) + kd·τ²·KL(teacher ‖ student) + ce·CE(next \
            token), over batches of the calibration container's train sequences (--loss; default feature=1,kd=1,ce=1: the CE term, 0 in DESIGN §8, reached a lower held-out perplexity at every budget measured). \
            The cosine is taken, by default, on what the next block reads (--feature-space normed): each \
            channel of h_l scaled by the weight of the RMSNorm that reads it next (block l+1's input norm, the \
            final norm after the last block), so a channel counts as much as the next block lets it; \
            --feature-space residual compares the raw residual stream. \
            Feature targets come from the hidden states the calibration container captured, and from a teacher \
            forward pass otherwise; KD always needs --teacher. The end-to-end steps start from a block-wise warm start \
            (--blockwise-steps): each block in turn alone learns to map the teacher's input of that block to its \
            output, which the end-to-end steps then refine together (on stories260K it reached a lower held-out \
            perplexity than the same time spent end to end). AdamW (decay on latent weights only), linear \
            warm-up then cosine decay, gradient clipping. The held-out split is evaluated at the start and the end \
            (--eval-every for a curve). Activations are recomputed block by block in the backward pass, so memory \
            is the weights, the optimizer state and one block's activations.

            Checkpoints (--checkpoint-every, and always on SIGINT/SIGTERM) hold everything the run depends on; \
            --resume continues so that the output is byte-identical to an uninterrupted run (same options and \
            --threads).

            Block-wise (--block i): block i alone learns to map the teacher's input of block i to its output \
            (cosine, plus --loss mse=w), from the hidden states in the calibration container; the output is a \
            partial container. Blocks are independent processes (make -j, a job array); --merge joins the parts \
            into the student.

            Examples:
              tllm-distill --teacher model.tllm --student model.t.tllm --calib calib.tllm -o model.off.tllm
              tllm-distill --teacher m.tllm --student m.t.tllm --calib c.tllm -o m.off.tllm --steps 2000 \\
                  --log train.jsonl --plot loss.svg --checkpoint-every 200
              tllm-distill ... --resume m.off.tllm.ckpt
              tllm-distill --student m.t.tllm --calib c.tllm --block 3 -o part3.tllm
              tllm-distill --merge part*.tllm --student m.t.tllm -o m.off.tllm
            """,
        version: tllmVersion)

    @Option(help: ArgumentHelp("The float teacher (container, GGUF, safetensors or HF directory).", valueName: "path"))
    var teacher: String?

    @Option(help: ArgumentHelp("The ternary student (from tllm-ternarize).", valueName: "path"))
    var student: String?

    @Option(help: ArgumentHelp("The calibration container (from tllm-calib): train and held-out sequences, captured hidden states.", valueName: "path"))
    var calib: String?

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output ternary container (a partial one with --block).", valueName: "path"))
    var output: String

    @Option(help: ArgumentHelp("Optimizer steps.", valueName: "n"))
    var steps = DistillOptions(student: "", calib: "", output: "").steps

    @Option(help: ArgumentHelp("Block-wise warm start: before the end-to-end steps, each block alone learns the teacher's mapping of that block (cosine, plus --loss mse=w) for n steps, with its own optimizer and schedule (default: a quarter of --steps; 0: none).", valueName: "n"))
    var blockwiseSteps: Int?

    @Option(help: ArgumentHelp("Sequences per step.", valueName: "n"))
    var batch = DistillOptions(student: "", calib: "", output: "").batch

    @Option(help: ArgumentHelp("Peak learning rate of the latent weights.", valueName: "x"))
    var lr = OptimizerSettings().lr

    @Option(help: ArgumentHelp("Peak learning rate of the scales α and shifts γ.", valueName: "x"))
    var lrQparams = OptimizerSettings().lrQParams

    @Option(help: ArgumentHelp("Peak learning rate of the RMSNorm weights (and biases).", valueName: "x"))
    var lrNorm = OptimizerSettings().lrNorm

    @Option(help: ArgumentHelp("AdamW weight decay of the latent weights.", valueName: "x"))
    var weightDecay = OptimizerSettings().weightDecay

    @Option(help: ArgumentHelp("AdamW's moment decay rates β1,β2.", valueName: "b1,b2"))
    var betas = "\(OptimizerSettings().beta1),\(OptimizerSettings().beta2)"

    @Option(help: ArgumentHelp("Warm-up steps (linear from 0 to the peak rates).", valueName: "n"))
    var warmup = OptimizerSettings().warmup

    @Option(help: ArgumentHelp("Decay after warm-up: cosine, linear or constant.", valueName: "kind"))
    var schedule = OptimizerSettings().schedule.rawValue

    @Option(help: ArgumentHelp("Learning rate at the last step, as a fraction of the peak.", valueName: "x"))
    var minLrRatio = OptimizerSettings().minRatio

    @Option(help: ArgumentHelp("Clip the global gradient norm to this (0: no clipping).", valueName: "x"))
    var clip = OptimizerSettings().clip

    @Option(help: ArgumentHelp("Loss weights, e.g. feature=1,kd=1,ce=0 (terms: feature, kd, ce, mse).", valueName: "spec"))
    var loss = LossWeights().description

    @Option(help: ArgumentHelp("KD temperature τ.", valueName: "t"))
    var temperature = LossWeights().temperature

    @Option(help: ArgumentHelp("Blocks whose outputs enter the feature term: all or a list like 0,3,5.", valueName: "list"))
    var layers = "all"

    @Option(help: ArgumentHelp("Where the feature cosine compares a block's output with the teacher's: normed (each channel scaled by the weight of the RMSNorm that reads it next) or residual (the raw residual stream).", valueName: "space"))
    var featureSpace = FeatureSpace.normed.rawValue

    @Option(help: ArgumentHelp("Straight-through window: latent weights farther than this many α from γ get no gradient.", valueName: "x"))
    var steClip: Float = 1.5

    @Option(help: ArgumentHelp("Decay toward the grid in the end-to-end steps: step s of S moves every latent weight the fraction x·(s+1)/S of the way to its value α·T + γ, which keeps its code but damps codes that oscillate across a threshold (0: off).", valueName: "x"))
    var gridDecay = DistillOptions.defaultGridDecay

    @Flag(help: "Pass the straight-through gradient to every latent weight (no window).")
    var noSteClip = false

    @Flag(help: "Keep the shift γ at 0 (ablation: α·T only; start from a twn or absmean fit).")
    var zeroShift = false

    @Flag(help: "Keep the RMSNorm weights (and biases) fixed.")
    var freezeNorms = false

    @Flag(help: "Also train the token embedding and the LM head (stored as f32).")
    var trainEmbeddings = false

    @Option(help: ArgumentHelp("Seed of the batch order.", valueName: "n"))
    var seed: UInt64 = 0

    @Option(name: .shortAndLong, help: ArgumentHelp("Worker threads (default: all cores); a resumed run must use the same count to be exact.", valueName: "n"))
    var threads: Int?

    @Flag(help: "Check the SHA256SUMS of every input container (teacher, student, calibration, checkpoint, parts) before using it.")
    var verify = false

    @Option(help: ArgumentHelp("Write every step's losses and learning rates as JSON Lines.", valueName: "file"))
    var log: String?

    @Option(help: ArgumentHelp("Write the loss and held-out curves as an SVG.", valueName: "file"))
    var plot: String?

    @Option(help: ArgumentHelp("Evaluate the held-out split every N steps (0: start and end only).", valueName: "n"))
    var evalEvery = 0

    @Option(help: ArgumentHelp("Evaluate on every sequence of this calibration container instead of the held-out split (a separate validation text: tllm-calib model val.txt --holdout 0 -o val.tllm).", valueName: "path"))
    var validation: String?

    @Option(help: ArgumentHelp("Checkpoint file (default: OUTPUT.ckpt).", valueName: "path"))
    var checkpoint: String?

    @Option(help: ArgumentHelp("Write a checkpoint every N steps (0: only on SIGINT/SIGTERM).", valueName: "n"))
    var checkpointEvery = 0

    @Option(help: ArgumentHelp("Continue from a checkpoint written with the same options.", valueName: "path"))
    var resume: String?

    @Option(help: ArgumentHelp("Stop after N steps of this invocation, writing a checkpoint (for time-sliced jobs).", valueName: "n"))
    var stopAfter: Int?

    @Option(help: ArgumentHelp("Block-wise mode: train block i alone; the output is a partial container.", valueName: "i"))
    var block: Int?

    @Flag(help: "Join block-wise parts (the arguments) into the student (--student, or the one the parts name).")
    var merge = false

    @Argument(help: ArgumentHelp("With --merge: the partial containers of tllm-distill --block.", valueName: "part"))
    var parts: [String] = []

    @Flag(help: "Print a JSON summary on stdout.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress or summary on stderr.")
    var quiet = false

    func validate() throws {
        if merge {
            if parts.isEmpty { throw ValidationError("--merge needs the parts as arguments") }
            return
        }
        if !parts.isEmpty { throw ValidationError("unexpected arguments \(parts.joined(separator: " ")) (parts are for --merge)") }
        if student == nil { throw ValidationError("missing --student (the ternary container to distill)") }
        if calib == nil { throw ValidationError("missing --calib (the calibration container)") }
        if output == "-" { throw ValidationError("-o - is not supported: the output is written atomically to a file") }
        if steps < 1 || batch < 1 { throw ValidationError("--steps and --batch must be at least 1") }
        if (blockwiseSteps ?? 0) < 0 { throw ValidationError("--blockwise-steps must be at least 0") }
        if LRSchedule(rawValue: schedule) == nil { throw ValidationError("--schedule must be cosine, linear or constant") }
        if FeatureSpace(rawValue: featureSpace) == nil { throw ValidationError("--feature-space must be normed or residual") }
        for (n, v) in [("--lr", lr), ("--lr-qparams", lrQparams), ("--lr-norm", lrNorm), ("--weight-decay", weightDecay), ("--clip", clip),
                       ("--min-lr-ratio", minLrRatio), ("--ste-clip", steClip), ("--grid-decay", gridDecay)] where !(v >= 0 && v.isFinite) {
            throw ValidationError("\(n) must be a finite number ≥ 0")
        }
        guard parsedBetas != nil else { throw ValidationError("--betas takes two numbers in [0, 1), e.g. 0.9,0.95") }
        if gridDecay > 1 { throw ValidationError("--grid-decay must be at most 1 (1 moves every latent weight onto the grid by the last step)") }
        if !(temperature > 0) { throw ValidationError("--temperature must be above 0") }
        if warmup < 0 || evalEvery < 0 || checkpointEvery < 0 { throw ValidationError("--warmup, --eval-every and --checkpoint-every must be ≥ 0") }
        if let s = stopAfter, s < 1 { throw ValidationError("--stop-after must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        if teacher == nil && block == nil && (try? LossWeights(parsing: loss))?.kd ?? 0 > 0 {
            throw ValidationError("the kd loss needs --teacher (or give --loss kd=0)")
        }
    }

    var parsedBetas: (Float, Float)? {
        let v = betas.split(separator: ",").compactMap { Float($0.trimmingCharacters(in: .whitespaces)) }
        guard v.count == 2, v.allSatisfy({ $0 >= 0 && $0 < 1 }) else { return nil }
        return (v[0], v[1])
    }

    func execute() throws {
        if verify {
            for p in [teacher, student, calib, validation, resume].compactMap({ $0 }) + parts { try verifyContainerIfAny(p) }
        }
        if merge {
            let r = try mergeBlocks(parts: parts, student: student, output: output)
            if json { print(JSON.object([("blocks", .array(r.blocks.map { JSON($0) })), ("from_student", .array(r.fromStudent.map { JSON($0) }))]).text()) }
            if !quiet {
                printError("tllm-distill: merged blocks \(r.blocks.map(String.init).joined(separator: ",")) into \(output)"
                           + (r.fromStudent.isEmpty ? "" : "; blocks \(r.fromStudent.map(String.init).joined(separator: ",")) kept as in the student"))
            }
            return
        }
        var o = DistillOptions(student: student!, calib: calib!, output: output)
        o.teacher = teacher
        o.steps = steps
        o.batch = batch
        o.blockwiseSteps = blockwiseSteps
        o.optimizer.lr = lr
        o.optimizer.lrQParams = lrQparams
        o.optimizer.lrNorm = lrNorm
        o.optimizer.weightDecay = weightDecay
        (o.optimizer.beta1, o.optimizer.beta2) = parsedBetas!
        o.optimizer.warmup = warmup
        o.optimizer.schedule = LRSchedule(rawValue: schedule)!
        o.optimizer.minRatio = minLrRatio
        o.optimizer.clip = clip
        o.loss = try LossWeights(parsing: loss)
        o.loss.temperature = temperature
        o.layers = try LayerSelection(parsing: layers)
        o.featureSpace = FeatureSpace(rawValue: featureSpace)!
        o.steClip = noSteClip ? .infinity : steClip
        o.zeroShift = zeroShift
        o.gridDecay = gridDecay
        if freezeNorms { o.trainable.norms = false; o.trainable.biases = false }
        if trainEmbeddings { o.trainable.embedding = true; o.trainable.head = true }
        o.seed = seed
        if let t = threads { o.threads = t }
        o.log = log
        o.plot = plot
        o.evalEvery = evalEvery
        o.validation = validation
        o.checkpoint = checkpoint
        o.checkpointEvery = checkpointEvery
        o.resume = resume
        o.stopAfter = stopAfter
        o.block = block
        o.quiet = quiet
        installDistillSignalHandlers()
        let r = try runDistill(o)
        if json { print(r.toJSON().text()) }
        if !r.completed { throw ExitCode(distillStopSignalStatus()) }
    }
}

Distill.runMain()
