// Token embedding lookup: out[t, ·] = table[tokens[t], ·] as f32. out [T × C]; table [V × C] in its storage dtype.
// Token ids are checked by the caller (FloatModel throws on an id outside the vocabulary).

public func embeddingForward(_ out: UnsafeMutablePointer<Float>, _ tokens: UnsafeBufferPointer<Int32>, _ table: WeightMatrix) {
    let C = table.cols
    for (t, id) in tokens.enumerated() {
        table.rowsAsFloat(Int(id)..<(Int(id) + 1), into: out + t * C)
    }
}
