// libFuzzer entry: parse arbitrary bytes as a safetensors file and read every tensor. Any crash is a bug;
// errors (TLLMError) are the expected outcome for bad input.
import TLLMCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let file = MappedFile(path: "fuzz.safetensors", copying: UnsafeRawBufferPointer(start: data, count: size))
    guard let f = try? SafetensorsFile(file: file) else { return 0 }
    for e in f.entries { _ = f.tensor(e).statistics() }
    return 0
}
