// One OFF distillation step (DESIGN §8) on a batch of B sequences of T tokens:
//   1. teacher targets: block outputs h_l^T (captured by tllm-calib where available, else a teacher forward
//      pass) and, for the KD term, the teacher's logits;
//   2. student forward pass keeping only each block's input (activation checkpointing);
//   3. head losses (KD, CE) and their gradient at the last hidden state;
//   4. blocks in reverse: add the feature-cosine gradient at the block's output, recompute the block's forward
//      pass from its stored input (the last block's is still there), run its backward pass;
//   5. the quantizer's backward pass turns ∂L/∂Ŵ into gradients of W, α, γ.
// Block-wise mode (`blockStep`) trains one block from a captured input to a captured output.

import Foundation

public final class Distiller {
    public let student: TrainModel
    public let teacher: TrainModel?
    public let B: Int, T: Int
    public let weights: LossWeights
    /// Blocks whose outputs enter the feature term.
    public let featureLayers: [Int]
    /// Per feature block, channel weights [C] of its cosine (FeatureSpace.normed); absent: the raw residual.
    let channelWeights: [Int: UnsafeMutablePointer<Float>]
    let acts: BlockActivations
    let hb: HeadBuffers
    /// The teacher's last hidden state [N × C] (KD).
    let teacherFinal: UnsafeMutablePointer<Float>?
    /// inputs[l]: block l's input [N × C]; inputs[L]: the last block's output.
    let inputs: [UnsafeMutablePointer<Float>]
    let targets: [Int: UnsafeMutablePointer<Float>]
    let grad, tmp: UnsafeMutablePointer<Float>
    let rowLoss: UnsafeMutablePointer<Double>
    let nextTokens: UnsafeMutablePointer<Int32>

    /// Fills block l's captured output for the batch's sequences [N × C]; false when not captured.
    public typealias CapturedHidden = (_ layer: Int, _ into: UnsafeMutablePointer<Float>) -> Bool

    /// `headRows`: rows of the LM head computed at a time. `channelWeights[l]` [C]: the feature cosine of block l's
    /// output is taken between w⊙h and w⊙t (FeatureSpace.normed); blocks without one compare the raw residual.
    public init(student: TrainModel, teacher: TrainModel?, B: Int, T: Int, weights: LossWeights, featureLayers: [Int],
                channelWeights: [Int: [Float]] = [:], headRows: Int = headChunk) throws
    {
        let c = student.config
        if let t = teacher, t.config.hiddenSize != c.hiddenSize || t.config.numLayers != c.numLayers || t.config.vocabSize != c.vocabSize {
            throw TLLMError("", "teacher and student have different shapes (hidden \(t.config.hiddenSize) vs \(c.hiddenSize), layers \(t.config.numLayers) vs \(c.numLayers), vocabulary \(t.config.vocabSize) vs \(c.vocabSize))")
        }
        self.student = student
        self.teacher = teacher
        self.B = B
        self.T = T
        self.weights = weights
        self.featureLayers = weights.feature > 0 || weights.mse > 0 ? featureLayers : []
        let N = B * T, C = c.hiddenSize
        acts = BlockActivations(config: c, B: B, T: T)
        hb = HeadBuffers(config: c, rows: N, chunk: headRows)
        func buf(_ n: Int) -> UnsafeMutablePointer<Float> { .allocate(capacity: max(1, n)) }
        teacherFinal = weights.kd > 0 ? buf(N * C) : nil
        inputs = (0...c.numLayers).map { _ in buf(N * C) }
        var tg: [Int: UnsafeMutablePointer<Float>] = [:]
        for l in self.featureLayers { tg[l] = buf(N * C) }
        targets = tg
        var cw: [Int: UnsafeMutablePointer<Float>] = [:]
        for (l, w) in channelWeights {
            precondition(w.count == C, "channel weights of block \(l): \(w.count) values for \(C) channels")
            let p = buf(C)
            p.initialize(from: w, count: C)
            cw[l] = p
        }
        self.channelWeights = cw
        grad = buf(N * C)
        tmp = buf(N * C)
        rowLoss = .allocate(capacity: max(1, N))
        nextTokens = .allocate(capacity: max(1, N))
    }

    deinit {
        for p in inputs { p.deallocate() }
        for (_, p) in targets { p.deallocate() }
        for (_, p) in channelWeights { p.deallocate() }
        grad.deallocate(); tmp.deallocate(); rowLoss.deallocate(); nextTokens.deallocate(); teacherFinal?.deallocate()
    }

