// Tokenizer parts on their own: the normalized JSON round trip, refusals of unsupported tokenizers (by name),
// the streaming decoder on characters split across byte tokens, special tokens before the model, the leading
// space rule, llama.cpp's "default" regex chain, Metaspace and the split behaviors, and long texts without
// whitespace (which a quadratic merge loop would never finish).

import Foundation
import Testing
@testable import TLLMCore

@Suite struct TokenizerUnitTests {
    /// A spec using every normalizer and pre-tokenizer kind, for the JSON round trip.
    static let everyKind = TokenizerSpec(
        model: .spm, tokens: ["<unk>", "<s>", "</s>", "▁a", "b", "<0x41>"], types: [.unknown, .control, .control, .normal, .userDefined, .byte],
        scores: [0, 0, 0, -1.5, 0.1, -.infinity], merges: [.init("▁", "a")], byteLevel: false, byteFallback: true,
        ignoreMerges: true, fuseUnknown: true, normalizers: [.nfc, .prepend("▁"), .replace(from: " ", to: "▁")],
        preTokenizers: [.split(.llama3, .isolated, invert: false), .splitLiteral("x", .mergedWithNext, invert: true),
                        .metaspace(.first, split: true), .byteLevel(addPrefixSpace: true, useRegex: false)],
        addSpacePrefix: true, addBOS: true, addEOS: true, bosId: 1, eosId: 2, unkId: 0, padId: nil, origin: "test")

    @Test func normalizedJSONRoundTripsExactly() throws {
        var specs = [Self.everyKind]
        specs.append(try TokenizerFixtures.hf("llama3").spec)
        specs.append(try TokenizerFixtures.gguf("qwen2").spec)
        if SharedData.available { specs.append(try TokenizerStoriesTests.gguf().spec) }
        for s in specs {
            let text = s.toJSON().text()
            let back = try TokenizerSpec(normalizedJSON: try JSON.parse(text, file: "t"), file: "t")
            #expect(back == s)
            #expect(back.toJSON().text() == text)
            #expect(back.scores.map(\.bitPattern) == s.scores.map(\.bitPattern))
        }
        #expect(TokenizerFixtures.texts.count > 50)
    }

    @Test func normalizedJSONRejectsOtherVersionsAndBadFields() throws {
        var j = Self.everyKind.toJSON()
        j.set("version", 2)
        #expect { try TokenizerSpec(normalizedJSON: j) } throws: { ($0 as? TLLMError)?.message.contains("version 2") == true }
        j = Self.everyKind.toJSON()
        j.set("model", "wordpiece")
        #expect { try TokenizerSpec(normalizedJSON: j) } throws: { ($0 as? TLLMError)?.message.contains("wordpiece") == true }
        j = Self.everyKind.toJSON()
        j.set("bos_id", 99)
        #expect(throws: TLLMError.self) { try TokenizerSpec(normalizedJSON: j) }
    }

    static func refusal(_ body: () throws -> Void) -> String {
        do { try body() } catch let e as TLLMError { return e.description } catch { return "\(error)" }
        return "accepted"
    }

