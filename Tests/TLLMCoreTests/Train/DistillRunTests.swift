// tllm-distill's run on a seeded tiny model (a few steps): the loss goes down and the output is a valid ternary
// container that the float tools run; a stopped and resumed run ends with the same bytes (output and log) as an
// uninterrupted one; a checkpoint refuses other settings; block-wise parts of a 2-block model merge into a valid
// container; the block-wise warm start trains one block at a time, lowers each block's cosine distance, and resumes
// exactly from any point in it (mid-block, at a block boundary, at the start of the end-to-end steps); the γ-frozen
// ablation keeps γ at 0; targets come from the calibration container without a teacher; the feature space (normed by
// default, or the raw residual) weighs the cosine's channels by the next RMSNorm's weights.

import Foundation
import Testing
@testable import TLLMCore

/// Teacher, calib and DLT student of the tiny 2-block model in one directory.
struct DistillFixture {
    let dir: URL
    let teacher: String, calib: String, student: String

    init(hiddenLayers: [Int] = [0, 1], samples: Int = 10, seqLen: Int = 24, group: Int = 16) throws {
        dir = makeTempDir()
        let hf = try TinyModel.writeHF(TinyModel.config(), to: dir.appendingPathComponent("hf"), seed: 3, trained: true)
        teacher = dir.appendingPathComponent("teacher.tllm").path
        _ = try convertModel(input: hf, output: teacher, dtype: nil, quiet: true)
        calib = dir.appendingPathComponent("calib.tllm").path
        let m = try FloatModel(source: try openModel(teacher), threads: 1)
        try writeCalibration(model: m, sequences: TernaryFixtures.sequences(samples, seqLen: seqLen, held: 2), to: calib,
                             hiddenLayers: hiddenLayers, xtxMax: 4096)
        student = dir.appendingPathComponent("student.tllm").path
        var o = TernarizeOptions()
        o.groupSize = group
        o.threads = 1
        try ternarizeModel(input: teacher, output: student, options: o)
    }

    func options(_ out: String, steps: Int = 20) -> DistillOptions {
        var o = DistillOptions(student: student, calib: calib, output: dir.appendingPathComponent(out).path)
        o.teacher = teacher
        o.steps = steps
        o.blockwiseSteps = 0  // the tests that want the block-wise warm start set it
        o.batch = 3
        o.optimizer.lr = 5e-3
        o.optimizer.lrQParams = 2e-3
        o.optimizer.warmup = 2
        o.threads = 2
        o.quiet = true
        return o
    }

    func remove() { try? FileManager.default.removeItem(at: dir) }
}

/// Mean KL(teacher ‖ student) of the next-token distributions over every position of `sequences`.
func meanKL(teacher: String, student: String, _ sequences: [[Int32]]) throws -> Double {
    let t = try FloatModel(source: try openModel(teacher), threads: 1), s = try FloatModel(source: try openModel(student), threads: 1)
    let V = t.config.vocabSize
    var sum = 0.0, n = 0
    for seq in sequences {
        let zt = try t.forward(tokens: seq).map(Double.init), zs = try s.forward(tokens: seq).map(Double.init)
        for p in 0..<seq.count {
            let a = zt[(p * V)..<((p + 1) * V)], b = zs[(p * V)..<((p + 1) * V)]
            let ma = a.max()!, mb = b.max()!
            let la = Foundation.log(a.reduce(0) { $0 + Foundation.exp($1 - ma) }) + ma
            let lb = Foundation.log(b.reduce(0) { $0 + Foundation.exp($1 - mb) }) + mb
            sum += zip(a, b).reduce(0) { $0 + Foundation.exp($1.0 - la) * (($1.0 - la) - ($1.1 - lb)) }
            n += 1
        }
    }
    return sum / Double(n)
}

