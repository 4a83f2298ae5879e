import Testing
@testable import TLLMCore

@Test func jsonRoundTripKeepsOrderAndExactIntegers() throws {
    let text = #"{"b": 1, "a": [true, null, 9007199254740993, 0.1, "é😀"], "c": {"z": -2.5e-3}}"#
    let v = try JSON.parse(text, file: "t.json")
    #expect(v["a"]?.array?[2].int == 9007199254740993)
    #expect(v["a"]?.array?[4].string == "é😀")
    #expect(v.object?.map { $0.0 } == ["b", "a", "c"])
    let again = try JSON.parse(v.text(), file: "again")
    #expect(again == v)
}

@Test func jsonRejectsMalformedText() {
    for bad in ["{", #"{"a": }"#, "[1, 2", #"{"a": 1} x"#, ""] {
        #expect(throws: TLLMError.self) { try JSON.parse(bad, file: "bad.json") }
    }
}