    @Test func unsupportedTokenizersAreRefusedByName() throws {
        let toks: GGUFValue = .array(elem: .string, [.string("a"), .string("b")])
        #expect(Self.refusal { _ = try Tokenizer(ggufMetadata: [("tokenizer.ggml.model", .string("bert")), ("tokenizer.ggml.tokens", toks)], file: "x.gguf") }
            .contains("unsupported tokenizer model \"bert\""))
        #expect(Self.refusal {
            _ = try Tokenizer(ggufMetadata: [("tokenizer.ggml.model", .string("gpt2")), ("tokenizer.ggml.pre", .string("chatglm-bpe")),
                                             ("tokenizer.ggml.tokens", toks), ("tokenizer.ggml.merges", .array(elem: .string, []))], file: "x.gguf")
        }.contains("\"chatglm-bpe\""))
        #expect(Self.refusal { _ = try Tokenizer(ggufMetadata: [("general.name", .string("m"))], file: "x.gguf") }.contains("no tokenizer.ggml.model"))

        let base = try JSON.parse(contentsOf: TokenizerFixtures.dir + "/gpt2.tokenizer.json")
        func hf(_ edit: (inout JSON) -> Void) -> String {
            var j = base
            edit(&j)
            return Self.refusal { _ = try Tokenizer(hfTokenizerJSON: j, config: nil, file: "tokenizer.json") }
        }
        #expect(hf { _ in } == "accepted")
        #expect(hf { $0.set("model", .object([("type", "Unigram"), ("vocab", .array([]))])) }.contains("\"Unigram\""))
        #expect(hf { $0.set("normalizer", .object([("type", "NFKC")])) }.contains("\"NFKC\""))
        #expect(hf { $0.set("pre_tokenizer", .object([("type", "Whitespace")])) }.contains("\"Whitespace\""))
        #expect(hf {
            $0.set("pre_tokenizer", .object([("type", "Split"), ("pattern", .object([("Regex", "\\w+")])), ("behavior", "Isolated")]))
        }.contains("unsupported Split regex \\w+"))
        #expect(hf { $0.set("post_processor", .object([("type", "Exotic")])) }.contains("\"Exotic\""))
        #expect(Self.refusal {
            _ = try normalizedTokenizerJSON(fromContainerFiles: [(Tokenizer.sentencePieceSourceMember, [1, 2, 3])], file: "m.tllm")
        }.contains("tokenizer.model"))
    }

    @Test func completePrefixHoldsOnlyUnfinishedCharacters() {
        let emoji = Array("🦙".utf8), cjk = Array("東".utf8)
        #expect(completePrefixLength([]) == 0)
        #expect(completePrefixLength(Array("ab".utf8)) == 2)
        for k in 1..<4 { #expect(completePrefixLength(Array("a".utf8) + emoji.prefix(k)) == 1) }
        #expect(completePrefixLength(emoji) == 4)
        #expect(completePrefixLength(cjk.prefix(2) + []) == 0)
        #expect(completePrefixLength([0xFF]) == 1)  // never valid: emitted as U+FFFD at once
        #expect(completePrefixLength([0x80, 0x80]) == 2)  // stray continuation bytes
        #expect(completePrefixLength([0xE0, 0x80]) == 2)  // overlong prefix
        #expect(completePrefixLength([0xED, 0xA0]) == 2)  // surrogate prefix
        #expect(completePrefixLength([0xE4, 0x41]) == 2)  // lead then ASCII
    }

    /// Feeds `ids` one at a time; every chunk must be whole characters, and all of them the decoded text.
    static func checkStreaming(_ t: Tokenizer, _ text: String) {
        let ids = t.encode(text)
        var d = StreamingDecoder(t)
        var chunks: [String] = []
        var held = false
        for id in ids {
            let c = d.feed(id)
            if d.pendingByteCount > 0 { held = true }
            chunks.append(c)
        }
        chunks.append(d.finish())
        #expect(!chunks.joined().contains("\u{FFFD}"))
        #expect(chunks.joined() == t.decode(ids))
        #expect(TokenizerFixtures.same(chunks.joined(), text))
        #expect(held, "the text should split characters across tokens: \(text)")
    }

    @Test(.enabled(if: SharedData.available))
    func streamingDecoderOnByteFallbackTokens() throws {
        let t = try TokenizerStoriesTests.gguf()
        let ids = t.encode("東京🦙", addBOS: false)
        #expect(ids.allSatisfy { t.spec.types[Int($0)] == .byte || t.spec.tokens[Int($0)] == "▁" })
        Self.checkStreaming(t, "Lily saw 東京 and a 🦙! é")
    }

    @Test func streamingDecoderOnByteLevelTokens() throws {
        Self.checkStreaming(try TokenizerFixtures.hf("gpt2"), "I love 🦙 and 猫 and 👨‍👩‍👧!")
    }

    @Test(.enabled(if: SharedData.available))
    func specialTokensComeFirstAndSpacePrefixFollowsThem() throws {
        let t = try TokenizerStoriesTests.gguf()
        let a = t.encode("Once<s>Once</s>", addBOS: false)
        let once = t.encode("Once", addBOS: false)
        #expect(a == once + [1] + once + [2])  // a space prefix again after a special token, as llama.cpp
        #expect(try TokenizerStoriesTests.hf().encode("Once<s>Once</s>", addBOS: false) == a)
        #expect(!t.encode("<s>", addBOS: false, parseSpecial: false).contains(1))
        #expect(t.encode("<unk>", addBOS: false) == [0])
        // The leading-space rule: encoding adds "▁", decoding drops one space; other spaces survive.
        for s in ["", " ", "  two  spaces ", "\n\nnewlines", "tab\there"] {
            #expect(t.decode(t.encode(s)) == s)
        }
        #expect(t.encode("") == [1])
        #expect(t.decode([1, 2], special: true) == "<s></s>")
    }

    @Test func llamaCppDefaultRegexChain() {
        var p = PreTokenizedText(Array("Hello, world!! 1234567 x".utf8), atStart: true)
        for s in TokenizerSpec.ggufPreTokenizers["default"]! { p.apply(.split(s, .isolated, invert: false)) }
        #expect(p.words.map { String(decoding: p.buffer[$0], as: UTF8.self) } == ["Hello", ",", " world", "!!", " ", "123", "456", "7", " x"])
    }

    @Test func metaspaceAndSplitBehaviors() {
        var p = PreTokenizedText(Array("Hello world  x".utf8), atStart: true)
        p.apply(.metaspace(.first, split: true))
        #expect(p.words.map { String(decoding: p.buffer[$0], as: UTF8.self) } == ["▁Hello", "▁world", "▁", "▁x"])
        var q = PreTokenizedText(Array("mid".utf8), atStart: false)
        q.apply(.metaspace(.first, split: false))
        #expect(String(decoding: q.buffer, as: UTF8.self) == "mid")  // "first": only at the start of the text
        let pieces: [(lo: Int, hi: Int, match: Bool)] = [(0, 1, false), (1, 2, true), (2, 3, true), (3, 5, false)]
        func run(_ b: TokenizerSpec.SplitBehavior) -> [[Int]] { SplitPieces.apply(b, pieces).map { [$0.lo, $0.hi] } }
        #expect(run(.isolated) == [[0, 1], [1, 2], [2, 3], [3, 5]])
        #expect(run(.removed) == [[0, 1], [3, 5]])
        #expect(run(.mergedWithPrevious) == [[0, 2], [2, 3], [3, 5]])
        #expect(run(.mergedWithNext) == [[0, 1], [1, 2], [2, 5]])
        #expect(run(.contiguous) == [[0, 1], [1, 3], [3, 5]])
    }

    @Test func equalMergesApplyLeftmostFirst() throws {
        // "aaa": the pairs (0,1) and (1,2) are the same token with the same score / rank; the left one wins.
        let spm = try Tokenizer(spec: TokenizerSpec(model: .spm, tokens: ["<unk>", "a", "aa", "b"], types: [.unknown, .normal, .normal, .normal],
                                                    scores: [0, -2, -1, -2], unkId: 0))
        #expect(spm.encode("aaa") == [2, 1])
        #expect(spm.encode("aaaaa") == [2, 2, 1])
        #expect(spm.encode("aac") == [2, 0])  // no byte tokens: unknown
        let bpe = try Tokenizer(spec: TokenizerSpec(model: .bpe, tokens: ["a", "aa", "b", "ab"], types: [.normal, .normal, .normal, .normal],
                                                    merges: [.init("a", "b"), .init("a", "a")]))
        #expect(bpe.encode("aaa") == [1, 0])
        #expect(bpe.encode("aab") == [0, 3])  // rank 0 ("a b") before rank 1 ("a a")
    }

    @Test func runsAreCutAtSpaceMarksOnlyWhenNoTokenCrossesThem() throws {
        func spm(_ extra: String) throws -> Tokenizer {
            let toks = ["<unk>", "▁", "a", "▁a", "▁▁", extra]
            return try Tokenizer(spec: TokenizerSpec(model: .spm, tokens: toks, types: toks.map { _ in .normal }, scores: [0, -1, -1, -0.5, -0.2, 5],
                                                     normalizers: [.replace(from: " ", to: "▁")], unkId: 0))
        }
        #expect(try spm("▁▁▁").cutsAtSpaceMarks)
        let crossing = try spm("a▁")
        #expect(!crossing.cutsAtSpaceMarks)
        #expect(crossing.encode(" a a") == [1, 5, 2])  // "▁", "a▁", "a": the merge crosses the "▁"
    }

    @Test(.timeLimit(.minutes(1)))
    func longTextsWithoutWhitespaceStayFast() throws {
        let long = String(repeating: "ab東", count: 40_000)  // 120k chars, one word for every pipeline
        let t = try TokenizerFixtures.hf("llama3")
        let ids = t.encode(long, addBOS: false)
        #expect(t.decode(ids) == long)
        if SharedData.available {
            let s = try TokenizerStoriesTests.gguf()
            #expect(s.decode(s.encode(long)) == long)
            #expect(try TokenizerStoriesTests.hf().encode(long) == s.encode(long))
        }
    }
}
