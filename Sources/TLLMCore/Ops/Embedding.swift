// Token embedding lookup: out[t, ·] = table[tokens[t], ·] as f32. out [T × C]; table [V × C] in its storage dtype.
// Token ids are checked by the caller (FloatModel throws on an id outside the vocabulary).
// Backward: dtable[tokens[t], ·] += dout[t, ·], in token order (one thread: repeated ids add in a fixed order).

public func embeddingForward(_ out: UnsafeMutablePointer<Float>, _ tokens: UnsafeBufferPointer<Int32>, _ table: WeightMatrix) {
    let C = table.cols
    for (t, id) in tokens.enumerated() {
        table.rowsAsFloat(Int(id)..<(Int(id) + 1), into: out + t * C)
    }
}

/// Accumulates the gradient of an f32 table [V × C].
public func embeddingBackward(_ dtable: UnsafeMutablePointer<Float>, _ dout: UnsafePointer<Float>,
                              _ tokens: UnsafeBufferPointer<Int32>, _ C: Int)
{
    for (t, id) in tokens.enumerated() {
        let d = dtable + Int(id) * C, g = dout + t * C
        for c in 0..<C { d[c] += g[c] }
    }
}

/// out[t, ·] = table[tokens[t], ·] for an f32 table [V × C].
public func embeddingForward(_ out: UnsafeMutablePointer<Float>, _ tokens: UnsafeBufferPointer<Int32>,
                             _ table: UnsafePointer<Float>, _ C: Int)
{
    for (t, id) in tokens.enumerated() { (out + t * C).update(from: table + Int(id) * C, count: C) }
}
