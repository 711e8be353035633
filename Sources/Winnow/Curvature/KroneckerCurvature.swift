/// The Kronecker-factored curvature of linear layers: K-FAC and EK-FAC
/// (DESIGN 2.9).
///
/// Influence with a Gauss–Newton / Fisher curvature `H` instead of the
/// projected `ΦᵀΦ` of TRAK. K-FAC models each linear layer's block of `H` as
/// `S ⊗ C`, with `C = E[a aᵀ]` (`d_in × d_in`) and `S = E[δ δᵀ]`
/// (`d_out × d_out`), expectations over the tokens of a fit set
/// (Martens & Grosse 2015). EK-FAC (George et al. 2018; Grosse et al. 2023)
/// keeps the Kronecker eigenbasis `Q_S ⊗ Q_C` and replaces the eigenvalues
/// `e_S ⊗ e_C` by the fitted second moments of each sample's gradient in
/// that basis, `Λ = E_s[(Q_Sᵀ G_s Q_C)²]`.
///
/// Use in three steps:
/// 1. `accumulate(tokenCounts:layers:)` over the fit set: streams `AᵀA` and
///    `ΔᵀΔ` into sums (`ssyrk`); `C` and `S` are those sums divided by the
///    tokens seen (kronfluence's normalisation).
/// 2. `fit()`: eigendecomposes `C` and `S` (`LAPACKE_ssyevd`).
/// 3. Optionally `accumulateCorrections(tokenCounts:layers:)` over the fit
///    set again, for EK-FAC.
///
/// Then `whitener(damping:)` gives K-FAC's whitened factors (cheap, and
/// projectable by `FactoredProjector`), and `eigenbasisFeatures` gives
/// K-FAC or EK-FAC features in the eigenbasis (exact, `d_out·d_in` per
/// layer). Both are features whose dot product is the influence
/// `g_iᵀ (H + λ)⁻¹ g_j`, for the damping of each. `save(to:)` and
/// `load(from:)` keep a fit with its metadata and checksums.
///
/// A value type: copies are independent, and a shared instance may be read
/// from several threads at once.
public struct KroneckerCurvature: Sendable {
  /// How far the fit has come.
  public enum Phase: Int, Sendable, Codable {
    /// Covariances are being accumulated; nothing can be preconditioned yet.
    case accumulating = 0
    /// `C` and `S` are eigendecomposed; K-FAC is available, and EK-FAC
    /// corrections can be accumulated.
    case fitted = 1
  }

  /// The layers, in feature order (their ranks are not used).
  public var layers: [LinearLayerSpec] { layout.layers }
  /// How far the fit has come.
  public internal(set) var phase: Phase = .accumulating
  /// The tokens accumulated into `C` and `S` (the same for every layer).
  public internal(set) var tokens = 0
  /// The samples of those tokens.
  public internal(set) var samples = 0
  /// The samples accumulated into the EK-FAC corrections: the most of any
  /// layer (0: none). Corrections may be accumulated for some layers only
  /// (EK-FAC where it is affordable); `layerCorrectionSamples` has each.
  public var correctionSamples: Int { states.map(\.correctionSamples).max() ?? 0 }
  /// The samples of each layer's EK-FAC corrections, in layer order.
  public var layerCorrectionSamples: [Int] { states.map(\.correctionSamples) }
  /// `Σ_l d_out·d_in`: the length of one sample's eigenbasis features.
  public let featureDim: Int
  /// Where each layer's eigenbasis features start, in layer order.
  public let featureOffsets: [Int]

  let layout: FactoredLayout
  var states: [LayerCurvature]