    var N: Int { B * T }

    /// Whether the last step ran the teacher's blocks (false when the calibration container held every target).
    private(set) var teacherForwardRan = true

    /// Floating-point operations of one `step` (2 per multiply-add), counting every product the step runs: the
    /// teacher's forward pass (and head, for KD), the student's forward pass, the recomputation of all blocks but
    /// the last, the backward passes (twice the forward: ∂X and ∂W; ∂W of frozen weights skipped), and the head.
    public var flopsPerStep: Double {
        let c = student.config, n = Double(N), V = Double(c.vocabSize), C = Double(c.hiddenSize), L = Double(c.numLayers)
        let linear = Double(student.layers.first.map { $0.linears.reduce(0) { $0 + $1.rows * $1.cols } } ?? 0)
        // causal products in row blocks of 64: Σ over blocks of (t1 − t0)·t1 keys per query row
        let keys = Double(causalBlocks(T).reduce(0) { $0 + ($1.1 - $1.0) * $1.1 })
        let attention = 2 * 2 * keys * Double(c.headDim * c.numHeads * B)
        let block = 2 * n * linear + attention
        let head = 2 * n * V * C
        let kd = weights.kd > 0, out = kd || weights.ce > 0
        var f = L * block + (L - 1) * block + 2 * L * block       // student forward, recompute, backward
        if out { f += head + head + (student.params.trainable(student.head) ? head : 0) }
        if teacherForwardRan { f += L * block }
        if teacher != nil && kd { f += head }
        return f
    }

    /// Teacher hidden states for the feature layers (captured or computed) and teacher logits for KD.
    func prepareTargets(_ tokens: UnsafeBufferPointer<Int32>, captured: CapturedHidden?) throws {
        var missing = Set<Int>()
        for l in featureLayers where !(captured?(l, targets[l]!) ?? false) { missing.insert(l) }
        // KD needs the teacher's last hidden state: the captured output of the last block is that state (f16),
        // so the teacher's forward pass is skipped when it and every feature target were captured.
        var finalMissing = false
        if let tf = teacherFinal {
            let last = student.config.numLayers - 1
            if let t = targets[last], !missing.contains(last) { tf.update(from: t, count: N * student.config.hiddenSize) }
            else { finalMissing = !(captured?(last, tf) ?? false) }
        }
        if weights.kd > 0 && teacher == nil {
            throw TLLMError("", "the teacher's logits are needed for the KD term: give --teacher")
        }
        teacherForwardRan = !missing.isEmpty || finalMissing
        guard teacherForwardRan else { return }
        guard let teacher else {
            throw TLLMError("", "the teacher's hidden states of blocks \(missing.sorted())" +
                            " are needed: give --teacher (the calibration container does not hold them)")
        }
        let C = student.config.hiddenSize, n = N * C
        let last = teacher.inferenceForward(tokens, B: B, T: T, acts: acts, x: inputs[0], y: inputs[1]) { l, h in
            if missing.contains(l) { self.targets[l]!.update(from: h, count: n) }
        }
        if finalMissing { teacherFinal?.update(from: last, count: n) }
    }

    /// One step's forward and backward pass over `tokens` [B × T]; the gradients are left in the student's
    /// ParamStore. Returns the loss terms.
    public func step(tokens: [Int32], captured: CapturedHidden? = nil) throws -> StepLosses {
        precondition(tokens.count == N)
        let s = student, c = s.config, L = c.numLayers, C = c.hiddenSize, N = self.N
        try s.checkTokens(tokens, file: "")
        var losses = StepLosses()
        try tokens.withUnsafeBufferPointer { tk in
            try prepareTargets(tk, captured: captured)
            s.zeroGrads()
            s.embed(tk, into: inputs[0])
            for l in 0..<L { s.blockForward(l, inputs[l], inputs[l + 1], acts) }
            for i in 0..<N { nextTokens[i] = (i % T) + 1 < T ? tk[i + 1] : -1 }
            s.headLosses(inputs[L], N, teacher: teacher, teacherHidden: teacherFinal, targets: nextTokens, weights: weights, hb,
                         dx: grad, losses: &losses)
            for l in stride(from: L - 1, through: 0, by: -1) {
                if let t = targets[l] {
                    let f = featureLoss(inputs[l + 1], t, layer: l, &losses)
                    losses.feature += f
                }
                if l != L - 1 { s.blockForward(l, inputs[l], tmp, acts) }
                s.blockBackward(l, inputs[l], grad, grad, acts)
            }
            if let de = s.params.gradIfTrained(s.embedding) { embeddingBackward(de, grad, tk, C) }
        }
        s.finishGradients()
        losses.total = Double(weights.feature) * losses.feature + Double(weights.kd) * losses.kd + Double(weights.ce) * losses.ce
            + Double(weights.mse) * losses.mse
        return losses
    }

