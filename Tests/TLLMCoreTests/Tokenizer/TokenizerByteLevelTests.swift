// Byte-level BPE (GPT-2 / LLaMA-3 / Qwen2 pipelines) against the HF `tokenizers` library: the fixtures in
// Fixtures/tokenizer were made by scripts/tokenizer/make_bpe_fixture.py (one trained vocabulary, three
// pipelines, each as tokenizer.json and as a GGUF). Ids must equal the library's for every text, from both
// sources; each split regex must cut every text exactly where the library's regex does; decode inverts encode.

import Foundation
import Testing
@testable import TLLMCore

enum TokenizerFixtures {
    static let dir = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .appendingPathComponent("Fixtures/tokenizer").path

    static let expected: JSON = try! JSON.parse(contentsOf: dir + "/expected.json")
    static var texts: [String] { expected["texts"]!.array!.map { $0.string! } }

    static func ids(_ style: String) -> [[Int32]] {
        expected["ids"]![style]!.array!.map { $0.array!.map { Int32($0.int!) } }
    }

    static func hf(_ style: String) throws -> Tokenizer {
        let path = dir + "/\(style).tokenizer.json"
        return try Tokenizer(hfTokenizerJSON: try JSON.parse(contentsOf: path), config: nil, file: path)
    }

    static func gguf(_ style: String) throws -> Tokenizer {
        let g = try GGUFFile(path: dir + "/\(style).gguf")
        return try Tokenizer(ggufMetadata: g.metadata, file: g.path)
    }

    /// Equal as code point sequences (Swift's == on String is canonical equivalence, too lenient here).
    static func same(_ a: String, _ b: String) -> Bool { Array(a.unicodeScalars) == Array(b.unicodeScalars) }

    static func nfc(_ s: String) -> String { s.precomposedStringWithCanonicalMapping }
}

@Suite struct TokenizerByteLevelTests {
    static let styles = ["llama3", "gpt2", "qwen2"]

    @Test(arguments: styles)
    func idsEqualHFTokenizersFromTokenizerJSON(_ style: String) throws {
        let t = try TokenizerFixtures.hf(style)
        #expect(t.spec.byteLevel && t.spec.model == .bpe)
        for (text, want) in zip(TokenizerFixtures.texts, TokenizerFixtures.ids(style)) {
            let got = t.encode(text)
            #expect(got == want, "\(style): \(text.debugDescription.prefix(80))")
        }
    }

    @Test(arguments: styles)
    func idsEqualHFTokenizersFromGGUF(_ style: String) throws {
        let t = try TokenizerFixtures.gguf(style)
        #expect(t.spec.byteLevel && t.spec.ignoreMerges == (style == "llama3"))
        for (text, want) in zip(TokenizerFixtures.texts, TokenizerFixtures.ids(style)) {
            // llama.cpp does not NFC-normalize (Qwen2's tokenizer.json does): compare only where NFC is a no-op.
            if style == "qwen2" && !TokenizerFixtures.same(text, TokenizerFixtures.nfc(text)) { continue }
            #expect(t.encode(text) == want, "\(style): \(text.debugDescription.prefix(80))")
        }
    }

    @Test(arguments: styles)
    func ggufAndTokenizerJSONGiveTheSameVocabulary(_ style: String) throws {
        let a = try TokenizerFixtures.hf(style).spec, b = try TokenizerFixtures.gguf(style).spec
        #expect(a.tokens == b.tokens && a.types == b.types && a.merges == b.merges)
        #expect(a.bosId == b.bosId && a.addBOS == b.addBOS && a.addBOS == (style == "llama3"))
        #expect(a.types[a.tokens.firstIndex(of: "<tool>")!] == .userDefined)
        #expect(a.types[a.tokens.firstIndex(of: "<|eot_id|>")!] == .control)
    }

    @Test(arguments: styles)
    func decodeInvertsEncode(_ style: String) throws {
        for t in [try TokenizerFixtures.hf(style), try TokenizerFixtures.gguf(style)] {
            for text in TokenizerFixtures.texts {
                let want = t.spec.normalizers.contains(.nfc) ? TokenizerFixtures.nfc(text) : text
                let ids = t.encode(text, addBOS: false)
                #expect(TokenizerFixtures.same(t.decode(ids, special: true), want), "\(style): \(text.debugDescription.prefix(80))")
                if !text.contains("<|") {
                    #expect(TokenizerFixtures.same(t.decode(t.encode(text)), want))
                }
            }
        }
    }

    @Test(arguments: [("llama3", TokenizerSpec.SplitPattern.llama3), ("qwen2", .qwen2), ("gpt2", .gpt2)])
    func splitRegexCutsWhereTheLibraryDoes(_ name: String, _ pattern: TokenizerSpec.SplitPattern) throws {
        let want = TokenizerFixtures.expected["pieces"]![name]!.array!.map { $0.array!.map { $0.int! } }
        for (text, lengths) in zip(TokenizerFixtures.texts, want) {
            var p = PreTokenizedText(Array(text.utf8), atStart: true)
            p.apply(.split(pattern, .isolated, invert: false))
            let got = p.words.map { String(decoding: p.buffer[$0], as: UTF8.self).unicodeScalars.count }
            #expect(got == lengths, "\(name): \(text.debugDescription.prefix(80))")
        }
    }

    @Test func specialAndAddedTokensAreMatchedFirst() throws {
        let t = try TokenizerFixtures.hf("llama3")
        let bos = t.tokenId("<|begin_of_text|>")!, eot = t.tokenId("<|eot_id|>")!, tool = t.tokenId("<tool>")!
        let ids = t.encode("<|eot_id|><tool>x<|eot_id|>", addBOS: false)
        #expect(ids.first == eot && ids.last == eot && ids[1] == tool)
        #expect(t.encode("")  == [bos])
        // Without parseSpecial, control tokens are plain text; user-defined ones still match.
        let plain = t.encode("<|eot_id|><tool>", addBOS: false, parseSpecial: false)
        #expect(!plain.contains(eot) && plain.last == tool && plain.count > 2)
        #expect(t.decode(plain) == "<|eot_id|><tool>")
        // Control tokens print only when asked.
        #expect(t.decode([bos, eot]) == "" && t.decode([bos, eot], special: true) == "<|begin_of_text|><|eot_id|>")
    }

    @Test func containerRouteForByteLevel() throws {
        let data = try Data(contentsOf: URL(fileURLWithPath: TokenizerFixtures.dir + "/llama3.tokenizer.json"))
        let norm = try #require(try normalizedTokenizerJSON(fromContainerFiles: [(Tokenizer.hfSourceMember, Array(data))]))
        let t = try Tokenizer.load(containerFiles: [(Tokenizer.containerMember, Array(norm.text(pretty: false).utf8))])
        for (text, want) in zip(TokenizerFixtures.texts, TokenizerFixtures.ids("llama3")) { #expect(t.encode(text) == want) }
    }
}
