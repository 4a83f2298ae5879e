// libFuzzer entry: read arbitrary bytes as a tllm container, with both readers (the memory-mapped tar index and
// the libarchive stream, which also decompresses). Any crash is a bug; TLLMError is expected for bad input.
import TLLMCore

@_cdecl("LLVMFuzzerTestOneInput")
public func fuzz(_ data: UnsafePointer<UInt8>, _ size: Int) -> CInt {
    let buffer = UnsafeRawBufferPointer(start: data, count: size)
    if let c = try? MappedContainer(file: MappedFile(path: "fuzz.tllm", copying: buffer)) {
        for t in c.tensors { _ = t.statistics() }
        try? c.verify()
    }
    if let r = try? ContainerReader(bytes: Array(buffer), name: "fuzz.tllm", verify: true, maxFileBytes: 1 << 24) {
        while let t = try? r.next() { _ = t.bytes.count }
    }
    return 0
}
