// All parameters of a model being trained in one flat f32 buffer, with a gradient buffer of the same layout, so
// the optimizer, gradient clipping and checkpoints treat them uniformly. Each tensor has a kind, which decides
// its learning rate and weight decay (AdamW.swift) and whether it is trained at all.

/// What a parameter is, for the optimizer.
public enum ParamKind: String, Sendable, CaseIterable {
    /// Latent float weights of the ternarized linears (and linears left in float).
    case latent
    /// Per-group scales α and shifts γ.
    case alpha, gamma
    /// RMSNorm weights.
    case norm
    /// q/k/v biases (Qwen2).
    case bias
    /// Token embedding and a separate LM head.
    case embedding, head
}

public struct ParamTensor: Sendable {
    public var name: String
    public var shape: [Int]
    public var kind: ParamKind
    public var offset: Int
    public var count: Int
    public var trainable: Bool
}

public final class ParamStore: @unchecked Sendable {
    public private(set) var tensors: [ParamTensor]
    public let count: Int
    public let values: UnsafeMutablePointer<Float>
    public let grads: UnsafeMutablePointer<Float>
    /// False for a store made with nothing trained: `grads` is then a single float and no gradient may be taken.
    public let hasGradients: Bool
    private let gradCapacity: Int
    private let index: [String: Int]

    /// Lays out `items` in order, copying their values.
    public init(_ items: [(name: String, shape: [Int], kind: ParamKind, trainable: Bool, values: [Float])]) {
        var ts: [ParamTensor] = [], idx: [String: Int] = [:], off = 0
        for it in items {
            precondition(idx[it.name] == nil, "duplicate parameter \(it.name)")
            idx[it.name] = ts.count
            ts.append(ParamTensor(name: it.name, shape: it.shape, kind: it.kind, offset: off, count: it.values.count,
                                  trainable: it.trainable))
            off += it.values.count
        }
        tensors = ts
        index = idx
        count = off
        values = .allocate(capacity: max(1, off))
        // a store with nothing to train (a teacher) needs no gradient buffer
        hasGradients = ts.contains { $0.trainable }
        gradCapacity = hasGradients ? max(1, off) : 1
        grads = .allocate(capacity: gradCapacity)
        grads.initialize(repeating: 0, count: gradCapacity)
        for (t, it) in zip(ts, items) { it.values.withUnsafeBufferPointer { (values + t.offset).initialize(from: $0.baseAddress!, count: t.count) } }
    }

    deinit {
        values.deallocate()
        grads.deallocate()
    }

    public func id(_ name: String) -> Int? { index[name] }
    public func value(_ i: Int) -> UnsafeMutablePointer<Float> { values + tensors[i].offset }
    public func grad(_ i: Int) -> UnsafeMutablePointer<Float> {
        precondition(hasGradients, "gradient of a store made with nothing trained")
        return grads + tensors[i].offset
    }
    public func trainable(_ i: Int) -> Bool { tensors[i].trainable }
    /// The gradient buffer of tensor i when it is trained, else nil (its backward work can be skipped).
    public func gradIfTrained(_ i: Int?) -> UnsafeMutablePointer<Float>? {
        guard let i, tensors[i].trainable else { return nil }
        return grad(i)
    }

    /// Stops training every tensor for which `predicate` holds.
    public func freeze(where predicate: (ParamTensor) -> Bool) {
        for i in tensors.indices where predicate(tensors[i]) { tensors[i].trainable = false }
    }

    /// Which tensors are trained, in order (to restore after a phase that froze some).
    public var trainableFlags: [Bool] {
        get { tensors.map(\.trainable) }
        set {
            precondition(newValue.count == tensors.count)
            for i in tensors.indices { tensors[i].trainable = newValue[i] }
        }
    }

    public func zeroGrads() { grads.update(repeating: 0, count: gradCapacity) }

    /// A copy of tensor i's values.
    public func array(_ i: Int) -> [Float] { Array(UnsafeBufferPointer(start: value(i), count: tensors[i].count)) }

    /// Number of trained values.
    public var trainableCount: Int { tensors.reduce(0) { $0 + ($1.trainable ? $1.count : 0) } }
}
