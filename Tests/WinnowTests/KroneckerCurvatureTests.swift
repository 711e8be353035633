import Foundation
import Testing
@testable import Winnow

/// K-FAC / EK-FAC (DESIGN 2.9) against an independent double-precision
/// reference that needs no eigensolver: `C`, `S` formed from the factors,
/// linear solves by Gaussian elimination, and identities that hold for any
/// eigenbasis (`M (C+λ) M = I`, `⟨f_i, f_j⟩ = g_iᵀ (H + λ)⁻¹ g_j`, mean
/// eigenvalue = trace / dim, rotations keep norms).
@Suite struct KroneckerCurvatureTests {
  static let specs = [
    LinearLayerSpec(id: 7, inputDim: 5, outputDim: 3),
    LinearLayerSpec(id: 9, inputDim: 4, outputDim: 6),
  ]
  /// The fit set, in three batches (33 samples; every Λ entry > 0).
  static let fitBatches = [
    FactorBatch.random(specs, tokenCounts: [3, 1, 4, 2, 5, 1, 3, 2, 2, 4, 1], seed: 1),
    FactorBatch.random(specs, tokenCounts: [2, 6, 1, 1, 3, 2, 4, 2, 1, 3, 2], seed: 2),
    FactorBatch.random(specs, tokenCounts: [1, 2, 3, 4, 1, 2, 3, 4, 1, 2, 5], seed: 3),
  ]
  static let query = FactorBatch.random(specs, tokenCounts: [2, 0, 5, 3, 1], seed: 4)

  static func accumulated(_ batches: [FactorBatch] = fitBatches) throws -> KroneckerCurvature {
    var c = try KroneckerCurvature(layers: specs)
    for b in batches { try b.with { try c.accumulate(tokenCounts: b.tokenCounts, layers: $0) } }
    return c
  }

  static func fitted(corrections: Bool = true) throws -> KroneckerCurvature {
    var c = try accumulated()
    try c.fit()
    if corrections {
      for b in fitBatches { try b.with { try c.accumulateCorrections(tokenCounts: b.tokenCounts, layers: $0) } }
    }
    return c
  }

  static func features(
    _ c: KroneckerCurvature, _ b: FactorBatch, _ method: CurvatureMethod, _ damping: CurvatureDamping = .default
  ) throws -> Matrix {
    try b.with { try c.eigenbasisFeatures(tokenCounts: b.tokenCounts, layers: $0, method: method, damping: damping) }
  }

  static func whiten(_ c: KroneckerCurvature, _ b: FactorBatch, _ damping: CurvatureDamping = .default) throws
    -> [(id: UInt64, inputs: Matrix, outputGradients: Matrix)]
  {
    let w = try c.whitener(damping: damping)
    return try b.with { try w.whiten(rows: b.tokenCounts.reduce(0, +), layers: $0) }
  }

  // MARK: - Double reference

  /// `Σ xxᵀ / tokens` of layer `l` over `batches`, input (`C`) or output (`S`) side.
  static func covariance(_ l: Int, inputs: Bool, _ batches: [FactorBatch] = fitBatches) -> [Double] {
    let n = inputs ? specs[l].inputDim : specs[l].outputDim
    var sum = [Double](repeating: 0, count: n * n)
    var tokens = 0
    for b in batches {
      let x = inputs ? b.layers[l].inputs : b.layers[l].outputGradients
      tokens += x.rows
      for t in 0..<x.rows {
        for i in 0..<n { for j in 0..<n { sum[i * n + j] += Double(x[t, i]) * Double(x[t, j]) } }
      }
    }
    return sum.map { $0 / Double(tokens) }
  }

  static func trace(_ m: [Double], _ n: Int) -> Double { (0..<n).reduce(0) { $0 + m[$1 * n + $1] } }

  static func plusIdentity(_ m: [Double], _ n: Int, _ lambda: Double) -> [Double] {
    var m = m
    for i in 0..<n { m[i * n + i] += lambda }
    return m
  }

  /// Solves `m x = b` (`n × n`) by Gaussian elimination with partial pivoting.
  static func solve(_ m: [Double], _ b: [Double], _ n: Int) -> [Double] {
    var a = m, x = b
    for c in 0..<n {
      let p = (c..<n).max { abs(a[$0 * n + c]) < abs(a[$1 * n + c]) }!
      if p != c {
        for j in 0..<n { a.swapAt(c * n + j, p * n + j) }
        x.swapAt(c, p)
      }
      for r in c + 1..<n {
        let f = a[r * n + c] / a[c * n + c]
        for j in c..<n { a[r * n + j] -= f * a[c * n + j] }
        x[r] -= f * x[c]
      }
    }
    for i in stride(from: n - 1, through: 0, by: -1) {
      var s = x[i]
      for j in i + 1..<n { s -= a[i * n + j] * x[j] }
      x[i] = s / a[i * n + i]
    }
    return x
  }

