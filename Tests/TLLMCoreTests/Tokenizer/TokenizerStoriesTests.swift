// stories260K's SentencePiece-BPE tokenizer against llama.cpp's ids (../shared golden files): the whole of
// calib.txt (193,801 ids with BOS; count, first 32, last 8) and the "Once upon a time" prompt, loaded from the
// GGUF metadata (llama.cpp's score merges) and from hf/tokenizer.json (HF's rank merges), which must agree on
// every id; plus the container route (carried source files → normalized member → tokenizer) and decode.

import Foundation
import Testing
@testable import TLLMCore

@Suite struct TokenizerStoriesTests {
    static func gguf() throws -> Tokenizer {
        let g = try GGUFFile(path: SharedData.stories + "/stories260K-F32.gguf")
        return try Tokenizer(ggufMetadata: g.metadata, file: g.path)
    }

    static func hf() throws -> Tokenizer {
        let dir = SharedData.stories + "/hf"
        return try Tokenizer(hfTokenizerJSON: try JSON.parse(contentsOf: dir + "/tokenizer.json"),
                             config: try JSON.parse(contentsOf: dir + "/tokenizer_config.json"), file: dir + "/tokenizer.json")
    }

    static func calibText() throws -> String {
        try String(contentsOfFile: SharedData.path("data/tinystories/calib.txt"), encoding: .utf8)
    }

    static func golden() throws -> (count: Int, first: [Int32], last: [Int32]) {
        let j = try JSON.parse(contentsOf: SharedData.stories + "/golden/ppl_calib.json")
        let ids = { (k: String) in (j[k]?.array ?? []).map { Int32($0.int!) } }
        return (j["n_tokens_including_leading_bos"]!.int!, ids("first_32_token_ids"), ids("last_8_token_ids"))
    }

    static func checkCalib(_ ids: [Int32]) throws {
        let g = try golden()
        #expect(ids.count == g.count)
        #expect(Array(ids.prefix(32)) == g.first)
        #expect(Array(ids.suffix(8)) == g.last)
    }

    @Test(.enabled(if: SharedData.available))
    func ggufMetadataReadsAsLlamaCppDoes() throws {
        let t = try Self.gguf()
        #expect(t.vocabSize == 512)
        #expect(t.bosId == 1 && t.eosId == 2 && t.addsBOS)
        #expect(t.spec.model == .spm && t.spec.addSpacePrefix && t.spec.unkId == 0)
        #expect(t.spec.types[0] == .unknown && t.spec.types[1] == .control && t.spec.types[3] == .byte)
    }

    @Test(.enabled(if: SharedData.available))
    func promptIdsFromBothSources() throws {
        let j = try JSON.parse(contentsOf: SharedData.stories + "/golden/greedy_once_upon_a_time.json")
        let want = j["prompt_ids"]!.array!.map { Int32($0.int!) }
        #expect(want == [1, 403, 407, 261, 378])
        for t in [try Self.gguf(), try Self.hf()] {
            #expect(t.encode("Once upon a time") == want)
            #expect(t.encode("Once upon a time", addBOS: false) == Array(want.dropFirst()))
            #expect(t.decode(want) == "Once upon a time")
        }
    }

    @Test(.enabled(if: SharedData.available))
    func wholeCalibFileMatchesLlamaCppFromGGUFAndHF() throws {
        let text = try Self.calibText()
        let a = try Self.gguf().encode(text)
        try Self.checkCalib(a)
        let b = try Self.hf().encode(text)
        try Self.checkCalib(b)
        #expect(a == b, "GGUF (score merges) and tokenizer.json (rank merges) must give identical ids")
        // Both cut the run before each "▁" (no stories260K token has "▁" inside); the ids are those of llama.cpp,
        // which merges the whole file as one run.
        #expect(try Self.gguf().cutsAtSpaceMarks && Self.hf().cutsAtSpaceMarks)
        #expect(try Self.gguf().decode(a) == text)
    }

