// tllm-gen: run a model — today tokenize and detokenize with its tokenizer. The work lives in TLLMCore.

import ArgumentParser
import Foundation
import TLLMCore

struct Gen: TLLMCommand {
    static let toolName = "tllm-gen"
    static let configuration = CommandConfiguration(
        commandName: "tllm-gen",
        abstract: "Run a model: tokenize and detokenize text with its tokenizer.",
        discussion: """
            The model is a tllm container, a GGUF file or a Hugging Face directory; its tokenizer comes from \\
            the container's tokenizer.json, the GGUF's tokenizer.ggml.* metadata or tokenizer.json.

            --tokenize reads text (--file, or stdin) and prints the token ids as whitespace-separated decimals \\
            on stdout, BOS included when the model adds one. --detokenize reads ids the same way and prints \\
            the text.

            Examples:
              echo "Once upon a time" | tllm-gen --model model.tllm --tokenize
              tllm-gen --model model.gguf --tokenize --file story.txt --no-bos
              tllm-gen --model model.tllm --tokenize --file a.txt | tllm-gen --model model.tllm --detokenize
            """,
        version: tllmVersion)

    @Option(name: [.short, .long], help: ArgumentHelp("The model (tllm container, GGUF or HF directory).", valueName: "path"))
    var model: String

    @Flag(help: "Print the token ids of the input text.")
    var tokenize = false

    @Flag(help: "Print the text of the input token ids.")
    var detokenize = false

    @Option(name: [.short, .long], help: ArgumentHelp("Read the input from this file instead of stdin.", valueName: "path"))
    var file: String?

    @Flag(help: "With --tokenize: do not add the BOS token even if the model adds one.")
    var noBos = false

    @Flag(help: "With --detokenize: print special tokens (BOS, EOS) as text.")
    var special = false

    func validate() throws {
        if tokenize == detokenize { throw ValidationError("choose one mode: --tokenize or --detokenize") }
    }

    func input() throws -> [UInt8] {
        if let f = file, f != "-" {
            guard let d = FileManager.default.contents(atPath: f) else { throw TLLMError(f, "cannot read") }
            return [UInt8](d)
        }
        return try readAll(fd: 0, name: "-")
    }

    func execute() throws {
        let tok = try loadTokenizer(forModel: model)
        let bytes = try input()
        let name = file ?? "-"
        if tokenize {
            guard let text = String(validating: bytes, as: UTF8.self) else { throw TLLMError(name, "input is not valid UTF-8") }
            let ids = tok.encode(text, addBOS: noBos ? false : nil)
            var out = ids.map(String.init).joined(separator: " ")
            out += "\n"
            FileHandle.standardOutput.write(Data(out.utf8))
        } else {
            var ids: [Int32] = []
            for (i, word) in String(decoding: bytes, as: UTF8.self).split(whereSeparator: { $0.isWhitespace }).enumerated() {
                guard let id = Int32(word), id >= 0, Int(id) < tok.vocabSize else {
                    throw TLLMError(name, "word \(i + 1) (\"\(word.prefix(20))\") is not a token id of this model (0..<\(tok.vocabSize))")
                }
                ids.append(id)
            }
            FileHandle.standardOutput.write(Data(tok.decodeBytes(ids, special: special)))
        }
    }
}

Gen.runMain()