    /// Cosine (and MSE when weighted) between student rows h and teacher rows t of block `layer`'s output (the cosine
    /// with that block's channel weights, if any): adds the gradient into `grad`, adds the MSE mean into losses.mse,
    /// returns the mean cosine distance.
    func featureLoss(_ h: UnsafePointer<Float>, _ t: UnsafePointer<Float>, layer: Int, _ losses: inout StepLosses) -> Double {
        let C = student.config.hiddenSize, N = self.N, pool = student.pool
        func mean(_ body: @escaping (Range<Int>) -> Void) -> Double {
            pool.forRanges(N, parallel: N * C >= 1 << 14, body)
            var sum = 0.0
            for i in 0..<N { sum += rowLoss[i] }
            return sum / Double(N)
        }
        let g = grad, rl = rowLoss, cw = channelWeights[layer].map { UnsafePointer($0) }
        var cos = 0.0
        if weights.feature > 0 {
            let scale = weights.feature / Float(N)
            cos = mean { r in
                DistillLoss.cosine(h + r.lowerBound * C, t + r.lowerBound * C, rows: r.count, C, rowLoss: rl + r.lowerBound,
                                   grad: g + r.lowerBound * C, gradScale: scale, channelWeights: cw)
            }
        }
        if weights.mse > 0 {
            let scale = weights.mse / Float(N)
            losses.mse += mean { r in
                DistillLoss.mse(h + r.lowerBound * C, t + r.lowerBound * C, rows: r.count, C, rowLoss: rl + r.lowerBound,
                                grad: g + r.lowerBound * C, gradScale: scale)
            }
        }
        return cos
    }

    /// Block-wise step: block l maps `input` [N × C] (the teacher's input to it) toward `target` [N × C] (the
    /// teacher's output); loss = feature-weighted cosine + mse-weighted MSE.
    public func blockStep(_ l: Int, input: UnsafePointer<Float>, target: UnsafePointer<Float>) -> StepLosses {
        let s = student
        var losses = StepLosses()
        s.zeroGrads()
        s.blockForward(l, input, inputs[1], acts)
        grad.update(repeating: 0, count: N * s.config.hiddenSize)
        let f = featureLoss(inputs[1], target, layer: l, &losses)
        losses.feature = f
        s.blockBackward(l, input, grad, grad, acts)
        s.finishGradients()
        losses.total = Double(weights.feature) * losses.feature + Double(weights.mse) * losses.mse
        return losses
    }

    /// Perplexity of the student over sequences (llama.cpp's protocol per sequence: the second half of each
    /// sequence of T tokens is scored), evaluated B at a time. Returns (ppl, tokens scored).
    public func perplexity(_ sequences: [[Int32]]) throws -> (ppl: Double, scored: Int) {
        let s = student, V = s.config.vocabSize
        var nll = 0.0, n = 0
        var i = 0
        while i < sequences.count {
            let group = Array(sequences[i..<min(sequences.count, i + B)])
            var tk = group.flatMap { $0 }
            let real = group.count
            if real < B { tk += [Int32](repeating: tk[0], count: (B - real) * T) }
            try s.checkTokens(tk, file: "")
            let last = tk.withUnsafeBufferPointer { p in
                s.inferenceForward(p, B: B, T: T, acts: acts, x: inputs[0], y: inputs[1])
            }
            // score rows T/2 ..< T−1 of each real sequence, the head a chunk of rows at a time
            let C = s.config.hiddenSize
            for b in 0..<real {
                var t0 = T / 2
                while t0 < T - 1 {
                    let R = min(hb.rows, T - 1 - t0)
                    s.headForward(last + (b * T + t0) * C, R, normOut: hb.normOut, rstd: hb.rstd, logits: hb.logits)
                    for r in 0..<R {
                        nll -= logSoftmaxAt(hb.logits + r * V, V, Int(group[b][t0 + r + 1]))
                        n += 1
                    }
                    t0 += R
                }
            }
            i += B
        }
        return (n > 0 ? Foundation.exp(nll / Double(n)) : .nan, n)
    }
}
