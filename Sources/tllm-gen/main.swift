// tllm-gen: run a model — generate text, measure perplexity (llama.cpp's protocol), benchmark (llama-bench's
// shape), tokenize and detokenize. Float and ternary containers, GGUF files and HF directories run as float
// models (ternary weights dequantized); packed .tpk files run on the packed ternary kernels.
// The work lives in TLLMCore (Model/Forward, Sampling, Tokenizer, Gen).

import ArgumentParser
import Foundation
import TLLMCore

struct Gen: TLLMCommand {
    static let toolName = "tllm-gen"
    static let configuration = CommandConfiguration(
        commandName: "tllm-gen",
        abstract: "Generate text, measure perplexity, benchmark, tokenize.",
        discussion: """
            The model is a tllm container, a GGUF file or a Hugging Face directory (converted in memory). \
            One mode per run:

            - generation (the default): continues --prompt (or stdin), streaming tokens to stdout as they are \
            sampled; a timing summary goes to stderr. --temp 0 is greedy.

            - --perplexity FILE: llama.cpp's llama-perplexity protocol: the file tokenized with BOS, cut into \
            chunks of --ctx tokens, each chunk's first token replaced by BOS, the second half of each chunk \
            scored. Prints PPL = x +/- y (or JSON with --json).

            - --bench: prompt processing (pp, -p tokens in one batch) and generation (tg, -n tokens) in \
            tokens/s, median ± standard deviation over --repetitions, as llama-bench prints them.

            - --tokenize / --detokenize: text (--file or stdin) to whitespace-separated ids on stdout, BOS \
            included when the model adds one; or ids back to text.

            Examples:
              tllm-gen -m model.tllm -p "Once upon a time" -n 64 --temp 0
              tllm-gen -m model.tllm --perplexity wiki.test.txt --ctx 512
              tllm-gen -m model.tllm --bench -p 512 -n 128 --threads 2
              echo "Hello" | tllm-gen -m model.tllm --tokenize
            """,
        version: tllmVersion)

    @Option(name: [.short, .long], help: ArgumentHelp("The model (tllm container, GGUF or HF directory).", valueName: "path"))
    var model: String

    @Option(name: [.short, .long], help: ArgumentHelp("Prompt text for generation (default: stdin). With --bench: prompt sizes, comma-separated (default 512).", valueName: "text"))
    var prompt: String?

    @Option(name: [.short, .customLong("n-predict")], help: ArgumentHelp("Tokens to generate (default 128). With --bench: generation sizes, comma-separated.", valueName: "n"))
    var nPredict: String?

    @Option(help: ArgumentHelp("Sampling temperature; 0 is greedy.", valueName: "t"))
    var temp: Float = 0.8

    @Option(help: ArgumentHelp("Keep the k most likely tokens (0: all).", valueName: "k"))
    var topK: Int = 40

    @Option(help: ArgumentHelp("Keep the smallest set of tokens whose probability reaches p (1: all).", valueName: "p"))
    var topP: Float = 0.95

    @Option(help: ArgumentHelp("Drop tokens less likely than p times the most likely one (0: none).", valueName: "p"))
    var minP: Float = 0.05

    @Option(help: ArgumentHelp("Penalty for repeating any of the last --repeat-last-n tokens (1: none).", valueName: "x"))
    var repeatPenalty: Float = 1.0

    @Option(help: ArgumentHelp("How many recent tokens the repetition penalty looks at.", valueName: "n"))
    var repeatLastN: Int = 64

    @Option(help: ArgumentHelp("Random seed for sampling (default: from the clock; printed on stderr).", valueName: "n"))
    var seed: UInt64?

    @Flag(help: "Do not stop at the end-of-sequence token.")
    var ignoreEos = false

    @Option(help: ArgumentHelp("Measure perplexity on this text file (- for stdin).", valueName: "path"))
    var perplexity: String?

    @Option(help: ArgumentHelp("With --perplexity: also run this base model (the float original of a ternary or packed model) on the same chunks and report KL(base ‖ model) per scored token (mean, median, 99th percentile, largest), how often both models' most likely token is the same, and both perplexities, as llama-perplexity --kl-divergence does. The vocabularies must match.", valueName: "path"))
    var klBase: String?

    @Option(help: ArgumentHelp("Context length of the perplexity chunks.", valueName: "n"))
    var ctx: Int = 512

    @Flag(help: "Benchmark prompt processing and generation speed.")
    var bench = false

