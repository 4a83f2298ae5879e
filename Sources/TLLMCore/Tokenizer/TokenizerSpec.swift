// The normalized tokenizer description: everything encode/decode needs, whatever the source (GGUF metadata or
// HF tokenizer.json), written into a container as its `tokenizer.json` member (DESIGN §2, §5). One pipeline:
// text → special-token split → normalizers → pre-tokenizers → model ("spm": llama.cpp score merges, or "bpe":
// merges by rank) → ids. `toJSON()` and `init(normalizedJSON:)` invert each other exactly.

/// Token types, numbered as GGUF's `tokenizer.ggml.token_type` (llama.cpp's `llama_token_type`).
public enum TokenType: Int, Sendable, CaseIterable {
    case normal = 1, unknown = 2, control = 3, userDefined = 4, unused = 5, byte = 6
}

public struct TokenizerSpec: Equatable, Sendable {
    /// How words become ids. `spm`: llama.cpp's `llm_tokenizer_spm` (merge the adjacent pair whose merged text
    /// is the highest-scoring token; unknown symbols become `<0xXX>` byte tokens). `bpe`: merges ranked by
    /// their order in `merges` (HF tokenizers' BPE and llama.cpp's `llm_tokenizer_bpe`).
    public enum Model: String, Sendable, CaseIterable { case spm, bpe }

    /// Text rewrites applied to each run of text between special tokens, in order.
    public enum Normalizer: Equatable, Sendable {
        case nfc
        /// Prepends the text to a non-empty run (HF `Prepend`; llama.cpp's add_space_prefix).
        case prepend(String)
        /// Replaces every occurrence of `from` with `to` (HF `Replace` with a string pattern).
        case replace(from: String, to: String)
    }

    /// The split patterns implemented (by hand, over Unicode categories; see SplitPatterns.swift).
    public enum SplitPattern: String, Sendable, CaseIterable {
        case gpt2  // 's|'t|'re|'ve|'m|'ll|'d| ?\p{L}+| ?\p{N}+| ?[^\s\p{L}\p{N}]+|\s+(?!\S)|\s+
        case llama3  // (?i:'s|'t|'re|'ve|'m|'ll|'d)|[^\r\n\p{L}\p{N}]?\p{L}+|\p{N}{1,3}| ?[^\s\p{L}\p{N}]+[\r\n]*|\s*[\r\n]+|\s+(?!\S)|\s+
        case qwen2  // llama3 with \p{N} in place of \p{N}{1,3}
        case punctuation  // [\p{P}\$\+<=>\^~\|]+  (llama.cpp's "default" pre-tokenizer, first regex)
        case numbers  // \p{N}+
        case asciiDigitTriples  // [0-9][0-9][0-9]
        case numberChar  // \p{N}  (HF Digits)
    }

    /// What a split keeps of the matches, as HF's `SplitDelimiterBehavior`.
    public enum SplitBehavior: String, Sendable, CaseIterable {
        case isolated, removed, mergedWithPrevious = "merged_with_previous", mergedWithNext = "merged_with_next", contiguous
    }

    /// Metaspace's rule for putting "▁" in front of a piece.
    public enum PrependScheme: String, Sendable, CaseIterable { case always, first, never }

    /// Steps that cut normalized text into words; the model then encodes each word on its own.
    public enum PreTokenizer: Equatable, Sendable {
        case split(SplitPattern, SplitBehavior, invert: Bool)
        /// Split on a literal string.
        case splitLiteral(String, SplitBehavior, invert: Bool)
        /// HF `ByteLevel`: optionally " " in front of each piece, optionally the GPT-2 split. The byte → char
        /// mapping itself is the model's `byteLevel` flag.
        case byteLevel(addPrefixSpace: Bool, useRegex: Bool)
        /// HF `Metaspace` with replacement "▁": " " → "▁", the prepend scheme, optionally split before each "▁".
        case metaspace(PrependScheme, split: Bool)
    }

    public struct Merge: Equatable, Sendable {
        public var left: String
        public var right: String
        public init(_ left: String, _ right: String) {
            self.left = left
            self.right = right
        }
    }

