// tllm-pack: a ternary container → the deployable packed container (.tpk): trits at 2 bits (t2) or 1.6 bits
// (t1) per weight plus f16 α, γ per group, embedding / head as f16, q8 or q4; `--unpack` goes back. The work
// lives in TLLMCore/Pack (PackContainer.swift); kernels in TLLMCore/Kernels.

import ArgumentParser
import Foundation
import TLLMCore

struct Pack: TLLMCommand {
    static let toolName = "tllm-pack"
    static let configuration = CommandConfiguration(
        commandName: "tllm-pack",
        abstract: "Pack a ternary model for fast CPU inference (or unpack it again).",
        discussion: """
            Reads a ternary container (from tllm-ternarize or tllm-distill; - for stdin) and writes a packed \
            container (kind "packed", conventionally NAME.tpk; - for stdout), one weight at a time:

            - every ternarized weight N becomes N.t2 or N.t1 (u8 rows, --layout) with f16 N.alpha and N.gamma \
            per group; the latent float weights are dropped. t2 stores 4 trits a byte (2 + 32/G bits per \
            weight), t1 5 trits a byte in base 3 (1.6 + 32/G). Ragged last groups are padded with zero codes.

            - the embedding is stored as f16, q8 or q4 (--embed), the LM head as f16, q8, q4 or t2 (--head; t2 \
            needs a head ternarized by tllm-ternarize and is the default then). q8: int8 rows with an f16 scale \
            per row (8 + 16/K bits per weight). q4: 4-bit codes with an f16 scale d per block of 32 weights \
            (4.5 bits per weight), d = (the block's element of largest |w|) / −8, w ≈ d·q with q = \
            round(w/d) in −8…7, stored as q + 8 in X.q4 (u8 [rows, ⌈K/256⌉·128], two codes a byte in the \
            kernels' order) and X.scale (f16 [rows, ⌈K/256⌉·8]). Norms and biases stay f32; tokenizer and other \
            carried files are copied.

            A summary (sizes, bits per weight of the whole file and of the linear layers) goes to stderr, or \
            to stdout as JSON with --json. With --unpack a packed container becomes a ternary one again: the \
            codes exactly, α and γ as their f16 values, the latent weights as α·T + γ.

            Examples:
              tllm-pack model.t.tllm -o model.tpk
              tllm-pack model.t.tllm -o model-t1.tpk --layout t1 --head q8
              tllm-pack model.t.tllm -o model-q4.tpk --head q4 --embed q4
              tllm-ternarize model.tllm - | tllm-pack - model.tpk --json
              tllm-pack --unpack model.tpk -o model.t.tllm
            """,
        version: tllmVersion)

    @Argument(help: ArgumentHelp("The ternary container to pack (packed with --unpack); - for stdin.", valueName: "input"))
    var input: String

    @Argument(help: ArgumentHelp("The output (same as -o).", valueName: "output"))
    var positionalOutput: String?

    @Option(name: [.short, .customLong("output")], help: ArgumentHelp("Output container; - for stdout.", valueName: "path"))
    var output: String?

    @Option(help: ArgumentHelp("Packing of the ternary weights: t2 (2 bits per trit) or t1 (base 3, 1.6 bits).", valueName: "layout"))
    var layout: PackedLayout = .t2

    @Option(help: ArgumentHelp("Storage of the LM head: f16, q8, q4 or t2 (default: t2 if the head is ternarized, else f16).", valueName: "format"))
    var head: PackedFloatFormat?

    @Option(help: ArgumentHelp("Storage of the token embedding: f16, q8 or q4.", valueName: "format"))
    var embed: PackedFloatFormat = .f16

    @Flag(help: "Unpack a packed container back into a ternary container.")
    var unpack = false

    @Flag(help: "Verify the checksums of the input container before starting (a streamed input is also checked as it is read).")
    var verify = false

    @Flag(help: "Print the summary as JSON on stdout.")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress or summary on stderr.")
    var quiet = false

    @Option(help: ArgumentHelp("Measure the packed kernels on an N×K matrix (e.g. 4096x4096) and exit.", visibility: .hidden))
    var benchKernels: String?

    @Option(name: [.short, .long], help: ArgumentHelp("Threads for --bench-kernels / --bench-models (default: all cores).", visibility: .hidden))
    var threads: Int = FloatModel.defaultThreads

    @Flag(help: ArgumentHelp("Write a seeded random ternary container with the config of the input model to -o.", visibility: .hidden))
    var makeSynthetic = false

    @Flag(help: ArgumentHelp("With --make-synthetic: ternarize the LM head too.", visibility: .hidden))
    var ternaryHead = false

