// The calibration sequences (DESIGN §9): documents are tokenized without BOS and concatenated into one token
// stream, cut into ⌊n / (L − 1)⌋ disjoint windows of L − 1 tokens; N of them are chosen by a seeded shuffle
// (SeededRNG), each prefixed with BOS to make a sequence of L. The last round(holdout·N) are held out: the stream's
// last windows (a contiguous tail of the text), the train ones sampled from the windows before them.
// `--generate` sequences (BOS + L − 1 tokens sampled from the float model, seeded) follow with their own split.

import Foundation

public struct CalibSequences: Equatable, Sendable {
    public var seqLen: Int
    /// [N × L], each row starting with BOS.
    public var tokens: [Int32] = []
    /// 0 = train, 1 = held-out.
    public var split: [UInt8] = []
    /// 0 = text, 1 = generated.
    public var origin: [UInt8] = []

    public init(seqLen: Int) { self.seqLen = seqLen }

    public var count: Int { split.count }
    public var trainCount: Int { split.reduce(0) { $0 + ($1 == 0 ? 1 : 0) } }

    /// Sequence i.
    public func sequence(_ i: Int) -> ArraySlice<Int32> { tokens[(i * seqLen)..<((i + 1) * seqLen)] }

    /// Appends one sequence of `seqLen` tokens.
    public mutating func append(_ seq: [Int32], heldOut: Bool, generated: Bool) {
        precondition(seq.count == seqLen)
        tokens += seq
        split.append(heldOut ? 1 : 0)
        origin.append(generated ? 1 : 0)
    }

    /// Held-out count for n sequences: round(fraction·n), at least 1 when fraction > 0 and n ≥ 2, never all of them
    /// when n ≥ 2.
    static func heldOutCount(_ n: Int, _ fraction: Double) -> Int {
        guard fraction > 0, n > 0 else { return 0 }
        var h = Int((fraction * Double(n)).rounded())
        if n >= 2 { h = min(max(h, 1), n - 1) }
        return min(h, n)
    }

    /// The documents' token stream: each tokenized without BOS, concatenated in order.
    public static func tokenStream(_ docs: [TextDocument], tokenizer: Tokenizer) -> [Int32] {
        var out: [Int32] = []
        for d in docs { out += tokenizer.encode(d.text, addBOS: false) }
        return out
    }

    /// Chooses `samples` (nil: every window) sequences of `seqLen` from `stream`; `source` names the text in errors.
    public static func fromText(_ stream: [Int32], seqLen L: Int, samples: Int?, holdout: Double, seed: UInt64, bos: Int32,
                                source: String) throws -> CalibSequences
    {
        guard L >= 2 else { throw TLLMError("", "--seq-len \(L) is too short (at least 2: BOS and one token)") }
        let w = L - 1, windows = stream.count / w
        guard windows >= 1 else {
            throw TLLMError(source, "the text gives \(stream.count) tokens; one sequence of --seq-len \(L) needs \(w) after BOS")
        }
        let n = samples ?? windows
        guard n <= windows else {
            throw TLLMError(source, "the text holds only \(windows) disjoint sequences of \(L) tokens (\(stream.count) tokens); lower --samples or --seq-len, or add --generate")
        }
        // The held-out windows are the stream's last ones: a contiguous tail of the text, so that no document is
        // split between the train and held-out sides (random windows would leave the rest of a held-out story in
        // the train split and the held-out perplexity would reward memorizing it).
        let held = heldOutCount(n, holdout), pool = windows - held, trainN = n - held
        var order = Array(0..<pool)
        var rng = SeededRNG(seed: seed)
        for i in 0..<min(trainN, pool - 1) {  // partial Fisher–Yates: the first trainN are a uniform sample
            let j = i + Int(rng.next() % UInt64(pool - i))
            order.swapAt(i, j)
        }
        var out = CalibSequences(seqLen: L)
        out.tokens.reserveCapacity(n * L)
        for i in 0..<n {
            let s = (i < trainN ? order[i] : pool + (i - trainN)) * w
            out.append([bos] + stream[s..<(s + w)], heldOut: i >= trainN, generated: false)
        }
        return out
    }
}

/// How `--generate` samples (tllm-gen's flags and defaults).
public struct GenerationSettings: Sendable {
    public var temperature: Float = 0.8
    public var topK = 40
    public var topP: Float = 0.95
    public var minP: Float = 0.05
    public var repeatPenalty: Float = 1.0
    public init() {}

    public func toJSON() -> JSON {
        .object([("temp", .double(Double(temperature))), ("top_k", JSON(topK)), ("top_p", .double(Double(topP))),
                 ("min_p", .double(Double(minP))), ("repeat_penalty", .double(Double(repeatPenalty)))])
    }
}

extension CalibSequences {
    /// Appends `count` sequences sampled from `model`: BOS, then L − 1 tokens (past EOS too, so every sequence is
    /// full), sequence i seeded with seed·φ + i. The last round(holdout·count) are held out.
    public mutating func appendGenerated(_ count: Int, model: FloatModel, settings s: GenerationSettings, seed: UInt64,
                                         holdout: Double, bos: Int32, progress: ((Int) -> Void)? = nil) throws
    {
        let held = CalibSequences.heldOutCount(count, holdout)
        for i in 0..<count {
            let sampler = Sampler(temperature: s.temperature, topK: s.topK, topP: s.topP, minP: s.minP,
                                  repeatPenalty: s.repeatPenalty, seed: seed &* 0x9E37_79B9_7F4A_7C15 &+ UInt64(i))
            let r = try model.generate(prompt: [bos], maxTokens: seqLen - 1, sampler: sampler, stopAtEOS: false)
            append([bos] + r.tokens, heldOut: i >= count - held, generated: true)
            progress?(i + 1)
        }
    }
}