    public var model: Model
    /// Token texts by id. Normal tokens of a byte-level vocabulary are in GPT-2's byte → char form.
    public var tokens: [String]
    public var types: [TokenType]
    /// One score per token for `spm` (higher merges first); empty for `bpe`.
    public var scores: [Float]
    /// `bpe` merges, rank order.
    public var merges: [Merge]
    /// Bytes map to chars by GPT-2's byte-to-unicode table before the model (and back on decode).
    public var byteLevel: Bool
    /// `bpe`: a char that is not a token becomes its `<0xXX>` byte tokens (HF `byte_fallback`).
    public var byteFallback: Bool
    /// `bpe`: a word that is a token as a whole is that token, without merging (HF `ignore_merges`).
    public var ignoreMerges: Bool
    /// `bpe`: consecutive unknown chars become one unknown token (HF `fuse_unk`).
    public var fuseUnknown: Bool
    public var normalizers: [Normalizer]
    public var preTokenizers: [PreTokenizer]
    /// Encoding puts a space ("▁") in front of the text; decoding drops one leading space to invert it.
    public var addSpacePrefix: Bool
    public var addBOS: Bool
    public var addEOS: Bool
    public var bosId: Int32?
    public var eosId: Int32?
    public var unkId: Int32?
    public var padId: Int32?
    /// Where it came from, for humans ("gguf llama", "gguf gpt2 pre=llama-bpe", "hf tokenizer.json").
    public var origin: String

    public init(model: Model, tokens: [String], types: [TokenType], scores: [Float] = [], merges: [Merge] = [],
                byteLevel: Bool = false, byteFallback: Bool = false, ignoreMerges: Bool = false, fuseUnknown: Bool = false,
                normalizers: [Normalizer] = [], preTokenizers: [PreTokenizer] = [], addSpacePrefix: Bool = false,
                addBOS: Bool = false, addEOS: Bool = false, bosId: Int32? = nil, eosId: Int32? = nil,
                unkId: Int32? = nil, padId: Int32? = nil, origin: String = "")
    {
        self.model = model
        self.tokens = tokens
        self.types = types
        self.scores = scores
        self.merges = merges
        self.byteLevel = byteLevel
        self.byteFallback = byteFallback
        self.ignoreMerges = ignoreMerges
        self.fuseUnknown = fuseUnknown
        self.normalizers = normalizers
        self.preTokenizers = preTokenizers
        self.addSpacePrefix = addSpacePrefix
        self.addBOS = addBOS
        self.addEOS = addEOS
        self.bosId = bosId
        self.eosId = eosId
        self.unkId = unkId
        self.padId = padId
        self.origin = origin
    }

    /// Checks the parts agree with each other (array lengths, ids in range); `file` names the source in errors.
    public func validate(file: String) throws {
        func fail(_ m: String) -> TLLMError { TLLMError(file, "tokenizer: \(m)") }
        guard !tokens.isEmpty else { throw fail("empty vocabulary") }
        guard tokens.count < Int(Int32.max) else { throw fail("vocabulary of \(tokens.count) tokens is too large") }
        guard types.count == tokens.count else { throw fail("\(types.count) token types for \(tokens.count) tokens") }
        if model == .spm {
            guard scores.count == tokens.count else { throw fail("\(scores.count) scores for \(tokens.count) tokens") }
        }
        for (name, id) in [("bos", bosId), ("eos", eosId), ("unk", unkId), ("pad", padId)] {
            if let id, id < 0 || Int(id) >= tokens.count { throw fail("\(name) id \(id) is outside the vocabulary of \(tokens.count)") }
        }
        if addBOS && bosId == nil { throw fail("adds a BOS token but has no BOS id") }
        if addEOS && eosId == nil { throw fail("adds an EOS token but has no EOS id") }
        if let i = preTokenizers.firstIndex(where: { if case .byteLevel = $0 { return true }; return false }),
            i != preTokenizers.count - 1
        {
            throw fail("a pre-tokenizer after ByteLevel is not supported")
        }
    }
}