    @Option(help: ArgumentHelp("With --make-synthetic: the group size G (0: one group per row).", visibility: .hidden))
    var syntheticGroup: Int = 128

    @Flag(help: ArgumentHelp("Benchmark the input and the other arguments (float or packed containers): pp/tg tokens/s, bytes per token, bandwidth bound.", visibility: .hidden))
    var benchModels = false

    @Option(help: ArgumentHelp("With --bench-models: prompt tokens, generated tokens, repetitions (e.g. 512,128,3).", visibility: .hidden))
    var benchSizes: String = "512,128,3"

    @Flag(help: ArgumentHelp("With --bench-models: read the models into memory (huge pages) instead of mapping them.", visibility: .hidden))
    var noMmap = false

    @Argument(help: ArgumentHelp("More models for --bench-models.", visibility: .hidden))
    var more: [String] = []

    func validate() throws {
        if benchKernels != nil || benchModels { return }
        if output != nil && positionalOutput != nil { throw ValidationError("give the output once: either as a second argument or with -o") }
        guard let out = output ?? positionalOutput else { throw ValidationError("missing output: -o PATH (- for stdout)") }
        if json && out == "-" { throw ValidationError("--json prints on stdout, which the packed container already uses; write it to a file") }
        if embed == .t2 { throw ValidationError("--embed must be f16, q8 or q4") }
        if unpack && (json || head != nil) { throw ValidationError("--unpack takes no --head or --json") }
    }

    func execute() throws {
        if let spec = benchKernels { return try bench(spec) }
        if benchModels {
            MappedFile.readIntoMemory = noMmap
            return try runModelBench()
        }
        let out = output ?? positionalOutput!
        if verify { try verifyContainerIfAny(input) }
        if makeSynthetic {
            let src = try openModel(input)
            try writeSyntheticTernaryContainer(config: src.config, path: out, groupSize: syntheticGroup, ternarizeHead: ternaryHead, latent: .f16,
                                               files: src.files)
            return
        }
        if unpack {
            let n = try unpackModel(input: input, output: out, quiet: quiet)
            if !quiet { printError("tllm-pack: unpacked \(input) → \(out) (\(n) tensors)") }
            return
        }
        let s = try packModel(input: input, output: out, options: PackOptions(layout: layout, embed: embed, head: head, quiet: quiet))
        if json { print(s.toJSON().text()) }
        if !quiet { printError("tllm-pack: \(input) → \(out): \(s.text())") }
    }

    func bench(_ spec: String) throws {
        let parts = spec.lowercased().split(separator: "x").compactMap { Int($0) }
        guard parts.count == 2 || parts.count == 3 else { throw ValidationError("--bench-kernels takes NxK or NxKxG") }
        let bw = measureMemoryBandwidth(bytes: 512 << 20, threads: threads)
        print(String(format: "memory read bandwidth %.1f GB/s (%d threads)", bw.read / 1e9, threads))
        for l in PackedLayout.allCases {
            for level in KernelLevel.supported.reversed() {
                let r = try benchmarkTernaryKernels(rows: parts[0], cols: parts[1], group: parts.count == 3 ? parts[2] : 128,
                                                    layout: l, level: level, threads: threads)
                print(r.line)
            }
        }
        for f in [PackedFloatFormat.q8, .q4] {
            for level in KernelLevel.supported.reversed() {
                print(try benchmarkHeadKernels(rows: parts[0], cols: parts[1], format: f, level: level, threads: threads).line)
            }
        }
    }
}

extension Pack {
    func runModelBench() throws {
        let sz = benchSizes.split(separator: ",").compactMap { Int($0) }
        guard sz.count == 3 else { throw ValidationError("--bench-sizes takes P,N,R") }
        let paths = [input] + (positionalOutput.map { [$0] } ?? []) + more
        let r = try benchmarkModels(paths: paths, threads: threads, promptTokens: sz[0], genTokens: sz[1], repetitions: sz[2]) { s in
            if !json { print(s.line(promptTokens: sz[0], genTokens: sz[1])); fflush(stdout) }
        }
        if json {
            print(JSON.object([("bandwidth_bytes_per_s", .double(r.bandwidth)), ("threads", JSON(threads)),
                               ("models", .array(r.results.map { $0.toJSON() }))]).text())
        } else {
            print(String(format: "memory read bandwidth %.1f GB/s (%d threads)", r.bandwidth / 1e9, threads))
        }
    }
}

extension PackedLayout: ExpressibleByArgument {}
extension PackedFloatFormat: ExpressibleByArgument {}

Pack.runMain()
