// Calibration text input (CalibText) and sequence choice (CalibSequences): the same documents from plain,
// gzip/xz/zstd/bzip2-compressed and tar inputs; JSON Lines records; errors naming the file and line; seeded,
// disjoint windows with a held-out tail.

import Foundation
import Testing
@testable import TLLMCore

/// Runs a command-line tool (gzip, tar…) for fixtures; fails the test when it fails.
func shell(_ args: [String], cwd: URL? = nil) throws {
    let p = Process()
    p.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    p.arguments = args
    if let cwd { p.currentDirectoryURL = cwd }
    try p.run()
    p.waitUntilExit()
    guard p.terminationStatus == 0 else { throw TLLMError("", "\(args.joined(separator: " ")) failed") }
}

struct CalibTextTests {
    static let textA = "Once upon a time, there was a cat.\n\nThe cat saw a 🐶 and said \"hi\".\n"
    static let textB = "Lily liked to play.\nShe played all day.\n"

    @Test func compressedAndTarInputsGiveTheSameDocuments() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let a = dir.appendingPathComponent("a.txt"), b = dir.appendingPathComponent("b.txt")
        try Data(Self.textA.utf8).write(to: a)
        try Data(Self.textB.utf8).write(to: b)
        for (tool, ext) in [("gzip", "gz"), ("xz", "xz"), ("zstd", "zst"), ("bzip2", "bz2")] {
            try shell([tool, "-k", "-q", a.path])
            let docs = try CalibText.readAll([a.path + "." + ext], field: nil)
            #expect(docs.map(\.text) == [Self.textA], "\(ext)")
            #expect(docs.first?.source == a.path + "." + ext)
        }
        try shell(["tar", "cf", "ab.tar", "a.txt", "b.txt"], cwd: dir)
        try shell(["tar", "czf", "ab.tar.gz", "a.txt", "b.txt"], cwd: dir)
        let plain = try CalibText.readAll([a.path, b.path], field: nil).map(\.text)
        for t in ["ab.tar", "ab.tar.gz"] {
            let docs = try CalibText.readAll([dir.appendingPathComponent(t).path], field: nil)
            #expect(docs.map(\.text) == plain)
            #expect(docs.map { $0.source.split(separator: ":").last! } == ["a.txt", "b.txt"])
        }
    }

    @Test func jsonLinesRecordsAndTheirErrors() throws {
        let dir = makeTempDir()
        defer { try? FileManager.default.removeItem(at: dir) }
        let j = dir.appendingPathComponent("d.jsonl")
        let lines = [#"{"text": "Once upon a time, there was a cat.", "id": 1}"#, "", #"{"id": 2, "text": "She played \u00e9 all day.\n"}"#]
        try Data(lines.joined(separator: "\n").utf8).write(to: j)
        let docs = try CalibText.readAll([j.path], field: "text")
        #expect(docs.map(\.text) == ["Once upon a time, there was a cat.", "She played é all day.\n"])
        #expect(docs.map(\.source) == [j.path + ":1", j.path + ":3"])
        try shell(["gzip", "-k", j.path])
        #expect(try CalibText.readAll([j.path + ".gz"], field: "text").map(\.text) == docs.map(\.text))

        func message(_ body: () throws -> Void) -> String {
            do { try body() } catch let e as TLLMError { return e.description } catch { return "\(error)" }
            return "no error"
        }
        #expect(message { _ = try CalibText.readAll([j.path], field: "body") } == "\(j.path): line 1: no field \"body\"")
        #expect(message { _ = try CalibText.readAll([j.path], field: "id") } == "\(j.path): line 1: field \"id\" is not a string")
        #expect(message { _ = try CalibText.readAll([j.path], field: nil) }.contains("give --field NAME"))
        try Data("{\"text\": \"a\"}\nnot json\n".utf8).write(to: j)
        #expect(message { _ = try CalibText.readAll([j.path], field: "text") }.hasPrefix("\(j.path): line 2: not JSON"))
        try Data([0x66, 0xFF, 0x66]).write(to: j)
        #expect(message { _ = try CalibText.readAll([j.path], field: nil) } == "\(j.path): is not UTF-8 text")
        #expect(message { _ = try CalibText.readAll([dir.appendingPathComponent("none.txt").path], field: nil) }.hasSuffix("no such file or directory"))
        let empty = dir.appendingPathComponent("empty.txt")
        try Data().write(to: empty)
        #expect(try CalibText.readAll([empty.path], field: nil).allSatisfy { $0.text.isEmpty })
    }

    @Test func sequencesAreSeededDisjointWindowsWithBOS() throws {
        let stream = (0..<1000).map { Int32(100 + $0) }
        let a = try CalibSequences.fromText(stream, seqLen: 11, samples: 30, holdout: 0.1, seed: 5, bos: 1, source: "t")
        let b = try CalibSequences.fromText(stream, seqLen: 11, samples: 30, holdout: 0.1, seed: 5, bos: 1, source: "t")
        let c = try CalibSequences.fromText(stream, seqLen: 11, samples: 30, holdout: 0.1, seed: 6, bos: 1, source: "t")
        #expect(a == b && a != c)
        #expect(a.count == 30 && a.tokens.count == 330 && a.split.filter { $0 == 1 }.count == 3 && Array(a.split.suffix(3)) == [1, 1, 1])
        var starts = Set<Int32>()
        for i in 0..<a.count {
            let s = Array(a.sequence(i))
            #expect(s[0] == 1)
            #expect((s[1] - 100) % 10 == 0 && zip(s.dropFirst(), s.dropFirst(2)).allSatisfy { $1 == $0 + 1 })  // a window
            #expect(starts.insert(s[1]).inserted, "windows must be disjoint")
            // the held-out windows are the stream's last three (the text's tail); train windows all come before them
            #expect((a.split[i] == 1) == (s[1] >= 100 + 970), "held-out split must be the tail of the text")
        }
        let all = try CalibSequences.fromText(stream, seqLen: 11, samples: nil, holdout: 0, seed: 5, bos: 1, source: "t")
        #expect(all.count == 100 && all.trainCount == 100)
        #expect(throws: TLLMError.self) { try CalibSequences.fromText(stream, seqLen: 11, samples: 101, holdout: 0, seed: 5, bos: 1, source: "t") }
        #expect(throws: TLLMError.self) { try CalibSequences.fromText(Array(stream.prefix(5)), seqLen: 11, samples: nil, holdout: 0, seed: 5, bos: 1, source: "t") }
        #expect(CalibSequences.heldOutCount(2, 0.1) == 1 && CalibSequences.heldOutCount(1, 0.5) == 1 && CalibSequences.heldOutCount(10, 0) == 0)
    }

    @Test func layerSelectionParsing() throws {
        #expect(try LayerSelection(parsing: "all").layers(3) == [0, 1, 2])
        #expect(try LayerSelection(parsing: "none").layers(3) == [])
        #expect(try LayerSelection(parsing: "2,0,2").layers(3) == [0, 2])
        #expect(throws: TLLMError.self) { try LayerSelection(parsing: "0,x") }
        #expect(throws: TLLMError.self) { try LayerSelection(parsing: "3").layers(3) }
    }
}