    @Option(name: [.short, .long], help: ArgumentHelp("Benchmark repetitions (a warm-up run comes first).", valueName: "n"))
    var repetitions: Int = 5

    @Flag(help: "Print the token ids of the input text.")
    var tokenize = false

    @Flag(help: "Print the text of the input token ids.")
    var detokenize = false

    @Option(name: [.short, .long], help: ArgumentHelp("Input of --tokenize / --detokenize (default: stdin).", valueName: "path"))
    var file: String?

    @Flag(help: "Do not add the BOS token even if the model adds one (--tokenize, generation).")
    var noBos = false

    @Flag(help: "With --detokenize: print special tokens (BOS, EOS) as text.")
    var special = false

    @Option(help: ArgumentHelp("Convert the weights to this storage type in memory: f32, f16 or bf16 (default: as stored).", valueName: "type"))
    var dtype: String?

    @Option(name: [.short, .long], help: ArgumentHelp("Threads (default: all cores).", valueName: "n"))
    var threads: Int?

    @Flag(help: "Read the model file into memory instead of mapping it: 2 MiB pages where the kernel allows (transparent huge pages), so decode streams the weights with fewer TLB misses; costs reading the whole file at load.")
    var noMmap = false

    @Flag(help: "Verify the checksums of the model (if it is a container) before running it.")
    var verify = false

    @Flag(help: "Print results as JSON on stdout (--perplexity, --bench).")
    var json = false

    @Flag(name: .shortAndLong, help: "No progress or timing summary on stderr.")
    var quiet = false

    func validate() throws {
        let modes = [perplexity != nil, bench, tokenize, detokenize].filter { $0 }.count
        if modes > 1 { throw ValidationError("choose one mode: generation, --perplexity, --bench, --tokenize or --detokenize") }
        if let t = threads, t < 1 { throw ValidationError("--threads must be at least 1") }
        if let d = dtype, !["f32", "f16", "bf16"].contains(d) { throw ValidationError("--dtype must be f32, f16 or bf16") }
        if ctx < 4 { throw ValidationError("--ctx must be at least 4") }
        if json && perplexity == nil && !bench { throw ValidationError("--json goes with --perplexity or --bench") }
        if klBase != nil && perplexity == nil { throw ValidationError("--kl-base goes with --perplexity") }
    }

    var threadCount: Int { threads ?? FloatModel.defaultThreads }

    func readInput(_ path: String?) throws -> [UInt8] {
        if let f = path, f != "-" {
            let fd = open(f, O_RDONLY)
            guard fd >= 0 else { throw TLLMError.cannotOpen(f, errno: errno) }
            defer { close(fd) }
            return try readAll(fd: fd, name: f)
        }
        return try readAll(fd: 0, name: "-")
    }

    func text(_ bytes: [UInt8], _ name: String) throws -> String {
        guard let t = String(validating: bytes, as: UTF8.self) else { throw TLLMError(name, "input is not valid UTF-8") }
        return t
    }

    func loadModel() throws -> LanguageModel {
        let t0 = Date()
        let m = try loadLanguageModel(model, threads: threadCount, storage: dtype.flatMap { DType(rawValue: $0) })
        if !quiet {
            printError(String(format: "tllm-gen: loaded %@ (%@, %.2f M parameters) in %.2f s, %d threads",
                              model, m.config.architecture, Double(m.parameterCount) / 1e6, Date().timeIntervalSince(t0), threadCount))
        }
        return m
    }

    func execute() throws {
        MappedFile.readIntoMemory = noMmap
        if verify { try verifyContainerIfAny(model) }
        if tokenize || detokenize { return try runTokenizer() }
        if bench { return try runBench() }
        if let p = perplexity { return try runPerplexity(p) }
        try runGeneration()
    }

