// What tllm-gen needs from a model, whichever file it came from: FloatModel (float containers, GGUF, HF) and
// PackedModel (.tpk) both conform, so generation, perplexity and the benchmark run either through one
// existential. `loadLanguageModel` picks the type by the container's kind.

import Foundation

public protocol LanguageModel: AnyObject {
    var config: ModelConfig { get }
    var parameterCount: Int { get }
    var weightBytesPerToken: Int { get }
    func forward(tokens: [Int32], cache: KVCache?, logitsFrom: Int, blockOutput: FloatModel.BlockOutputHandler?) throws -> [Float]
    func step(token: Int32, position: Int, cache: KVCache) throws -> [Float]
    func makeCache(capacity: Int?) -> KVCache
    func generate(prompt: [Int32], maxTokens: Int, sampler: Sampler, stopAtEOS: Bool, onToken: ((Int32) -> Bool)?) throws -> GenerationResult
    func perplexity(tokens: [Int32], context nCtx: Int, bos: Int32?, progress: PerplexityProgress?) throws -> PerplexityResult
    func benchmark(promptTokens: Int, genTokens: Int, repetitions: Int, seed: UInt64) throws -> ForwardBenchResult
}

extension LanguageModel {
    /// `forward` without a cache or block hook (perplexity, batched logits).
    public func forward(tokens: [Int32], logitsFrom: Int = 0) throws -> [Float] {
        try forward(tokens: tokens, cache: nil, logitsFrom: logitsFrom, blockOutput: nil)
    }
}

extension FloatModel: LanguageModel {}
extension PackedModel: LanguageModel {}

/// Opens `path` as a PackedModel when it is a packed container, else as a FloatModel (any ModelSource;
/// `storage` converts its weights). The tokenizer comes from the same file (`tokenizer.json` member).
public func loadLanguageModel(_ path: String, threads: Int = FloatModel.defaultThreads, storage: DType? = nil) throws -> LanguageModel {
    if path != "-", (try? detectModelFile(path)) == .container,
       try ContainerReader(path: path, verify: false).manifest.kind == .packed {  // reads only the manifest
        return try PackedModel(path: path, threads: threads)
    }
    return try FloatModel(source: try openModel(path), storage: storage, threads: threads)
}
