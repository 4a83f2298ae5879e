// libFuzzer entry: parse arbitrary bytes as a GGUF file, dequantize every tensor and try the model import.
// Any crash is a bug; TLLMError is the expected outcome for bad input.
import TLLMCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let file = MappedFile(path: "fuzz.gguf", copying: UnsafeRawBufferPointer(start: data, count: size))
    guard let g = try? GGUFFile(file: file) else { return 0 }
    for t in g.tensors { _ = try? g.floats(t) }
    for (_, v) in g.metadata { _ = v.typedJSON.text(pretty: false) }
    return 0
}