    func runTokenizer() throws {
        let tok = try loadTokenizer(forModel: model)
        let bytes = try readInput(file)
        let name = file ?? "-"
        if tokenize {
            let ids = tok.encode(try text(bytes, name), addBOS: noBos ? false : nil)
            FileHandle.standardOutput.write(Data((ids.map(String.init).joined(separator: " ") + "\n").utf8))
            return
        }
        var ids: [Int32] = []
        for (i, word) in String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0.isWhitespace }).enumerated() {
            guard let id = Int32(word), id >= 0, Int(id) < tok.vocabSize else {
                throw TLLMError(name, "word \(i + 1) (\"\(word.prefix(20))\") is not a token id of this model (0..<\(tok.vocabSize))")
            }
            ids.append(id)
        }
        FileHandle.standardOutput.write(Data(tok.decodeBytes(ids, special: special)))
    }

    func runGeneration() throws {
        let tok = try loadTokenizer(forModel: model)
        let promptText = try prompt ?? text(try readInput(nil), "-")
        let ids = tok.encode(promptText, addBOS: noBos ? false : nil)
        guard !ids.isEmpty else { throw TLLMError("-", "empty prompt") }
        guard let n = Int(nPredict ?? "128"), n >= 0 else { throw ValidationError("-n must be a number of tokens") }
        let m = try loadModel()
        guard ids.count + n <= m.config.maxPositions else {
            throw TLLMError(model, "prompt (\(ids.count) tokens) + \(n) new tokens exceed the model's context of \(m.config.maxPositions)")
        }
        let s = seed ?? UInt64(Date().timeIntervalSince1970 * 1000) & 0xFFFF_FFFF
        let sampler = Sampler(temperature: temp, topK: topK, topP: topP, minP: minP, repeatPenalty: repeatPenalty,
                              repeatLastN: repeatLastN, seed: s)
        var decoder = StreamingDecoder(tok, stripLeadingSpace: false)
        let out = FileHandle.standardOutput
        let r = try m.generate(prompt: ids, maxTokens: n, sampler: sampler, stopAtEOS: !ignoreEos, onToken: { t in
            let piece = decoder.feed(t)
            if !piece.isEmpty { out.write(Data(piece.utf8)) }
            return true
        })
        let rest = decoder.finish()
        out.write(Data((rest + "\n").utf8))
        if !quiet {
            let gen = max(r.tokens.count - 1, 0)
            printError(String(format: "tllm-gen: prompt %d tokens in %.3f s (%.1f tok/s); generated %d tokens (%.1f tok/s)%@; seed %llu",
                              r.promptTokens, r.promptSeconds, Double(r.promptTokens) / max(r.promptSeconds, 1e-9),
                              r.tokens.count, Double(gen) / max(r.generationSeconds, 1e-9), r.stoppedAtEOS ? ", stopped at EOS" : "", s))
        }
    }

    func runPerplexity(_ path: String) throws {
        let tok = try loadTokenizer(forModel: model)
        let tokens = tok.encode(try text(try readInput(path), path), addBOS: true)
        guard let bos = tok.bosId else { throw TLLMError(model, "the model has no BOS token; perplexity needs one") }
        let m = try loadModel()
        let chunks = tokens.count / ctx
        if let b = klBase { return try runKLDivergence(m, base: b, tokens: tokens, bos: bos, path: path) }
        let progress = Progress("perplexity", total: Double(chunks), unit: "chunks", quiet: quiet)
        let r: PerplexityResult
        do {
            r = try m.perplexity(tokens: tokens, context: ctx, bos: bos,
                                 progress: { done, _, ppl in progress.update(Double(done), note: String(format: "PPL %.4f", ppl)) })
        } catch let e as TLLMError where e.file.isEmpty {
            throw TLLMError(path, e.message)
        }
        progress.finish()
        if json {
            let j: JSON = .object([("model", .string(model)), ("file", .string(path)), ("ctx", JSON(ctx)), ("ppl", .double(r.ppl)),
                                   ("stderr", .double(r.stderr)), ("chunks", JSON(r.chunks)), ("scored_tokens", JSON(r.scored)),
                                   ("tokens", JSON(tokens.count))])
            print(j.text())
        } else {
            print(String(format: "PPL = %.4f +/- %.5f", r.ppl, r.stderr))
        }
    }

    /// --perplexity with --kl-base: the model against the base on the same chunks.
    func runKLDivergence(_ m: LanguageModel, base: String, tokens: [Int32], bos: Int32, path: String) throws {
        let t0 = Date()
        let b = try loadLanguageModel(base, threads: threadCount)
        if !quiet { printError(String(format: "tllm-gen: loaded base %@ in %.2f s", base, Date().timeIntervalSince(t0))) }
        let progress = Progress("kl-divergence", total: Double(tokens.count / ctx), unit: "chunks", quiet: quiet)
        let r: KLDivergenceResult
        do {
            r = try m.klDivergence(from: b, tokens: tokens, context: ctx, bos: bos,
                                   progress: { done, _, ppl in progress.update(Double(done), note: String(format: "PPL %.4f", ppl)) })
        } catch let e as TLLMError where e.file.isEmpty {
            throw TLLMError(path, e.message)
        }
        progress.finish()
        if json {
            let j: JSON = .object([("model", .string(model)), ("base", .string(base)), ("file", .string(path)), ("ctx", JSON(ctx)),
                                   ("ppl", .double(r.model.ppl)), ("stderr", .double(r.model.stderr)),
                                   ("base_ppl", .double(r.base.ppl)), ("base_stderr", .double(r.base.stderr)),
                                   ("ppl_ratio", .double(r.model.ppl / r.base.ppl)), ("mean_kld", .double(r.meanKL)),
                                   ("mean_kld_stderr", .double(r.meanKLStderr)), ("median_kld", .double(r.medianKL)),
                                   ("p99_kld", .double(r.p99KL)), ("max_kld", .double(r.maxKL)), ("same_top", .double(r.sameTop)),
                                   ("chunks", JSON(r.model.chunks)), ("scored_tokens", JSON(r.scored)), ("tokens", JSON(tokens.count))])
            print(j.text())
        } else {
            print(String(format: "PPL = %.4f +/- %.5f", r.model.ppl, r.model.stderr))
            print(String(format: "base PPL = %.4f +/- %.5f", r.base.ppl, r.base.stderr))
            print(String(format: "PPL ratio = %.4f", r.model.ppl / r.base.ppl))
            print(String(format: "mean KLD = %.6f +/- %.6f", r.meanKL, r.meanKLStderr))
            print(String(format: "median KLD = %.6f, 99%% KLD = %.6f, max KLD = %.6f", r.medianKL, r.p99KL, r.maxKL))
            print(String(format: "same top token = %.2f%%", 100 * r.sameTop))
        }
    }

    func runBench() throws {
        func sizes(_ s: String?, _ d: Int) throws -> [Int] {
            guard let s else { return [d] }
            let v = s.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
            guard !v.isEmpty, v.allSatisfy({ $0 != nil && $0! >= 0 }) else {
                throw ValidationError("with --bench, -p and -n take token counts (e.g. -p 128,512 -n 128)")
            }
            return v.map { $0! }
        }
        let pp = try sizes(prompt, 512), tg = try sizes(nPredict, 128)
        let m = try loadModel()
        let name = URL(fileURLWithPath: model).lastPathComponent
        let bytes = m.weightBytesPerToken
        var rows: [BenchRow] = []
        for p in pp where p > 0 {
            guard p <= m.config.maxPositions else { throw TLLMError(model, "-p \(p) exceeds the model's context of \(m.config.maxPositions)") }
            let r = try m.benchmark(promptTokens: p, genTokens: 0, repetitions: repetitions, seed: seed ?? 1)
            rows.append(BenchRow(model: name, sizeBytes: bytes, parameters: m.parameterCount, threads: threadCount, test: "pp\(p)", rates: r.promptRates))
        }
        for n in tg where n > 0 {
            guard n < m.config.maxPositions else { throw TLLMError(model, "-n \(n) exceeds the model's context of \(m.config.maxPositions)") }
            let r = try m.benchmark(promptTokens: 0, genTokens: n, repetitions: repetitions, seed: seed ?? 1)
            rows.append(BenchRow(model: name, sizeBytes: bytes, parameters: m.parameterCount, threads: threadCount, test: "tg\(n)", rates: r.generationRates))
        }
        // The decode speed limit: every weight byte is read once per token, at the memory bandwidth measured now.
        var bound: JSON = .null
        if let tgRow = rows.last(where: { $0.test.hasPrefix("tg") }) {
            let bw = measureMemoryBandwidth(threads: threadCount).read
            let limit = bw / Double(bytes)
            bound = .object([("read_bandwidth_gbs", .double(bw / 1e9)), ("weight_bytes_per_token", JSON(bytes)),
                             ("bound_tokens_per_second", .double(limit)), ("fraction", .double(tgRow.median / limit))])
            if !quiet {
                printError(String(format: "tllm-gen: memory read bandwidth %.1f GB/s, %.1f MB of weights per token: bound %.1f tok/s; %@ reached %.0f%%",
                                  bw / 1e9, Double(bytes) / 1e6, limit, tgRow.test, 100 * tgRow.median / limit))
            }
        }
        if json {
            print(JSON.object([("results", .array(rows.map { $0.toJSON() })), ("bandwidth_bound", bound)]).text())
        } else {
            print(benchTable(rows), terminator: "")
        }
    }
}

Gen.runMain()