struct DistillRunTests {
    @Test func lossGoesDownAndOutputIsValid() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        var o = f.options("out.tllm", steps: 40)
        o.loss.ce = 0.5
        o.log = f.dir.appendingPathComponent("log.jsonl").path
        o.plot = f.dir.appendingPathComponent("loss.svg").path
        let r = try runDistill(o)
        #expect(r.completed)
        let first = r.history.prefix(5).map(\.losses.total).reduce(0, +), last = r.history.suffix(5).map(\.losses.total).reduce(0, +)
        #expect(last < 0.8 * first, "loss \(first / 5) → \(last / 5)")
        #expect(r.history.allSatisfy { $0.losses.feature > 0 && $0.losses.kd > 0 && $0.losses.ce > 0 })
        // the written student's next-token distributions moved toward the teacher's on the sequences it trained on (what
        // the KD term minimizes; measured here with the float tools on the output). Not its held-out perplexity: the
        // fixture's text is random tokens, on which the teacher is no better than the student (its perplexity is higher)
        // and a few dozen steps on ten sequences do not generalize.
        let data = try DistillData(calib: CalibData(path: f.calib), seed: 0)
        let train = data.train.map { Array(data.tokens[($0 * data.seqLen)..<(($0 + 1) * data.seqLen)]) }
        let klStart = try meanKL(teacher: f.teacher, student: f.student, train)
        let klEnd = try meanKL(teacher: f.teacher, student: o.output, train)
        #expect(klEnd < 0.8 * klStart, "KL(teacher ‖ student) on the train split \(klStart) → \(klEnd)")