  /// Starts an empty fit for `layers` (ids unique, dims positive).
  ///
  /// - Throws: `.invalidArgument` for no layers, duplicate ids or a zero
  ///   dim; `.outOfMemory` when the layers' matrices
  ///   (`4·Σ(2·d_in² + 2·d_out² + d_out·d_in)` bytes) cannot be held;
  ///   `.unsupported` for a dim above what BLAS takes.
  public init(layers: [LinearLayerSpec]) throws {
    self.layout = try FactoredLayout(layers, checkRanks: false)
    try layout.checkBLASDims(ranks: false)
    var offsets: [Int] = [], total = 0, held = 0
    for layer in layers {
      let name = "layer \(layer.id)"
      let gradient = try CheckedSize.product([layer.outputDim, layer.inputDim], "the gradient of \(name)")
      let inputs = try CheckedSize.product([layer.inputDim, layer.inputDim], "C of \(name)")
      let outputs = try CheckedSize.product([layer.outputDim, layer.outputDim], "S of \(name)")
      offsets.append(total)
      total = try CheckedSize.sum([total, gradient], "the eigenbasis features of all layers")
      held = try CheckedSize.sum([held, inputs, inputs, outputs, outputs, gradient], "the curvature")
    }
    _ = try CheckedSize.allocatable([held], elementSize: 4, "the curvature of all layers")
    self.featureDim = total
    self.featureOffsets = offsets
    self.states = layers.map { LayerCurvature(inputDim: $0.inputDim, outputDim: $0.outputDim) }
  }

  /// Adds a batch of the fit set to the covariance sums.
  ///
  /// Every factor is checked (shape, finiteness) before anything is added,
  /// so a refused batch leaves the fit as it was.
  ///
  /// - Parameters:
  ///   - tokenCounts: `T_s` per sample; `S` entries summing to `ΣT`.
  ///   - layers: One `LayerFactors` per layer, any order: `A` (`ΣT × d_in`)
  ///     and `Δ` (`ΣT × d_out`), the per-token gradients of each sample's
  ///     loss with respect to the layer's output.
  /// - Throws: `.badState` after `fit()`; as `FactoredProjector.project`.
  /// - Complexity: O(ΣT·Σ_l(d_in² + d_out²)) flops.
  public mutating func accumulate(tokenCounts: [Int], layers: [LayerFactors]) throws {
    guard phase == .accumulating else {
      throw WinnowError(
        .badState, "the curvature is already fitted; covariances can no longer be accumulated")
    }
    let rows = try FactoredLayout.totalTokens(tokenCounts)
    let ordered = try layout.ordered(layers, rows: rows, what: "fit batch")
    try checkFinite(ordered, rows: rows, what: "fit batch")
    for (l, factors) in ordered.enumerated() {
      try states[l].accumulate(factors, rows: rows)
    }
    tokens += rows
    samples += tokenCounts.count
  }

  /// Eigendecomposes `C = ΣaaᵀT⁻¹` and `S = ΣδδᵀT⁻¹` of every layer.
  ///
  /// Eigenvalues below zero (rounding of a positive semidefinite matrix)
  /// are set to zero.
  ///
  /// - Throws: `.badState` when fitted already or no token was accumulated;
  ///   `.nonFinite` when a covariance overflowed `Float`; `.numerical` when
  ///   LAPACK does not converge. A failed fit leaves the sums as they were.
  /// - Complexity: O(Σ_l d_in³ + d_out³).
  public mutating func fit() throws {
    guard phase == .accumulating else { throw WinnowError(.badState, "the curvature is already fitted") }
    guard tokens > 0 else {
      throw WinnowError(.badState, "no token was accumulated: call accumulate on the fit set before fit")
    }
    var fitted = states
    for l in fitted.indices {
      try fitted[l].eigendecompose(tokens: tokens, layer: layers[l].id)
    }
    states = fitted
    phase = .fitted
  }

  /// Refuses non-finite factors before any sum changes.
  func checkFinite(_ ordered: [LayerFactors], rows: Int, what: String) throws {
    for f in ordered {
      let spec = layers[layout.indexByID[f.layerID]!]
      try f.inputs.forEachFloatPanel(
        rows: rows, cols: spec.inputDim, name: "\(what): layer \(spec.id) inputs"
      ) { _, _, _ in }
      try f.outputGradients.forEachFloatPanel(
        rows: rows, cols: spec.outputDim, name: "\(what): layer \(spec.id) output gradients"
      ) { _, _, _ in }
    }
  }
}

