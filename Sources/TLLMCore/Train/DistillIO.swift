// What tllm-distill reads and writes: the student ternary container taken apart into a TrainModel's inputs (latent
// weights and the codes, α, γ of each ternarized linear), the teacher as float tensors, and the output ternary
// container rebuilt in the student's tensor order with the trained values (f32) and the final codes.

import Foundation

/// A ternary container held in memory: manifest, carried files and every tensor in order.
public struct StudentContainer {
    public let path: String
    public let manifest: Manifest
    public let files: [(name: String, bytes: [UInt8])]
    public let tensors: [Tensor]
    public let config: ModelConfig
    public let entries: [TernaryEntry]

    public init(path: String) throws {
        let r = try ContainerReader(path: path)
        guard r.manifest.kind == .ternary else {
            throw TLLMError(path, "is a \(r.manifest.kind.rawValue) container; the student must be a ternary container (from tllm-ternarize or tllm-distill)")
        }
        var ts: [Tensor] = []
        while let t = try r.next() { ts.append(t) }
        self.path = path
        manifest = r.manifest
        files = r.files
        tensors = ts
        config = try ModelConfig(json: r.manifest.config, file: path)
        entries = try r.manifest.ternaryEntries(file: path)
    }

    /// The float tensors (latent weights under their plain names) and the ternary parts, for TrainModel.
    public func trainInputs(zeroShift: Bool = false) -> (tensors: [Tensor], ternary: [String: TernaryParts]) {
        var byName: [String: Tensor] = [:]
        for t in tensors { byName[t.name] = t }
        var parts: [String: TernaryParts] = [:]
        var skip = Set<String>()
        for e in entries {
            let codes = Array(byName[TernaryNames.codes(e.name)]!.bytes.bindMemory(to: Int8.self))
            var gamma = byName[TernaryNames.gamma(e.name)]!.floats()
            if zeroShift { gamma = [Float](repeating: 0, count: gamma.count) }
            parts[e.name] = TernaryParts(codes: codes, alpha: byName[TernaryNames.alpha(e.name)]!.floats(), gamma: gamma, groupSize: e.groupSize)
            for n in [TernaryNames.codes(e.name), TernaryNames.alpha(e.name), TernaryNames.gamma(e.name)] { skip.insert(n) }
        }
        return (tensors.filter { !skip.contains($0.name) }, parts)
    }
}

/// Every tensor of a float model (any format openModel reads).
public func readFloatModel(_ path: String) throws -> (config: ModelConfig, tensors: [Tensor]) {
    let src = try openModel(path)
    var ts: [Tensor] = []
    while let t = try src.nextTensor() { ts.append(t) }
    return (src.config, ts)
}

extension TrainModel {
    /// The container tensor `name` as this model now has it, or nil when the model does not change it: trained
    /// parameters (f32), latent weights, α, γ and codes of ternarized linears.
    public func trainedTensor(_ name: String, shape: [Int]) -> Tensor? {
        if name.hasSuffix(".codes") {
            let base = String(name.dropLast(".codes".count))
            guard let lin = ternaryLinears.first(where: { $0.name == base }) else { return nil }
            let c = codes(lin)
            let storage = TensorStorage(count: c.count)
            c.withUnsafeBytes { storage.mutableBytes.copyMemory(from: $0) }
            return Tensor(name: name, dtype: .i8, shape: shape, storage: storage)
        }
        guard let id = params.id(name) else { return nil }
        let t = params.tensors[id]
        guard t.trainable || t.kind == .latent || t.kind == .alpha || t.kind == .gamma else { return nil }
        return Tensor(name: name, shape: shape, floats: params.array(id))
    }
}

/// Writes the student container with `replace(name, shape)` substituted where it returns a tensor; the
/// metadata gets `extra` merged in. Atomic.
public func writeStudentContainer(_ s: StudentContainer, to path: String, producer: String, extra: [(String, JSON)],
                                  replace: (String, [Int]) -> Tensor?) throws
{
    var plan: [ManifestTensor] = [], out: [Tensor] = []
    for (m, t) in zip(s.manifest.tensors, s.tensors) {
        let x = replace(m.name, m.shape) ?? t
        plan.append(ManifestTensor(name: m.name, dtype: x.dtype, shape: m.shape, extra: m.extra))
        out.append(x)
    }
    var meta = s.manifest.metadata
    if case .object = meta {} else { meta = .object([]) }
    for (k, v) in extra { meta.set(k, v) }
    let manifest = Manifest(kind: .ternary, producer: producer, config: s.manifest.config, tensors: plan, metadata: meta)
    let w = try ContainerWriter(path: path, manifest: manifest, files: s.files)
    for t in out { try w.write(t) }
    try w.finish()
}

/// Peak resident memory of this process in bytes (getrusage).
public func peakRSSBytes() -> Int {
    var u = rusage()
    getrusage(RUSAGE_SELF.rawValue, &u)
    return Int(u.ru_maxrss) * 1024
}