        // a ternary container: codes in {−1, 0, 1} and the nearest grid points of the stored latent weights
        let c = try openContainer(o.output)
        #expect(c.manifest.kind == .ternary && c.manifest.metadata["distill"]?["steps"]?.int == 40)
        let entries = try c.manifest.ternaryEntries(file: o.output)
        #expect(entries.count == 14)
        for e in entries {
            let w = c.tensor(named: e.name)!.floats(), a = c.tensor(named: TernaryNames.alpha(e.name))!.floats()
            let g = c.tensor(named: TernaryNames.gamma(e.name))!.floats()
            let codes = Array(c.tensor(named: TernaryNames.codes(e.name))!.bytes.bindMemory(to: Int8.self))
            let groups = TernaryGroups(cols: e.cols, size: e.groupSize)
            for r in 0..<e.rows {
                for k in 0..<e.cols {
                    let j = r * groups.count + groups.group(of: k)
                    #expect(codes[r * e.cols + k] == TernaryCode.nearest(w[r * e.cols + k], alpha: a[j], gamma: g[j]))
                }
            }
        }
        // the float tools run it, and its perplexity on the held-out split is the one the run reported
        let m = try FloatModel(source: try openModel(o.output), threads: 1)
        var nll = 0.0, n = 0
        for s in data.heldOutSequences {
            let logits = try m.forward(tokens: s)
            for t in (s.count / 2)..<(s.count - 1) {
                nll -= logits.withUnsafeBufferPointer { logSoftmaxAt($0.baseAddress! + t * m.config.vocabSize, m.config.vocabSize, Int(s[t + 1])) }
                n += 1
            }
        }
        #expect(abs(Foundation.exp(nll / Double(n)) / r.endPerplexity - 1) < 1e-4)
        // log: one line per step plus the evaluations; the plot is an SVG
        let lines = try String(contentsOfFile: o.log!, encoding: .utf8).split(separator: "\n")
        #expect(lines.count == 40 + 2)
        #expect(try String(contentsOfFile: o.plot!, encoding: .utf8).hasPrefix("<svg") || (try String(contentsOfFile: o.plot!, encoding: .utf8)).contains("<svg"))
    }

    @Test func resumeIsExact() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        var a = f.options("a.tllm", steps: 12)
        a.log = f.dir.appendingPathComponent("a.jsonl").path
        a.evalEvery = 4
        _ = try runDistill(a)

        var b = f.options("b.tllm", steps: 12)
        b.log = f.dir.appendingPathComponent("b.jsonl").path
        b.evalEvery = 4
        b.checkpointEvery = 3
        b.stopAfter = 5
        let r1 = try runDistill(b)
        #expect(!r1.completed && FileManager.default.fileExists(atPath: b.checkpointPath))
        #expect(!FileManager.default.fileExists(atPath: b.output))
        b.resume = b.checkpointPath
        b.stopAfter = 4  // stop again mid-way: step 9
        let r2 = try runDistill(b)
        #expect(!r2.completed && r2.history.count == 9)
        b.stopAfter = nil
        let r3 = try runDistill(b)
        #expect(r3.completed)
        #expect(try Data(contentsOf: URL(fileURLWithPath: a.output)) == Data(contentsOf: URL(fileURLWithPath: b.output)))
        #expect(try Data(contentsOf: URL(fileURLWithPath: a.log!)) == Data(contentsOf: URL(fileURLWithPath: b.log!)))
        #expect(!FileManager.default.fileExists(atPath: b.checkpointPath))  // removed after a completed run

        // other settings: refused, naming the difference
        var c = f.options("c.tllm", steps: 12)
        c.stopAfter = 2
        _ = try runDistill(c)
        c.resume = c.checkpointPath
        c.optimizer.lr = 1e-2
        #expect { try runDistill(c) } throws: { ($0 as? TLLMError)?.description.contains("lr is") == true }
    }

    @Test func blockwiseWarmStartTrainsOneBlockAtATime() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        let student = try StudentContainer(path: f.student)
        var o = f.options("w.tllm", steps: 2)
        o.blockwiseSteps = 25
        o.log = f.dir.appendingPathComponent("w.jsonl").path
        let r = try runDistill(o)
        #expect(r.completed && r.history.count == 2 * 25 + 2)
        #expect(r.history.map(\.block) == [Int?](repeating: 0, count: 25) + [Int?](repeating: 1, count: 25) + [nil, nil])
        for b in 0..<2 {
            let l = r.history.filter { $0.block == b }.map(\.losses)
            #expect(l.allSatisfy { $0.kd == 0 && $0.ce == 0 && $0.feature > 0 })
            let first = l.prefix(4).map(\.feature).reduce(0, +), last = l.suffix(4).map(\.feature).reduce(0, +)
            #expect(last < 0.8 * first, "block \(b): 1 − cos \(first / 4) → \(last / 4)")
        }
        #expect(r.history.suffix(2).allSatisfy { $0.losses.kd > 0 && $0.losses.ce > 0 })
        // an evaluation where the warm start ends; the log names the block of its steps
        #expect(r.evals.map(\.step) == [0, 50, 52])
        let lines = try String(contentsOfFile: o.log!, encoding: .utf8).split(separator: "\n")
        #expect(lines.filter { $0.contains("\"block\":1") }.count == 25)

        // after the warm start alone (no end-to-end step can be 0, so compare with a run that has none): every block
        // moved, the embedding and the head did not
        var n = f.options("n.tllm", steps: 2)
        n.blockwiseSteps = 0
        _ = try runDistill(n)
        let w = try StudentContainer(path: o.output), z = try StudentContainer(path: n.output)
        for name in ["model.layers.0.self_attn.q_proj.weight", "model.layers.1.mlp.down_proj.weight"] {
            #expect(w.tensors.first { $0.name == name }!.floats() != z.tensors.first { $0.name == name }!.floats(), "\(name)")
        }
        for name in ["model.embed_tokens.weight", "lm_head.weight"] {
            let a = w.tensors.first { $0.name == name }, b = student.tensors.first { $0.name == name }
            #expect(a != nil && a?.floats() == b?.floats(), "\(name)")
        }
    }

    @Test func blockwiseWarmStartResumesExactly() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        var a = f.options("a.tllm", steps: 5)
        a.blockwiseSteps = 4
        a.log = f.dir.appendingPathComponent("a.jsonl").path
        _ = try runDistill(a)

        var b = f.options("b.tllm", steps: 5)
        b.blockwiseSteps = 4
        b.log = f.dir.appendingPathComponent("b.jsonl").path
        // stop mid-block 0 (step 2), at the boundary of the blocks (4), mid-block 1 (6), where the end-to-end steps
        // start (8), then run to the end
        var reached: [Int] = []
        for stop in [2, 2, 2, 2] {
            b.stopAfter = stop
            let r = try runDistill(b)
            #expect(!r.completed)
            reached.append(r.history.count)
            b.resume = b.checkpointPath
        }
        #expect(reached == [2, 4, 6, 8])
        b.stopAfter = nil
        #expect(try runDistill(b).completed)
        #expect(try Data(contentsOf: URL(fileURLWithPath: a.output)) == Data(contentsOf: URL(fileURLWithPath: b.output)))
        #expect(try Data(contentsOf: URL(fileURLWithPath: a.log!)) == Data(contentsOf: URL(fileURLWithPath: b.log!)))

        // the warm start's length is part of the settings a resume must match
        var c = f.options("c.tllm", steps: 5)
        c.blockwiseSteps = 4
        c.stopAfter = 1
        _ = try runDistill(c)
        c.resume = c.checkpointPath
        c.blockwiseSteps = 3
        #expect { try runDistill(c) } throws: { ($0 as? TLLMError)?.description.contains("blockwise_steps") == true }
    }

    @Test func blockWisePartsMergeIntoAValidContainer() throws {
        // hidden states of both blocks captured: no teacher needed
        let f = try DistillFixture()
        defer { f.remove() }
        var parts: [String] = []
        for i in 0..<2 {
            var o = f.options("part\(i).tllm", steps: 15)
            o.teacher = nil
            o.block = i
            o.loss.mse = 0.1
            let r = try runDistill(o)
            #expect(r.endPerplexity < r.startPerplexity, "block \(i): 1 − cos \(r.startPerplexity) → \(r.endPerplexity)")
            let c = try openContainer(o.output)
            #expect(c.manifest.tensors.allSatisfy { $0.name.hasPrefix("model.layers.\(i).") })
            #expect(c.manifest.metadata["distill"]?["block"]?.int == i)
            parts.append(o.output)
        }
        let out = f.dir.appendingPathComponent("merged.tllm").path
        let m = try mergeBlocks(parts: parts.reversed(), student: nil, output: out)
        #expect(m.blocks == [0, 1] && m.fromStudent.isEmpty)
        let merged = try openContainer(out), student = try openContainer(f.student)
        #expect(merged.manifest.tensors.map(\.name) == student.manifest.tensors.map(\.name))
        let p0 = try openContainer(parts[0])
        for t in p0.manifest.tensors { #expect(merged.tensor(named: t.name)!.bytes.elementsEqual(p0.tensor(named: t.name)!.bytes)) }
        #expect(merged.tensor(named: "model.embed_tokens.weight")!.bytes.elementsEqual(student.tensor(named: "model.embed_tokens.weight")!.bytes))
        let fm = try FloatModel(source: try openModel(out), threads: 1)
        let logits = try fm.forward(tokens: [1, 5, 9, 3])
        #expect(logits.allSatisfy { $0.isFinite })
        // one part only: the other block stays as in the student; a part given twice is refused
        #expect(try mergeBlocks(parts: [parts[1]], student: f.student, output: out).fromStudent == [0])
        #expect(throws: TLLMError.self) { try mergeBlocks(parts: [parts[1], parts[1]], student: f.student, output: out) }
    }

    @Test func blockWiseWithoutCapturedStatesUsesTheTeacher() throws {
        let f = try DistillFixture(hiddenLayers: [])
        defer { f.remove() }
        var o = f.options("part1.tllm", steps: 10)
        o.block = 1
        let r = try runDistill(o)
        #expect(r.endPerplexity < r.startPerplexity)
        o.teacher = nil
        #expect { try runDistill(o) } throws: { ($0 as? TLLMError)?.description.contains("--teacher") == true }
    }

    @Test func blockTargetsFromTheTeacherAreItsBlockStates() throws {
        // no captured states: the teacher's forward pass (stopped after the block) gives each block's input and
        // target, the same bits as the whole forward pass
        let f = try DistillFixture(hiddenLayers: [])
        defer { f.remove() }
        let data = try DistillData(calib: try CalibData(path: f.calib), seed: 0)
        let (tc, tt) = try readFloatModel(f.teacher)
        let teacher = try TrainModel(config: tc, tensors: tt.map { $0.converted(to: .f32) }, trainable: .frozen, threads: 1)
        let B = 2, T = data.seqLen, n = B * T * tc.hiddenSize
        let d = try Distiller(student: teacher, teacher: teacher, B: B, T: T, weights: LossWeights(), featureLayers: [])
        let seqs = Array(data.train.prefix(B))
        var states: [[Float]] = []
        let x = UnsafeMutablePointer<Float>.allocate(capacity: n), y = UnsafeMutablePointer<Float>.allocate(capacity: n)
        defer { x.deallocate(); y.deallocate() }
        data.tokens(of: seqs).withUnsafeBufferPointer { tk in
            teacher.embed(tk, into: x)
            states.append(Array(UnsafeBufferPointer(start: x, count: n)))
            teacher.inferenceForward(tk, B: B, T: T, acts: BlockActivations(config: tc, B: B, T: T), x: x, y: y) { _, h in
                states.append(Array(UnsafeBufferPointer(start: h, count: n)))
            }
        }
        #expect(states.count == tc.numLayers + 1)
        for i in 0..<tc.numLayers {
            let bt = BlockTargets(block: i, rows: B * T, width: tc.hiddenSize)
            try bt.fill(seqs, data: data, distiller: d)
            #expect(Array(UnsafeBufferPointer(start: bt.input, count: n)) == states[i], "block \(i) input")
            #expect(Array(UnsafeBufferPointer(start: bt.target, count: n)) == states[i + 1], "block \(i) target")
        }
    }

    /// --feature-space: normed (the default) weighs block l's channels by the RMSNorm weights that read its output next
    /// (block l+1's input norm, the final norm after the last block), residual by none; from the same start the two
    /// take different steps, and a checkpoint of one refuses to resume as the other.
    @Test func featureSpaceWeighsChannelsByTheNextNorm() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        let s = try StudentContainer(path: f.student)
        let inputs = s.trainInputs(zeroShift: false)
        let m = try TrainModel(config: s.config, tensors: inputs.tensors, ternary: inputs.ternary, trainable: TrainableSet(),
                               steClip: 1.5, threads: 1, file: f.student)
        let w = FeatureSpace.normed.channelWeights(m, blocks: [0, 1])
        #expect(w[0] == m.params.array(m.params.id("model.layers.1.input_layernorm.weight")!))
        #expect(w[1] == m.params.array(m.params.id("model.norm.weight")!))
        #expect(Set(w[0]!).count > 1)  // not uniform, so the two spaces differ
        #expect(FeatureSpace.residual.channelWeights(m, blocks: [0, 1]).isEmpty)

        var a = f.options("a.tllm", steps: 3)
        var b = f.options("b.tllm", steps: 3)
        b.featureSpace = .residual
        #expect(a.featureSpace == .normed)
        let ra = try runDistill(a), rb = try runDistill(b)
        #expect(ra.history[0].losses.kd == rb.history[0].losses.kd)  // the same model and batch
        #expect(ra.history[0].losses.feature != rb.history[0].losses.feature)
        #expect(try Data(contentsOf: URL(fileURLWithPath: a.output)) != Data(contentsOf: URL(fileURLWithPath: b.output)))

        a = f.options("c.tllm", steps: 6)
        a.stopAfter = 2
        _ = try runDistill(a)
        a.resume = a.checkpointPath
        a.stopAfter = nil
        a.featureSpace = .residual
        #expect { try runDistill(a) } throws: { ($0 as? TLLMError)?.description.contains("feature_space") == true }
    }

    @Test func gridDecayMovesTheLatentWeightsOntoTheGridByTheLastStep() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        // a decay of 1 moves every latent weight the whole way at the last step (fraction 1·S/S); 0 leaves them apart
        func offGrid(_ decay: Float) throws -> (Float, Int) {
            var o = f.options("g\(decay).tllm", steps: 8)
            o.gridDecay = decay
            _ = try runDistill(o)
            let c = try openContainer(o.output)
            var worst: Float = 0, entries = 0
            for e in try c.manifest.ternaryEntries(file: o.output) {
                let w = c.tensor(named: e.name)!.floats()
                let codes = Array(c.tensor(named: TernaryNames.codes(e.name))!.bytes.bindMemory(to: Int8.self))
                let a = c.tensor(named: TernaryNames.alpha(e.name))!.floats(), g = c.tensor(named: TernaryNames.gamma(e.name))!.floats()
                let K = e.cols, groups = TernaryGroups(cols: K, size: e.groupSize)
                for i in w.indices {
                    let gi = (i / K) * groups.count + groups.group(of: i % K)
                    worst = max(worst, abs(w[i] - TernaryCode.dequantize(codes[i], alpha: a[gi], gamma: g[gi])) / a[gi])
                }
                entries += 1
            }
            return (worst, entries)
        }
        let (on, n) = try offGrid(1), (off, _) = try offGrid(0)
        #expect(n > 0)
        #expect(on <= 1e-5)
        #expect(off > 0.05)
    }

    @Test func zeroShiftKeepsGammaAtZero() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        var o = f.options("z.tllm", steps: 8)
        o.zeroShift = true
        _ = try runDistill(o)
        let c = try openContainer(o.output)
        for e in try c.manifest.ternaryEntries(file: o.output) {
            #expect(c.tensor(named: TernaryNames.gamma(e.name))!.floats().allSatisfy { $0 == 0 })
        }
    }

    @Test func featureOnlyFromCapturedStatesNeedsNoTeacher() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        var o = f.options("nt.tllm", steps: 10)
        o.teacher = nil
        o.loss.kd = 0
        let r = try runDistill(o)
        #expect(r.completed && r.history.last!.losses.feature < r.history.first!.losses.feature)
        o.loss.kd = 1
        #expect { try runDistill(o) } throws: { ($0 as? TLLMError)?.description.contains("--teacher") == true }
    }

    @Test func validationContainerReplacesTheHeldOutSplit() throws {
        let f = try DistillFixture()
        defer { f.remove() }
        // a validation container of 4 other sequences, all on the train side of its own split
        let val = f.dir.appendingPathComponent("val.tllm").path
        let m = try FloatModel(source: try openModel(f.teacher), threads: 1)
        let seqs = TernaryFixtures.sequences(4, seqLen: 24, held: 0, seed: 77)
        try writeCalibration(model: m, sequences: seqs, to: val, hiddenLayers: [], xtxMax: 4096)
        var o = f.options("v.tllm", steps: 4)
        o.validation = val
        let r = try runDistill(o)
        #expect(r.heldOutSequences == 4)
        // the reported perplexity is the student's on those sequences (second halves, as the held-out split)
        let out = try FloatModel(source: try openModel(o.output), threads: 1)
        var nll = 0.0, n = 0
        for i in 0..<seqs.count {
            let s = Array(seqs.sequence(i))
            let logits = try out.forward(tokens: s)
            for t in (s.count / 2)..<(s.count - 1) {
                nll -= logits.withUnsafeBufferPointer { logSoftmaxAt($0.baseAddress! + t * out.config.vocabSize, out.config.vocabSize, Int(s[t + 1])) }
                n += 1
            }
        }
        #expect(abs(Foundation.exp(nll / Double(n)) / r.endPerplexity - 1) < 1e-4)
        o.validation = f.dir.appendingPathComponent("missing.tllm").path
        #expect(throws: TLLMError.self) { try runDistill(o) }
    }
}
