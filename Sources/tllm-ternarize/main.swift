// tllm-ternarize: fit a float model's block linear weights to ternary codes with a per-group scale and shift
// (DLT, DESIGN §7), optionally refit to calibration statistics. The work lives in TLLMCore/Ternary.

import ArgumentParser
import Foundation
import TLLMCore

struct Ternarize: TLLMCommand {
    static let toolName = "tllm-ternarize"
    static let configuration = CommandConfiguration(
        commandName: "tllm-ternarize",
        abstract: "Ternarize a float model: codes, per-group scale α and shift γ (DLT).",
        discussion: """
            Every block linear weight (q, k, v, o, gate, up, down) of the model is split into groups of G \
            consecutive inputs per row (the last group of a row is shorter where G does not divide it) and \
            fitted as Ŵ = α·T + γ with T in {-1, 0, +1}. --init dlt (default) starts from the group mean, \
            applies TWN to the shifted weights, then alternates the exact least-squares (α, γ) and the nearest \
            codes until the codes stop changing; twn and absmean (BitNet b1.58) are the baselines. With \
            --calib, (α, γ) are refitted with the codes frozen to minimize the output error on the calibration \
            inputs (XᵀX from tllm-calib); a row keeps the weight-only fit where that is not better.

            The output is a ternary container: the float model's tensors, each fitted weight N as N (latent \
            f32), N.codes (i8), N.alpha and N.gamma (f32 per group); the method, group size and the per-layer \
            report are in its manifest. tllm-gen runs it directly (dequantized in memory).

            The report (stderr, or JSON on stdout with --json): per layer the relative weight error \
            ‖W − Ŵ‖/‖W‖, the output error on the calibration inputs before and after the refit, the fraction \
            of zero codes and the mean |γ|/α.

            Input and output may be - (a container on stdin / stdout); memory stays at about one layer.

            Examples:
              tllm-ternarize model.tllm -o model.t.tllm
              tllm-ternarize model.tllm -o model.t.tllm --group 64 --calib calib.tllm
              tllm-convert model.gguf - | tllm-ternarize - - --init twn --skip down_proj > twn.tllm
            """,
        version: tllmVersion)

    @Argument(help: ArgumentHelp("The float model (container, GGUF, safetensors or HF directory; - for a container on stdin).", valueName: "model"))
    var input: String

    @Argument(help: ArgumentHelp("The output (same as -o).", valueName: "output"))
    var positionalOutput: String?

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output ternary container (- for stdout; .gz/.zst/.xz compress).", valueName: "path"))
    var output: String?

    @Option(help: ArgumentHelp("Group size G, or \"row\" for one group per row.", valueName: "G|row"))
    var group = "128"

    @Option(help: ArgumentHelp("Initialization: dlt, twn or absmean.", valueName: "method"))
    var `init` = "dlt"

    @Option(help: ArgumentHelp("Calibration container (from tllm-calib) for the activation-aware refit of α and γ.", valueName: "path"))
    var calib: String?

    @Option(help: ArgumentHelp("Leave matching linear weights in float: a glob on the canonical name, or a substring (repeatable).", valueName: "pattern"))
    var skip: [String] = []

    @Option(help: ArgumentHelp("Storage type of the tensors left in float: f32, f16 or bf16 (default: as in the model).", valueName: "type"))
    var dtype: String?

    @Option(help: ArgumentHelp("Most least-squares/code alternations per group for dlt.", valueName: "n"))
    var maxIterations = 20

    @Option(name: [.short, .long], help: ArgumentHelp("Worker threads (default: all cores).", valueName: "n"))
    var threads: Int?

    @Flag(help: "Verify the checksums of the input and --calib containers before starting (a streamed input is also checked as it is read).")
    var verify = false

    @Flag(help: "Print the report as JSON on stdout.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress or report on stderr.")
    var quiet = false

    func validate() throws {
        if output != nil && positionalOutput != nil { throw ValidationError("give the output once: either as a second argument or with -o") }
        if output == nil && positionalOutput == nil { throw ValidationError("missing output: -o PATH") }
        if json && (output ?? positionalOutput) == "-" { throw ValidationError("--json prints on stdout, which the output - already uses") }
        if group != "row" && (Int(group) ?? 0) < 1 { throw ValidationError("--group must be a positive integer or \"row\"") }
        if TernaryInit(rawValue: self.`init`) == nil { throw ValidationError("--init must be dlt, twn or absmean") }
        if let d = dtype, DType(rawValue: d)?.isFloat != true { throw ValidationError("--dtype must be f32, f16 or bf16") }
        if maxIterations < 1 { throw ValidationError("--max-iterations must be at least 1") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
    }

    func execute() throws {
        if verify {
            try verifyContainerIfAny(input)
            if let c = calib { try verifyContainerIfAny(c) }
        }
        var o = TernarizeOptions()
        o.groupSize = group == "row" ? 0 : Int(group)!
        o.method = TernaryInit(rawValue: self.`init`)!
        o.calib = calib
        o.skip = skip
        o.floatDType = dtype.flatMap { DType(rawValue: $0) }
        o.maxIterations = maxIterations
        if let t = threads { o.threads = t }
        let out = output ?? positionalOutput!
        let src = try openTernarizeInput(input)
        let total = Double(src.tensorInfos.reduce(0) { $0 + (byteCount($1.shape, $1.dtype) ?? 0) })
        let progress = Progress("ternarizing", total: total, unit: "B", quiet: quiet)
        let r = try ternarize(source: src, to: out, options: o, progress: progress)
        progress.finish()
        if json { print(r.metadata.text()) }
        if !quiet {
            printError(TernaryReportTable.text(r.reports), terminator: "")
            let how = "\(o.method.rawValue), G = \(group)\(calib != nil ? ", refit on \(calib!)" : "")"
            printError("tllm-ternarize: \(input) (\(r.sourceFormat)) → \(out): \(r.reports.count) weights ternarized (\(how))"
                       + (r.skipped.isEmpty ? "" : ", \(r.skipped.count) left in float"))
        }
    }
}

func printError(_ s: String, terminator: String) {
    FileHandle.standardError.write(Data((s + terminator).utf8))
}

Ternarize.runMain()