  /// `S ⊗ C + λI` for row-major `vec(G)` (index `o·d_in + i`).
  static func kronecker(_ s: [Double], _ c: [Double], dOut: Int, dIn: Int, lambda: Double) -> [Double] {
    let n = dOut * dIn
    var h = [Double](repeating: 0, count: n * n)
    for r in 0..<n {
      for q in 0..<n {
        h[r * n + q] = s[(r / dIn) * dOut + q / dIn] * c[(r % dIn) * dIn + q % dIn] + (r == q ? lambda : 0)
      }
    }
    return h
  }

  static func block(_ f: Matrix, _ c: KroneckerCurvature, sample s: Int, layer l: Int) -> [Double] {
    let o = c.featureOffsets[l]
    return f.row(s)[o..<o + specs[l].outputDim * specs[l].inputDim].map(Double.init)
  }

  static func close(_ got: Double, _ want: Double, _ tol: Double) -> Bool {
    abs(got - want) <= tol * max(abs(want), 1e-3)
  }

  // MARK: - Whitening

  @Test func whiteningAnIdentityGivesTheInverseRootWithTheMeanEigenvalueDamping() throws {
    let c = try Self.fitted(corrections: false)
    // A = I (padded with zero rows), Δ = I: the whitened rows are M_C, M_S.
    let rows = 6
    var eye = FactorBatch(tokenCounts: [rows], layers: [])
    for spec in Self.specs {
      var a = Matrix(rows: rows, cols: spec.inputDim), d = Matrix(rows: rows, cols: spec.outputDim)
      for i in 0..<spec.inputDim { a[i, i] = 1 }
      for i in 0..<spec.outputDim { d[i, i] = 1 }
      eye.layers.append((spec.id, a, d))
    }
    for damping in [CurvatureDamping.default, try .absolute(0.2), try .relative(1)] {
      let w = try Self.whiten(c, eye, damping)
      let lambdas = try c.whitener(damping: damping).lambdas
      for (l, spec) in Self.specs.enumerated() {
        for inputs in [true, false] {
          let n = inputs ? spec.inputDim : spec.outputDim
          let x = Self.covariance(l, inputs: inputs)
          // The mean eigenvalue is trace / n.
          let lambda = damping.isRelative ? damping.value * Self.trace(x, n) / Double(n) : damping.value
          #expect(Self.close(inputs ? lambdas[l].input : lambdas[l].output, lambda, 1e-5))
          let m = inputs ? w[l].inputs : w[l].outputGradients
          let xl = Self.plusIdentity(x, n, lambda)
          var worst = 0.0
          for i in 0..<n {
            for j in 0..<n {
              var v = 0.0
              for p in 0..<n { for q in 0..<n { v += Double(m[i, p]) * xl[p * n + q] * Double(m[q, j]) } }
              worst = max(worst, abs(v - (i == j ? 1 : 0)))
              #expect(abs(m[i, j] - m[j, i]) < 1e-5)  // symmetric
            }
          }
          #expect(worst < 1e-4, "layer \(spec.id) \(inputs ? "C" : "S") \(damping)")
          for i in n..<rows { #expect(m.row(i).allSatisfy { $0 == 0 }) }
        }
      }
    }
  }

  @Test func whitenedGradientsGiveTheKroneckerInverseInnerProducts() throws {
    let c = try Self.fitted(corrections: false)
    let b = Self.query
    for damping in [CurvatureDamping.default, try .absolute(0.3)] {
      let w = try Self.whiten(c, b, damping)
      let whitened = FactorBatch(tokenCounts: b.tokenCounts, layers: w)
      for (l, spec) in Self.specs.enumerated() {
        #expect(w[l].id == spec.id)
        let (dIn, dOut) = (spec.inputDim, spec.outputDim)
        let cov = Self.covariance(l, inputs: true), s = Self.covariance(l, inputs: false)
        let lc = damping.isRelative ? damping.value * Self.trace(cov, dIn) / Double(dIn) : damping.value
        let ls = damping.isRelative ? damping.value * Self.trace(s, dOut) / Double(dOut) : damping.value
        let (cl, sl) = (Self.plusIdentity(cov, dIn, lc), Self.plusIdentity(s, dOut, ls))
        for i in 0..<b.tokenCounts.count {
          for j in 0..<b.tokenCounts.count {
            let got = dot(whitened.gradient(layer: l, sample: i), whitened.gradient(layer: l, sample: j))
            // (S+λ_S)⁻¹ G_j (C+λ_C)⁻¹ by column and row solves.
            let gj = b.gradient(layer: l, sample: j)
            var y = [Double](repeating: 0, count: dOut * dIn)
            for col in 0..<dIn {
              let x = Self.solve(sl, (0..<dOut).map { gj[$0 * dIn + col] }, dOut)
              for o in 0..<dOut { y[o * dIn + col] = x[o] }
            }
            var z: [Double] = []
            for o in 0..<dOut { z += Self.solve(cl, Array(y[o * dIn..<(o + 1) * dIn]), dIn) }
            let want = dot(b.gradient(layer: l, sample: i), z)
            #expect(Self.close(got, want, 1e-4), "layer \(spec.id) (\(i), \(j)): \(got) vs \(want)")
          }
        }
      }
    }
  }

  @Test func anySubsetOfTheLayersWhitensAsInTheWholeBatch() throws {
    let c = try Self.fitted(corrections: false)
    let b = Self.query
    let whole = try Self.whiten(c, b)
    let only = FactorBatch(tokenCounts: b.tokenCounts, layers: [b.layers[1]])
    let part = try Self.whiten(c, only)
    #expect(part.count == 1 && part[0].id == 9)
    #expect(part[0].inputs == whole[1].inputs && part[0].outputGradients == whole[1].outputGradients)
    let reversed = try Self.whiten(c, FactorBatch(tokenCounts: b.tokenCounts, layers: b.layers.reversed()))
    #expect(reversed.map(\.id) == [9, 7] && reversed[0].inputs == whole[1].inputs)
    let twice = FactorBatch(tokenCounts: b.tokenCounts, layers: [b.layers[1], b.layers[1]])
    Self.expectCode(.invalidArgument, "a layer twice") { _ = try Self.whiten(c, twice) }
  }

  // MARK: - Eigenbasis features

  @Test func kfacFeaturesGiveTheDampedKroneckerInverse() throws {
    let c = try Self.fitted(corrections: false)
    let b = Self.query
    for damping in [try CurvatureDamping.absolute(0.05), .default, try .relative(2)] {
      let f = try Self.features(c, b, .kfac, damping)
      #expect(f.rows == 5 && f.cols == c.featureDim && c.featureDim == 15 + 24)
      #expect(f.row(1).allSatisfy { $0 == 0 })  // no tokens
      for (l, spec) in Self.specs.enumerated() {
        let (dIn, dOut) = (spec.inputDim, spec.outputDim)
        let cov = Self.covariance(l, inputs: true), s = Self.covariance(l, inputs: false)
        // mean(e_S ⊗ e_C) = (tr S / d_out)(tr C / d_in).
        let mean = Self.trace(s, dOut) / Double(dOut) * Self.trace(cov, dIn) / Double(dIn)
        let lambda = damping.isRelative ? damping.value * mean : damping.value
        let h = Self.kronecker(s, cov, dOut: dOut, dIn: dIn, lambda: lambda)
        let want = (0..<5).map { i in
          (0..<5).map { j in
            dot(b.gradient(layer: l, sample: i), Self.solve(h, b.gradient(layer: l, sample: j), dOut * dIn))
          }
        }
        for i in 0..<5 {
          for j in 0..<5 {
            let got = dot(Self.block(f, c, sample: i, layer: l), Self.block(f, c, sample: j, layer: l))
            // Relative to the pair's norms, √(want_ii·want_jj) ≥ |want_ij| (H
            // is positive definite): an entry near 0 is as exact as its
            // samples, not as its own value (float32 eigenvectors; Haswell
            // kernels measured 1.3e-4 of the entry itself on (2, 3)).
            let scale = max(abs(want[i][j]), (want[i][i] * want[j][j]).squareRoot())
            #expect(
              abs(got - want[i][j]) <= 1e-4 * max(scale, 1e-3),
              "layer \(spec.id) (\(i), \(j)) \(damping): \(got) vs \(want[i][j])")
          }
        }
      }
    }
  }

