// GGUF's llama models store the q and k projection rows in Meta's interleaved rotary layout (RoPE rotates
// adjacent pairs); Hugging Face checkpoints use rotate-half. llama.cpp's convert_hf_to_gguf.py `permute` maps
// HF → GGUF: within each head of D rows, GGUF row 2p+s is HF row s·D/2 + p (p < D/2, s ∈ {0, 1}).
// `fromGGUF` is its inverse, `toGGUF` the same map; both move whole rows, so they work on any dtype bitwise.

public enum RotaryPermutation {
    /// Reorders the rows of a [rows, cols] tensor from GGUF's interleaved layout to HF's rotate-half layout.
    public static func fromGGUF(_ t: Tensor, heads: Int) throws -> Tensor {
        try permute(t, heads: heads, toGGUF: false)
    }

    /// Reorders the rows from HF's rotate-half layout to GGUF's interleaved layout.
    public static func toGGUF(_ t: Tensor, heads: Int) throws -> Tensor {
        try permute(t, heads: heads, toGGUF: true)
    }

    static func permute(_ t: Tensor, heads: Int, toGGUF: Bool) throws -> Tensor {
        let rows = t.shape.first ?? 0
        guard heads > 0, rows % heads == 0, (rows / heads) % 2 == 0 else {
            throw TLLMError("", "tensor \(t.name): \(rows) rows do not split into \(heads) heads of even size")
        }
        let d = rows / heads, half = d / 2
        let rowBytes = rows == 0 ? 0 : t.bytes.count / rows
        let out = TensorStorage(count: t.bytes.count)
        let src = t.bytes.baseAddress!, dst = out.mutableBytes.baseAddress!
        for h in 0..<heads {
            for p in 0..<half {
                for s in 0..<2 {
                    let gguf = h * d + 2 * p + s
                    let hf = h * d + s * half + p
                    let (from, to) = toGGUF ? (hf, gguf) : (gguf, hf)
                    (dst + to * rowBytes).copyMemory(from: src + from * rowBytes, byteCount: rowBytes)
                }
            }
        }
        return Tensor(name: t.name, dtype: t.dtype, shape: t.shape, storage: out)
    }
}
