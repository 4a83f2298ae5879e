// tllm-calib: run the float model over calibration text and store what fitting and distillation need: token
// ids, held-out split, block hidden states, per-input XᵀX / Σx² / max|x| (DESIGN §9). Logic in TLLMCore/Calib.

import ArgumentParser
import Foundation
import TLLMCore

struct Calib: TLLMCommand {
    static let toolName = "tllm-calib"
    static let configuration = CommandConfiguration(
        commandName: "tllm-calib",
        abstract: "Capture calibration data from a float model: tokens, hidden states, input statistics.",
        discussion: """
            TEXT is plain text, JSON Lines (with --field NAME), gzip/zstd/xz-compressed text or a tar of text \
            files (all detected by content), or - for stdin. Each file, tar member or JSON record is tokenized \
            with the model's tokenizer (no BOS) and the token streams are concatenated, then cut into disjoint \
            windows of --seq-len − 1 tokens, each prefixed with BOS. The --holdout fraction of the sequences is \
            held out: the last windows of the text, a contiguous tail, so that no document is split between \
            the two sides (never used for the statistics; tllm-distill evaluates on it). The train \
            sequences are chosen from the windows before it by --seed (--samples sequences in all; default: \
            every window). --generate N adds N sequences sampled from the model \
            itself (data-free calibration), with tllm-gen's sampling flags.

            The calibration container (kind "calib") holds: tokens (i32 [N, L]), split (u8 [N]: 0 train, \
            1 held out), origin (u8 [N]: 0 text, 1 generated), hidden.{l} (f16 [N, L, C]: output of block l, \
            for --layers), and per block l and input site S (self_attn.qkv, self_attn.o_proj, mlp.gate_up, \
            mlp.down_proj): xtx.model.layers.{l}.S (f32 [K, K], Σ x xᵀ, when K ≤ --xtx-max), \
            sumsq.model.layers.{l}.S and absmax.model.layers.{l}.S (f32 [K]), and absmax.block.{l} (f32 [C]).

            Examples:
              tllm-calib model.tllm stories.txt -o calib.tllm --seq-len 256 --holdout 0.1
              tllm-calib model.tllm data.jsonl.zst --field text --samples 512 -o calib.tllm
              tllm-calib model.tllm --generate 64 --temp 1.0 -o calib-gen.tllm --layers none
            """,
        version: tllmVersion)

    @Argument(help: ArgumentHelp("The float model (container, GGUF, safetensors or HF directory).", valueName: "model"))
    var model: String

    @Argument(help: ArgumentHelp("Text inputs (- for stdin).", valueName: "text"))
    var text: [String] = []

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output calibration container (- for stdout).", valueName: "path"))
    var output: String

    @Option(help: ArgumentHelp("Sequences taken from the text (default: every disjoint window).", valueName: "n"))
    var samples: Int?

    @Option(help: ArgumentHelp("Tokens per sequence, BOS included.", valueName: "n"))
    var seqLen = 256

    @Option(help: ArgumentHelp("Seed of the sequence choice and of --generate.", valueName: "n"))
    var seed: UInt64 = 0

    @Option(help: ArgumentHelp("Fraction of the sequences held out for evaluation.", valueName: "fraction"))
    var holdout = 0.1

    @Option(help: ArgumentHelp("Blocks whose output hidden states are stored: all, none or a list like 0,3,5.", valueName: "list"))
    var layers = "all"

    @Flag(help: "Store no hidden states (same as --layers none).")
    var noHidden = false

    @Option(help: ArgumentHelp("Read the inputs as JSON Lines and take this string field of each record.", valueName: "name"))
    var field: String?

    @Option(help: ArgumentHelp("Add N sequences sampled from the model itself.", valueName: "n"))
    var generate = 0

    @Option(help: ArgumentHelp("--generate: temperature (0 = greedy).", valueName: "t"))
    var temp: Float = 0.8

    @Option(help: ArgumentHelp("--generate: top-k (0 = off).", valueName: "k"))
    var topK = 40

    @Option(help: ArgumentHelp("--generate: top-p (1 = off).", valueName: "p"))
    var topP: Float = 0.95

    @Option(help: ArgumentHelp("--generate: min-p (0 = off).", valueName: "p"))
    var minP: Float = 0.05

    @Option(help: ArgumentHelp("--generate: repetition penalty (1 = off).", valueName: "r"))
    var repeatPenalty: Float = 1.0

    @Option(help: ArgumentHelp("Store the full XᵀX of inputs up to this many channels; wider ones get per-channel Σx² and max|x| only.", valueName: "K"))
    var xtxMax = 4096

    @Option(name: [.short, .long], help: ArgumentHelp("Worker threads (default: all cores).", valueName: "n"))
    var threads: Int?

    @Flag(help: "Verify the checksums of the model (if it is a container) before starting.")
    var verify = false

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress or summary on stderr.")
    var quiet = false

    func validate() throws {
        if text.isEmpty && generate == 0 { throw ValidationError("give TEXT inputs (- for stdin) or --generate N") }
        if text.filter({ $0 == "-" }).count > 1 { throw ValidationError("stdin (-) can be read once") }
        if seqLen < 2 { throw ValidationError("--seq-len must be at least 2") }
        if let s = samples, s < 1 { throw ValidationError("--samples must be at least 1") }
        if !(holdout >= 0 && holdout < 1) { throw ValidationError("--holdout must be in [0, 1)") }
        if generate < 0 { throw ValidationError("--generate must be non-negative") }
        if xtxMax < 0 { throw ValidationError("--xtx-max must be non-negative") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        if noHidden && layers != "all" { throw ValidationError("--no-hidden and --layers contradict each other") }
        if json && output == "-" { throw ValidationError("--json prints on stdout, which the output - already uses") }
    }

    func execute() throws {
        if verify { try verifyContainerIfAny(model) }
        var o = CalibOptions(model: model, inputs: text, output: output)
        o.samples = samples
        o.seqLen = seqLen
        o.seed = seed
        o.holdout = holdout
        o.layers = noHidden ? .none : try LayerSelection(parsing: layers)
        o.field = field
        o.generate = generate
        o.generation.temperature = temp
        o.generation.topK = topK
        o.generation.topP = topP
        o.generation.minP = minP
        o.generation.repeatPenalty = repeatPenalty
        o.xtxMax = xtxMax
        if let t = threads { o.threads = t }
        o.quiet = quiet
        let s = try runCalibration(o)
        if json { print(s.toJSON().text()) }
        if !quiet {
            for line in s.text().split(separator: "\n") { printError("tllm-calib: \(line)") }
        }
    }
}

Calib.runMain()