  @Test func ekfacFeaturesNormaliseTheFitSetSecondMoments() throws {
    let c = try Self.fitted()
    #expect(c.correctionSamples == 33)
    // Λ_k = mean_s x_sk², so Σ_s |f_s|² = Σ_k N Λ_k / (Λ_k + λ) → N·featureDim as λ → 0.
    var total = 0.0, samples = 0
    for b in Self.fitBatches {
      let f = try Self.features(c, b, .ekfac, try .absolute(1e-9))
      total += f.storage.reduce(0) { $0 + Double($1) * Double($1) }
      samples += b.tokenCounts.count
    }
    #expect(Self.close(total, Double(samples * c.featureDim), 1e-3), "\(total)")
    // A damping far above Λ: f ≈ x / √λ, and the rotation keeps the norm: |f|² ≈ |G|² / λ.
    for method in CurvatureMethod.allCases {
      let f = try Self.features(c, Self.query, method, try .absolute(1e6))
      for s in 0..<5 {
        for l in 0..<2 {
          let g = Self.query.gradient(layer: l, sample: s)
          let got = dot(Self.block(f, c, sample: s, layer: l), Self.block(f, c, sample: s, layer: l))
          #expect(abs(got - dot(g, g) / 1e6) <= 1e-4 * dot(g, g) / 1e6 + 1e-12, "\(method)")
        }
      }
    }
  }