    @Test(.enabled(if: SharedData.available), arguments: [false, true])
    func metaspacePipelineGivesTheSameIds(_ split: Bool) throws {
        // The newer (Mistral, TinyLlama) form of the same pipeline: no normalizer, Metaspace pre-tokenizer.
        var j = try JSON.parse(contentsOf: SharedData.stories + "/hf/tokenizer.json")
        j.set("normalizer", .null)
        j.set("pre_tokenizer", .object([("type", "Metaspace"), ("replacement", "▁"), ("prepend_scheme", "first"), ("split", .bool(split))]))
        let t = try Tokenizer(hfTokenizerJSON: j, config: nil, file: "tokenizer.json")
        #expect(t.spec.addSpacePrefix)
        let text = try Self.calibText()
        try Self.checkCalib(t.encode(text))
        #expect(t.decode(t.encode(text)) == text)
    }

    @Test(.enabled(if: SharedData.available))
    func hfAndGGUFSpecsAgreeOnVocabulary() throws {
        let a = try Self.gguf().spec, b = try Self.hf().spec
        #expect(a.tokens == b.tokens)
        #expect(a.types == b.types)
        #expect(a.bosId == b.bosId && a.eosId == b.eosId && a.unkId == b.unkId && a.addBOS == b.addBOS)
        #expect(a.addSpacePrefix && b.addSpacePrefix)
    }

    @Test(.enabled(if: SharedData.available))
    func containerRouteFromCarriedFiles() throws {
        // What GGUFSource and HFSource carry into a container, then what a reader of that container sees.
        let g = try GGUFFile(path: SharedData.stories + "/stories260K-F32.gguf")
        let tok = g.metadata.filter { $0.0.hasPrefix("tokenizer.") }
        let ggufFiles: [(name: String, bytes: [UInt8])] = [(GGUFSource.tokenizerMember, Array(GGUFValue.typedJSON(tok).text().utf8))]
        let dir = SharedData.stories + "/hf"
        let hfFiles: [(name: String, bytes: [UInt8])] = try ["tokenizer.json", "tokenizer_config.json", "tokenizer.model"].map {
            ("source/" + $0, Array(try Data(contentsOf: URL(fileURLWithPath: dir + "/" + $0))))
        }
        let text = try String(Self.calibText().prefix(20000))
        let want = try Self.gguf().encode(text)
        for files in [ggufFiles, hfFiles] {
            let norm = try #require(try normalizedTokenizerJSON(fromContainerFiles: files, file: "m.tllm"))
            // The normalized member alone is enough, and it wins over the source files.
            let withMember = files + [(Tokenizer.containerMember, Array(norm.text().utf8))]
            #expect(try Tokenizer.load(containerFiles: [(Tokenizer.containerMember, Array(norm.text().utf8))]).encode(text) == want)
            #expect(try Tokenizer.load(containerFiles: withMember).encode(text) == want)
            #expect(try Tokenizer.load(containerFiles: files).encode(text) == want)
        }
        #expect(try normalizedTokenizerJSON(fromContainerFiles: []) == nil)
        #expect(throws: TLLMError.self) { try Tokenizer.load(containerFiles: [], file: "m.tllm") }
    }

    @Test(.enabled(if: SharedData.available))
    func streamingDecodeOfGoldenContinuationEqualsDecode() throws {
        let j = try JSON.parse(contentsOf: SharedData.stories + "/golden/greedy_once_upon_a_time.json")
        let gen = j["greedy"]!["generated_ids"]!.array!.map { Int32($0.int!) }
        let t = try Self.gguf()
        var d = StreamingDecoder(t, stripLeadingSpace: false)
        var s = ""
        for id in gen { s += d.feed(id) }
        s += d.finish()
        #expect(s == String(t.decode([1, 403] + gen).dropFirst("Once".count)))
        #expect(s == j["greedy"]!["continuation_text"]!.string!)
        #expect("Once upon a time" + s == j["greedy"]!["full_text_without_bos"]!.string!)
    }
}
