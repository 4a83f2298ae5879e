// Where the feature term compares a block's output with the teacher's: the raw residual stream, or the residual as
// the next block reads it, each channel scaled by the weight of the RMSNorm that reads it (the next block's input
// norm; the final norm after the last block). RMSNorm divides both rows by their own RMS, which the cosine ignores
// anyway, so `normed` is the cosine between what the next block's projections see: channels the model amplifies
// count for more, channels it damps for less. The weights are the student's at the start of the run (for a
// student from tllm-ternarize, the teacher's), fixed for the whole run, so resumed runs see the same ones.

public enum FeatureSpace: String, Sendable, CaseIterable {
    case normed, residual

    /// Channel weights [C] of each feature block's cosine (empty for `residual`), from the model's RMSNorm weights.
    func channelWeights(_ m: TrainModel, blocks: [Int]) -> [Int: [Float]] {
        guard self == .normed else { return [:] }
        let L = m.config.numLayers
        return Dictionary(uniqueKeysWithValues: blocks.map { l in
            (l, m.params.array(l + 1 < L ? m.layers[l + 1].inputNorm : m.norm))
        })
    }
}