  @Test func ekfacWithOneFitSampleDividesItsRotatedGradientByItself() throws {
    // One fit sample: Λ = x², so with λ → 0 every feature of that sample is ±1
    // wherever x ≠ 0 (all of them for generic data with T ≥ both dims).
    let spec = [LinearLayerSpec(id: 3, inputDim: 3, outputDim: 2)]
    let b = FactorBatch.random(spec, tokenCounts: [6], seed: 9)
    var c = try KroneckerCurvature(layers: spec)
    try b.with { try c.accumulate(tokenCounts: [6], layers: $0) }
    try c.fit()
    try b.with { try c.accumulateCorrections(tokenCounts: [6], layers: $0) }
    let f = try Self.features(c, b, .ekfac, try .absolute(1e-12))
    for v in f.storage { #expect(abs(abs(v) - 1) < 1e-3, "\(v)") }
  }

  @Test func correctionsAccumulatedTwiceGiveTheSameSecondMoments() throws {
    let once = try Self.fitted()
    var twice = once
    for b in Self.fitBatches { try b.with { try twice.accumulateCorrections(tokenCounts: b.tokenCounts, layers: $0) } }
    #expect(twice.correctionSamples == 66)
    let (a, b) = (try Self.features(once, Self.query, .ekfac), try Self.features(twice, Self.query, .ekfac))
    #expect(relativeL2Error(a.storage, b.storage) < 1e-6)
  }

  // MARK: - Determinism

  @Test func featuresOfASampleDoNotDependOnItsBatch() throws {
    let c = try Self.fitted()
    let b = Self.query
    for method in CurvatureMethod.allCases {
      let whole = try Self.features(c, b, method)
      for samples in [[0], [2], [4, 3], [3, 0, 2], [1, 4]] {
        let part = try Self.features(c, b.subset(samples), method)
        for (i, s) in samples.enumerated() {
          #expect(part.row(i) == whole.row(s), "\(method) sample \(s) in \(samples)")
        }
      }
      // Layers handed over in another order: the same bits.
      let reversed = FactorBatch(tokenCounts: b.tokenCounts, layers: b.layers.reversed())
      #expect(try Self.features(c, reversed, method) == whole)
    }
  }

  @Test func accumulatingInOneBatchOrSeveralGivesTheSameFit() throws {
    let split = try Self.fitted(corrections: false)
    // The three batches merged into one.
    let merged = FactorBatch(
      tokenCounts: Self.fitBatches.flatMap(\.tokenCounts),
      layers: Self.specs.indices.map { l in
        let parts = Self.fitBatches.map { $0.layers[l] }
        let a = parts.flatMap(\.inputs.storage), d = parts.flatMap(\.outputGradients.storage)
        return (
          Self.specs[l].id,
          try! Matrix(rows: a.count / Self.specs[l].inputDim, cols: Self.specs[l].inputDim, storage: a),
          try! Matrix(rows: d.count / Self.specs[l].outputDim, cols: Self.specs[l].outputDim, storage: d)
        )
      })
    var one = try Self.accumulated([merged])
    #expect(one.tokens == split.tokens && one.samples == split.samples && one.samples == 33)
    try one.fit()
    for l in 0..<2 {
      #expect(relativeL2Error(one.states[l].inputSum, split.states[l].inputSum) < 1e-6)
      #expect(relativeL2Error(one.states[l].outputSum, split.states[l].outputSum) < 1e-6)
      #expect(relativeL2Error(one.states[l].inputEigenvalues, split.states[l].inputEigenvalues) < 1e-5)
    }
    // Inverse roots are unique (eigenvector signs are not): compare whitened factors.
    let (w1, w2) = (try Self.whiten(one, Self.query), try Self.whiten(split, Self.query))
    for l in 0..<2 {
      #expect(relativeL2Error(w1[l].inputs.storage, w2[l].inputs.storage) < 1e-5)
      #expect(relativeL2Error(w1[l].outputGradients.storage, w2[l].outputGradients.storage) < 1e-5)
    }
    // K-FAC feature inner products do not depend on the signs either.
    let (f1, f2) = (try Self.features(one, Self.query, .kfac), try Self.features(split, Self.query, .kfac))
    for i in 0..<5 {
      for j in 0..<5 {
        #expect(Self.close(dot(f1.row(i).map(Double.init), f1.row(j).map(Double.init)),
                           dot(f2.row(i).map(Double.init), f2.row(j).map(Double.init)), 1e-4))
      }
    }
  }

  @Test func halfPrecisionFactorsAccumulateAsTheirFloatConversion() throws {
    let spec = [LinearLayerSpec(id: 1, inputDim: 6, outputDim: 4)]
    // 600 tokens: more than two 256-row conversion panels.
    var b = FactorBatch.random(spec, tokenCounts: [250, 100, 250], seed: 5)
    let round: (Matrix) -> Matrix = { m in m.mapElements { Float(Float16($0)) } }
    b.layers[0].inputs = round(b.layers[0].inputs)
    b.layers[0].outputGradients = round(b.layers[0].outputGradients)
    var viaFloat = try KroneckerCurvature(layers: spec)
    try b.with { try viaFloat.accumulate(tokenCounts: b.tokenCounts, layers: $0) }
    let aHalf = b.layers[0].inputs.storage.map { Float16($0).bitPattern }
    let dHalf = b.layers[0].outputGradients.storage.map { Float16($0).bitPattern }
    var viaHalf = try KroneckerCurvature(layers: spec)
    try aHalf.withUnsafeBufferPointer { a in
      try dHalf.withUnsafeBufferPointer { d in
        let f = [LayerFactors(layerID: 1, inputs: .float16(a), outputGradients: .float16(d))]
        try viaHalf.accumulate(tokenCounts: b.tokenCounts, layers: f)
        try viaFloat.fit()
        try viaHalf.fit()
        try b.with { try viaFloat.accumulateCorrections(tokenCounts: b.tokenCounts, layers: $0) }
        try viaHalf.accumulateCorrections(tokenCounts: b.tokenCounts, layers: f)
        // Eigenvector signs may differ between the fits; |features| may not.
        let x = try Self.features(viaFloat, b, .ekfac).storage.map { abs($0) }
        let y = try viaHalf.eigenbasisFeatures(tokenCounts: b.tokenCounts, layers: f, method: .ekfac)
        #expect(relativeL2Error(y.storage.map { abs($0) }, x) < 1e-4)
      }
    }
    #expect(viaHalf.tokens == 600 && viaHalf.samples == 3)
    #expect(relativeL2Error(viaHalf.states[0].inputSum, viaFloat.states[0].inputSum) < 1e-6)
    #expect(relativeL2Error(viaHalf.states[0].outputSum, viaFloat.states[0].outputSum) < 1e-6)
    let (w1, w2) = (try Self.whiten(viaHalf, b), try Self.whiten(viaFloat, b))
    #expect(relativeL2Error(w1[0].inputs.storage, w2[0].inputs.storage) < 1e-5)
    #expect(relativeL2Error(w1[0].outputGradients.storage, w2[0].outputGradients.storage) < 1e-5)
  }

  // MARK: - Files

  static func temporaryURL(_ name: String = "fit.wnkfac") -> URL {
    FileManager.default.temporaryDirectory.appendingPathComponent("winnow-kfac-\(UUID().uuidString)-\(name)")
  }

  static func expectSameState(_ a: KroneckerCurvature, _ b: KroneckerCurvature) {
    #expect(a.phase == b.phase && a.tokens == b.tokens && a.samples == b.samples)
    #expect(a.correctionSamples == b.correctionSamples && a.layers == b.layers)
    #expect(a.featureDim == b.featureDim && a.featureOffsets == b.featureOffsets)
    for l in a.states.indices {
      let (x, y) = (a.states[l], b.states[l])
      #expect(x.inputSum == y.inputSum && x.outputSum == y.outputSum)
      #expect(x.inputBasis == y.inputBasis && x.inputEigenvalues == y.inputEigenvalues)
      #expect(x.outputBasis == y.outputBasis && x.outputEigenvalues == y.outputEigenvalues)
      #expect(x.corrections == y.corrections)
    }
  }

  @Test func saveAndLoadRestoreEveryPhaseBitForBit() throws {
    let url = Self.temporaryURL()
    defer { try? FileManager.default.removeItem(at: url) }
    // Accumulating.
    var accumulating = try Self.accumulated()
    try accumulating.save(to: url)
    var loaded = try KroneckerCurvature.load(from: url)
    Self.expectSameState(loaded, accumulating)
    try accumulating.fit()
    try loaded.fit()
    #expect(try Self.features(loaded, Self.query, .kfac) == (try Self.features(accumulating, Self.query, .kfac)))
    // Fitted, without and with corrections.
    for corrections in [false, true] {
      let c = try Self.fitted(corrections: corrections)
      try c.save(to: url)
      let d = try KroneckerCurvature.load(from: url)
      Self.expectSameState(d, c)
      for method in corrections ? CurvatureMethod.allCases : [.kfac] {
        #expect(try Self.features(d, Self.query, method) == (try Self.features(c, Self.query, method)))
      }
      let (w1, w2) = (try Self.whiten(d, Self.query), try Self.whiten(c, Self.query))
      for l in 0..<2 { #expect(w1[l].inputs == w2[l].inputs && w1[l].outputGradients == w2[l].outputGradients) }
      if !corrections {
        #expect(throws: WinnowError.self) { _ = try Self.features(d, Self.query, .ekfac) }
      }
    }
  }

  @Test func anEmptyCorrectionBatchAddsNothingAndTheFitStillLoads() throws {
    var c = try Self.fitted(corrections: false)
    let empty = FactorBatch.random(Self.specs, tokenCounts: [], seed: 0)
    try empty.with { try c.accumulateCorrections(tokenCounts: [], layers: $0) }
    #expect(c.correctionSamples == 0 && c.states.allSatisfy { $0.corrections.isEmpty })
    let url = Self.temporaryURL()
    defer { try? FileManager.default.removeItem(at: url) }
    try c.save(to: url)
    Self.expectSameState(try KroneckerCurvature.load(from: url), c)
  }

  @Test func damagedFilesAreRefusedWithFormatNamingTheFile() throws {
    let c = try Self.fitted()
    let url = Self.temporaryURL(), bad = Self.temporaryURL("bad.wnkfac")
    defer {
      try? FileManager.default.removeItem(at: url)
      try? FileManager.default.removeItem(at: bad)
    }
    try c.save(to: url)
    let good = try Data(contentsOf: url)
    var headerLength = 0
    for i in 0..<8 { headerLength |= Int(good[8 + i]) << (8 * i) }
    let payload = 48 + headerLength
    var variants: [(String, Data)] = []
    for (name, position) in [
      ("magic", 0), ("length", 9), ("header checksum", 30), ("header start", 48),
      ("header middle", 48 + headerLength / 2), ("payload start", payload),
      ("middle", good.count / 2), ("end", good.count - 1),
    ] {
      var d = good
      d[position] ^= 0x20
      variants.append(("flip \(name)", d))
    }
    variants += [
      ("truncated by one", good.prefix(good.count - 1)), ("header only", good.prefix(payload)),
      ("short", good.prefix(20)), ("empty", Data()), ("padded", good + Data([0])),
      ("padded with a float", good + Data(count: 4)),
    ]
    for (name, data) in variants {
      try data.write(to: bad)
      let error = #expect(throws: WinnowError.self, "\(name)") { _ = try KroneckerCurvature.load(from: bad) }
      #expect(error?.code == .format, "\(name): \(error?.message ?? "")")
      #expect(error?.message.contains(bad.path) == true, "\(name): \(error?.message ?? "")")
    }
    let missing = #expect(throws: WinnowError.self) {
      _ = try KroneckerCurvature.load(from: Self.temporaryURL("missing"))
    }
    #expect(missing?.code == .io)
    Self.expectSameState(try KroneckerCurvature.load(from: url), c)
  }

  // MARK: - Errors

  static func expectCode(
    _ code: WinnowError.Code, _ what: String, sourceLocation: SourceLocation = #_sourceLocation,
    _ body: () throws -> Void
  ) {
    let error = #expect(throws: WinnowError.self, "\(what)", sourceLocation: sourceLocation) { try body() }
    #expect(error?.code == code, "\(what): \(error?.message ?? "")", sourceLocation: sourceLocation)
    #expect(error?.message.isEmpty == false, sourceLocation: sourceLocation)
  }

  @Test func callsOutOfOrderAreBadState() throws {
    let b = Self.query
    var c = try KroneckerCurvature(layers: Self.specs)
    #expect(c.phase == .accumulating && c.tokens == 0)
    Self.expectCode(.badState, "fit with no tokens") { try c.fit() }
    Self.expectCode(.badState, "corrections before fit") {
      try b.with { try c.accumulateCorrections(tokenCounts: b.tokenCounts, layers: $0) }
    }
    Self.expectCode(.badState, "whiten before fit") { _ = try c.whitener() }
    Self.expectCode(.badState, "kfac before fit") { _ = try Self.features(c, b, .kfac) }
    Self.expectCode(.badState, "ekfac before fit") { _ = try Self.features(c, b, .ekfac) }
    // Samples without tokens are no tokens.
    let empty = b.subset([1])
    try empty.with { try c.accumulate(tokenCounts: empty.tokenCounts, layers: $0) }
    #expect(c.tokens == 0 && c.samples == 1)
    Self.expectCode(.badState, "fit with only empty samples") { try c.fit() }
    try b.with { try c.accumulate(tokenCounts: b.tokenCounts, layers: $0) }
    try c.fit()
    #expect(c.phase == .fitted && c.tokens == 11 && c.samples == 6)
    Self.expectCode(.badState, "fit twice") { try c.fit() }
    Self.expectCode(.badState, "accumulate after fit") {
      try b.with { try c.accumulate(tokenCounts: b.tokenCounts, layers: $0) }
    }
    Self.expectCode(.badState, "ekfac without corrections") { _ = try Self.features(c, b, .ekfac) }
    #expect(c.tokens == 11 && c.samples == 6 && c.correctionSamples == 0)
  }

  @Test func refusedBatchesLeaveTheFitUnchanged() throws {
    var c = try Self.accumulated()
    let (tokens, samples) = (c.tokens, c.samples)
    let sums = c.states.map { ($0.inputSum, $0.outputSum) }
    let b = Self.query
    var nan = b, inf = b
    nan.layers[1].inputs[3, 2] = .nan
    inf.layers[0].outputGradients[0, 1] = -.infinity
    func unchanged(_ what: String) {
      #expect(c.tokens == tokens && c.samples == samples, "\(what)")
      #expect(c.states.map(\.inputSum) == sums.map(\.0) && c.states.map(\.outputSum) == sums.map(\.1), "\(what)")
    }
    Self.expectCode(.nonFinite, "NaN") { try nan.with { try c.accumulate(tokenCounts: b.tokenCounts, layers: $0) } }
    unchanged("NaN")
    Self.expectCode(.nonFinite, "inf") { try inf.with { try c.accumulate(tokenCounts: b.tokenCounts, layers: $0) } }
    unchanged("inf")
    Self.expectCode(.shapeMismatch, "counts") { try b.with { try c.accumulate(tokenCounts: [2, 0, 5, 3], layers: $0) } }
    var narrow = b
    narrow.layers[0].inputs = Matrix(rows: 11, cols: 4)
    Self.expectCode(.shapeMismatch, "width") {
      try narrow.with { try c.accumulate(tokenCounts: b.tokenCounts, layers: $0) }
    }
    Self.expectCode(.invalidArgument, "negative count") {
      try b.with { try c.accumulate(tokenCounts: [2, 0, 5, 5, -1], layers: $0) }
    }
    var unknown = b
    unknown.layers[1].id = 8
    Self.expectCode(.invalidArgument, "unknown id") {
      try unknown.with { try c.accumulate(tokenCounts: b.tokenCounts, layers: $0) }
    }
    var duplicate = b
    duplicate.layers[1].id = 7
    Self.expectCode(.invalidArgument, "duplicate id") {
      try duplicate.with { try c.accumulate(tokenCounts: b.tokenCounts, layers: $0) }
    }
    let missing = FactorBatch(tokenCounts: b.tokenCounts, layers: [b.layers[0]])
    Self.expectCode(.invalidArgument, "missing id") {
      try missing.with { try c.accumulate(tokenCounts: b.tokenCounts, layers: $0) }
    }
    unchanged("all refusals")

    // After the fit: corrections, features and whitening refuse the same inputs.
    var reference = c
    try c.fit()
    try reference.fit()
    Self.expectCode(.nonFinite, "NaN corrections") {
      try nan.with { try c.accumulateCorrections(tokenCounts: b.tokenCounts, layers: $0) }
    }
    #expect(c.correctionSamples == 0 && c.states.allSatisfy { $0.corrections.isEmpty })
    Self.expectCode(.nonFinite, "NaN features") { _ = try Self.features(c, nan, .kfac) }
    Self.expectCode(.nonFinite, "NaN whiten") { _ = try Self.whiten(c, nan) }
    Self.expectCode(.shapeMismatch, "features counts") {
      try b.with { _ = try c.eigenbasisFeatures(tokenCounts: [1], layers: $0, method: .kfac) }
    }
    Self.expectCode(.invalidArgument, "whiten unknown id") { _ = try Self.whiten(c, unknown) }
    Self.expectCode(.invalidArgument, "features duplicate id") { _ = try Self.features(c, duplicate, .kfac) }
    // A subset of the layers: its block of every layer's features, bit for bit.
    let firstOnly = try Self.features(c, missing, .kfac), all = try Self.features(c, b, .kfac)
    #expect(firstOnly.cols == c.featureOffsets[1])
    #expect((0..<5).allSatisfy { firstOnly.row($0) == Array(all.row($0)[0..<c.featureOffsets[1]]) })
    // EK-FAC for one layer only: its corrections, its features; the other
    // layer has none and says so.
    var partial = reference
    try missing.with { try partial.accumulateCorrections(tokenCounts: b.tokenCounts, layers: $0) }
    #expect(partial.layerCorrectionSamples == [5, 0] && partial.correctionSamples == 5)
    #expect(try Self.features(partial, missing, .ekfac).cols == c.featureOffsets[1])
    Self.expectCode(.badState, "EK-FAC of a layer without corrections") { _ = try Self.features(partial, b, .ekfac) }
    let partialURL = Self.temporaryURL("partial")
    try partial.save(to: partialURL)
    let reloaded = try KroneckerCurvature.load(from: partialURL)
    #expect(reloaded.layerCorrectionSamples == [5, 0])
    #expect(try Self.features(reloaded, missing, .ekfac) == (try Self.features(partial, missing, .ekfac)))
    try b.with { try c.accumulateCorrections(tokenCounts: b.tokenCounts, layers: $0) }
    try b.with { try reference.accumulateCorrections(tokenCounts: b.tokenCounts, layers: $0) }
    #expect(try Self.features(c, b, .ekfac) == (try Self.features(reference, b, .ekfac)))
    #expect(try Self.features(c, b, .kfac) == (try Self.features(reference, b, .kfac)))
    // A short caller buffer.
    var short = [Float](repeating: 0, count: 5 * c.featureDim - 1)
    Self.expectCode(.bufferTooSmall, "short output") {
      try short.withUnsafeMutableBufferPointer { out in
        try b.with { try c.eigenbasisFeatures(tokenCounts: b.tokenCounts, layers: $0, method: .kfac, into: out) }
      }
    }
  }

  @Test func aCovarianceThatOverflowsFloatIsRefusedAtFitAndLeavesItAccumulating() throws {
    var b = FactorBatch.random(Self.specs, tokenCounts: [2, 3], seed: 8)
    b.layers[1].inputs = b.layers[1].inputs.mapElements { $0 * 1e20 }  // finite; its squares are not
    var c = try KroneckerCurvature(layers: Self.specs)
    try b.with { try c.accumulate(tokenCounts: b.tokenCounts, layers: $0) }
    Self.expectCode(.nonFinite, "overflowing covariance") { try c.fit() }
    #expect(c.phase == .accumulating && c.tokens == 5)
    #expect(c.states.allSatisfy { $0.inputBasis.isEmpty && $0.outputBasis.isEmpty })
  }

  @Test func dampingMustBeFiniteAndNonNegative() throws {
    for value in [-0.1, -Double.leastNonzeroMagnitude, .nan, .infinity, -.infinity] {
      Self.expectCode(.invalidArgument, "relative \(value)") { _ = try CurvatureDamping.relative(value) }
      Self.expectCode(.invalidArgument, "absolute \(value)") { _ = try CurvatureDamping.absolute(value) }
    }
    #expect(CurvatureDamping.default == (try .relative(0.1)))
    #expect(try CurvatureDamping.absolute(0).value == 0)
  }

  @Test func zeroDampingOfARankDeficientLayerIsNumerical() throws {
    // Two tokens: C (6 × 6) and S (4 × 4) have rank 2.
    let spec = [LinearLayerSpec(id: 1, inputDim: 6, outputDim: 4)]
    let b = FactorBatch.random(spec, tokenCounts: [2], seed: 6)
    var c = try KroneckerCurvature(layers: spec)
    try b.with { try c.accumulate(tokenCounts: [2], layers: $0) }
    try c.fit()
    #expect(c.states[0].inputEigenvalues.allSatisfy { $0 >= 0 })  // rounding negatives clipped
    for damping in [try CurvatureDamping.absolute(0), try .relative(0)] {
      Self.expectCode(.numerical, "whiten \(damping)") { _ = try c.whitener(damping: damping) }
      Self.expectCode(.numerical, "kfac \(damping)") { _ = try Self.features(c, b, .kfac, damping) }
    }
    // (EK-FAC's fitted moments of the null directions are rounding noise
    // squared, tiny but positive, so zero damping is not refused there.)
    let f = try Self.features(c, b, .kfac, try .absolute(1e-3))
    let finite = f.storage.allSatisfy { $0.isFinite }
    #expect(finite)
  }

  @Test func badLayersAreRefused() throws {
    Self.expectCode(.invalidArgument, "none") { _ = try KroneckerCurvature(layers: []) }
    Self.expectCode(.invalidArgument, "duplicate") {
      _ = try KroneckerCurvature(layers: [Self.specs[0], Self.specs[0]])
    }
    Self.expectCode(.invalidArgument, "zero dim") {
      _ = try KroneckerCurvature(layers: [LinearLayerSpec(id: 1, inputDim: 0, outputDim: 3)])
    }
    Self.expectCode(.unsupported, "dim above Int32") {
      _ = try KroneckerCurvature(layers: [LinearLayerSpec(id: 1, inputDim: 1 << 31, outputDim: 3)])
    }
    Self.expectCode(.outOfMemory, "too large to hold") {
      _ = try KroneckerCurvature(layers: [LinearLayerSpec(id: 1, inputDim: 2_000_000, outputDim: 3)])
    }
    let c = try KroneckerCurvature(layers: Self.specs)
    #expect(c.featureDim == 39 && c.featureOffsets == [0, 15] && c.layers == Self.specs)
  }
}
