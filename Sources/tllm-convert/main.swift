// tllm-convert: import a model (GGUF, safetensors file, sharded Hugging Face directory, tllm container) into a
// tllm container, export to safetensors or GGUF, or inspect any of them. The work lives in TLLMCore/Convert.

import ArgumentParser
import TLLMCore

struct Convert: TLLMCommand {
    static let toolName = "tllm-convert"
    static let configuration = CommandConfiguration(
        commandName: "tllm-convert",
        abstract: "Import, export and inspect LLaMA-family models.",
        discussion: """
            Reads a GGUF file (v2/v3; F32, F16, BF16 and the quantized types Q8_0, Q4_0, Q4_1, Q5_0, Q5_1, \
            Q2_K to Q6_K, TQ1_0, TQ2_0 and IQ4_NL, dequantized to f32), a safetensors file with config.json \
            beside it, a Hugging Face model directory (single or sharded safetensors), or a tllm container \
            (a file, or - for stdin). The output name chooses what is written:

            - NAME.tllm, or - for stdout: a tllm float container; NAME.tllm.gz, .zst or .xz are compressed.

            - NAME.safetensors: one safetensors file with canonical Hugging Face tensor names.

            - DIR/ (or an existing directory): model.safetensors, config.json and the carried tokenizer files.

            - NAME.gguf: a GGUF v3 for llama.cpp, q/k rows permuted back, tokenizer metadata kept.

            GGUF and Hugging Face imports of the same model give identical tensors: the rotary permutation of \
            the q/k rows that GGUF applies is undone on import. An output file appears only when complete; \
            on any error nothing is left behind and the exit status is 1 (2 for usage errors).

            Examples:
              tllm-convert model.gguf -o model.tllm
              tllm-convert hf-model/ - | tllm-ternarize - -o model.t.tllm
              tllm-convert model.tllm -o model-f16.gguf --dtype f16
              tllm-convert --inspect model.gguf --json
            """,
        version: tllmVersion)

    @Argument(help: ArgumentHelp("The model to read (GGUF, safetensors, HF directory, container; - for a container on stdin).", valueName: "input"))
    var input: String

    @Argument(help: ArgumentHelp("The output (same as -o).", valueName: "output"))
    var positionalOutput: String?

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output path; its suffix chooses the format (see above).", valueName: "path"))
    var output: String?

    @Option(help: ArgumentHelp("Storage type of float tensors in the output (default: as stored for containers, f32 for safetensors and GGUF; 1-D tensors stay f32 in GGUF).", valueName: "type"))
    var dtype: DType?

    @Flag(help: "Print a summary of the input (format, architecture, tokenizer, tensors with statistics) instead of converting.")
    var inspect = false

    @Flag(help: "With --inspect: print JSON on stdout.")
    var json = false

    @Flag(help: "Verify the checksums of an input container before converting (or with --inspect).")
    var verify = false

    @Flag(name: .shortAndLong, help: "No progress or summary on stderr.")
    var quiet = false

    func validate() throws {
        if output != nil && positionalOutput != nil { throw ValidationError("give the output once: either as a second argument or with -o") }
        if !inspect && output == nil && positionalOutput == nil { throw ValidationError("missing output: -o PATH (or --inspect)") }
        if json && !inspect { throw ValidationError("--json goes with --inspect") }
        if let d = dtype, !d.isFloat { throw ValidationError("--dtype must be f32, f16 or bf16") }
    }

    func execute() throws {
        if verify { try verifyContainerIfAny(input) }
        if inspect {
            let r = try inspectModel(input)
            print(json ? r.toJSON().text() : r.text(), terminator: json ? "\n" : "")
            return
        }
        let out = output ?? positionalOutput!
        let summary = try convertModel(input: input, output: out, dtype: dtype, quiet: quiet)
        if !quiet { printError("tllm-convert: \(summary)") }
    }
}

extension DType: ExpressibleByArgument {
    public init?(argument: String) {
        guard let d = DType(rawValue: argument.lowercased()), d.isFloat else { return nil }
        self = d
    }
    public static var allValueStrings: [String] { ["f32", "f16", "bf16"] }
}

Convert.runMain()