/// One layer's sums, eigenbases and corrections, row-major.
struct LayerCurvature: Sendable {
  let inputDim: Int
  let outputDim: Int
  /// `Σ a aᵀ` (`d_in × d_in`), upper triangle while accumulating.
  var inputSum: [Float]
  /// `Σ δ δᵀ` (`d_out × d_out`), upper triangle while accumulating.
  var outputSum: [Float]
  /// `Q_C`: column `j` is the eigenvector of `inputEigenvalues[j]`.
  var inputBasis: [Float] = []
  var inputEigenvalues: [Float] = []
  /// `Q_S`: column `j` is the eigenvector of `outputEigenvalues[j]`.
  var outputBasis: [Float] = []
  var outputEigenvalues: [Float] = []
  /// `Σ_s (Q_Sᵀ G_s Q_C)²` (`d_out × d_in`); empty until corrections start.
  var corrections: [Float] = []
  /// The samples summed into `corrections`.
  var correctionSamples = 0

  init(inputDim: Int, outputDim: Int) {
    self.inputDim = inputDim
    self.outputDim = outputDim
    self.inputSum = [Float](repeating: 0, count: inputDim * inputDim)
    self.outputSum = [Float](repeating: 0, count: outputDim * outputDim)
  }

  mutating func accumulate(_ f: LayerFactors, rows: Int) throws {
    try Self.addGram(f.inputs, rows: rows, dim: inputDim, into: &inputSum)
    try Self.addGram(f.outputGradients, rows: rows, dim: outputDim, into: &outputSum)
  }

  /// `sum += XᵀX` (upper triangle), panel by panel for half data.
  static func addGram(_ x: FactorBuffer, rows: Int, dim: Int, into sum: inout [Float]) throws {
    try sum.withUnsafeMutableBufferPointer { c in
      try x.forEachFloatPanel(rows: rows, cols: dim, name: "factors") { _, n, panel in
        try BLAS.ssyrkTransposed(
          n: dim, k: n, alpha: 1, a: panel, lda: dim, beta: 1, c: c.baseAddress!, ldc: dim)
      }
    }
  }

  mutating func eigendecompose(tokens: Int, layer: UInt64) throws {
    (inputBasis, inputEigenvalues) = try Self.eigen(
      inputSum, dim: inputDim, tokens: tokens, "layer \(layer): C")
    (outputBasis, outputEigenvalues) = try Self.eigen(
      outputSum, dim: outputDim, tokens: tokens, "layer \(layer): S")
  }

  /// The eigenvectors and eigenvalues of `sum / tokens`, read from its upper
  /// triangle.
  static func eigen(_ sum: [Float], dim: Int, tokens: Int, _ what: String) throws -> ([Float], [Float]) {
    var a = [Float](repeating: 0, count: dim * dim)
    let scale = 1 / Float(tokens)
    for i in 0..<dim {
      for j in i..<dim {
        let v = sum[i * dim + j] * scale
        a[i * dim + j] = v
        a[j * dim + i] = v
      }
    }
    // Finite factors can still overflow Float in their squares' sums; LAPACK
    // must never see Inf or NaN.
    guard a.allSatisfy(\.isFinite) else {
      throw WinnowError(
        .nonFinite, "\(what): the covariance overflows Float (the factors are too large); scale them down")
    }
    var w = [Float](repeating: 0, count: dim)
    do {
      try a.withUnsafeMutableBufferPointer { ap in
        try w.withUnsafeMutableBufferPointer { wp in
          try BLAS.ssyevd(n: dim, a: ap.baseAddress!, lda: dim, w: wp.baseAddress!)
        }
      }
    } catch let error as WinnowError {
      throw WinnowError(error.code, "\(what): \(error.message)")
    }
    return (a, w.map { max($0, 0) })
  }
}
