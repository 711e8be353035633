/// How an exact gradient dot product of a layer is computed.
public enum GhostPath: String, Sendable, CaseIterable {
  /// From the factors, never forming a per-sample gradient:
  /// `⟨G_i, G_j⟩ = sum((A_i A_jᵀ) ∘ (Δ_i Δ_jᵀ))`.
  case ghost
  /// By forming each `G_s = Δ_sᵀ A_s` (`d_out × d_in`, for all samples one
  /// slab of rows at a time, within `GhostDotProducts.materializationBudget`)
  /// and taking dot products.
  case materialized
}

/// Exact dot products of per-sample gradients, and the path used per layer.
public struct ExactDotProducts: Sendable {
  /// `S × S` for a Gram matrix, `S × 1` for dot products with a target;
  /// summed over layers.
  public var values: Matrix
  /// The path taken for each layer, in layer order.
  public var paths: [GhostPath]
}

/// Exact dot products of linear-layer weight gradients, computed from the
/// factors `A` (inputs) and `Δ` (output gradients) of each sample.
///
/// The Gram entry of samples `i` and `j` is, summed over layers,
///
///     ⟨G_i, G_j⟩ = Σ_{t,t'} (a_it·a_jt')(δ_it·δ_jt') = sum((A_i A_jᵀ) ∘ (Δ_i Δ_jᵀ))
///
/// the "ghost" trick (Goodfellow 2015, "Efficient Per-Example Gradient
/// Computations"; Li et al. 2022, "Large Language Models Can Be Strong
/// Differentially Private Learners"), which costs `T_i·T_j·(d_in + d_out)`
/// instead of `d_in·d_out` per gradient. When tokens outnumber the layer
/// width (`T² ≳ d_in·d_out`) forming the gradients is cheaper; each layer
/// takes the cheaper path unless one is forced. Both give the same values up
/// to fp32 rounding.
public struct GhostDotProducts: Sendable {
  /// The layers, in the order of `ExactDotProducts.paths`; ranks are ignored.
  public var layers: [LinearLayerSpec] { layout.layers }
  /// The most bytes the materialized path holds in gradients at once
  /// (at least one row of every sample's gradient, `4·S·d_in` bytes).
  public var materializationBudget: Int = 256 << 20
  /// The most bytes the ghost path holds in token-kernel blocks at once.
  public var ghostBlockBudget: Int = 32 << 20

  let layout: FactoredLayout

  /// Prepares exact dot products for `layers`.
  ///
  /// - Parameter layers: The linear layers, with unique ids and positive dims.
  /// - Throws: `.invalidArgument` for no layers, duplicate ids or bad dims.
  public init(layers: [LinearLayerSpec]) throws {
    self.layout = try FactoredLayout(layers, checkRanks: false)
  }

  /// The `S × S` Gram matrix `⟨G_i, G_j⟩` of a batch, summed over layers.
  ///
  /// - Parameters:
  ///   - tokenCounts: `T_s` per sample; `S` entries summing to `ΣT`.
  ///   - layers: One `LayerFactors` per layer, any order, with `A`
  ///     `ΣT × d_in` and `Δ` `ΣT × d_out`, `Float` or half (half is
  ///     converted to a temporary `Float` copy).
  ///   - path: Forces one path for every layer; `nil` picks the cheaper.
  /// - Returns: Values `S × S` (symmetric) and the path used per layer.
  /// - Throws: As `FactoredProjector.project(tokenCounts:layers:)`.
  /// - Complexity: Per layer, the smaller of
  ///   `((ΣT)² + Σ T_s²)·(d_in + d_out)` (ghost) and
  ///   `(ΣT + S(S+1)/2)·d_in·d_out` (materialized) multiply-adds.
  public func gram(
    tokenCounts: [Int], layers: [LayerFactors], forcing path: GhostPath? = nil
  ) throws -> ExactDotProducts {
    let rows = try FactoredLayout.totalTokens(tokenCounts)
    let ordered = try layout.ordered(layers, rows: rows, what: "batch")
    try layout.checkBLASDims(ranks: false)  // after the sizes: those are OOM
    let n = tokenCounts.count
    var sums = [Double](
      repeating: 0, count: try CheckedSize.allocatable([n, n], elementSize: 8, "the Gram matrix of \(n) samples"))
    var paths: [GhostPath] = []
    for (l, f) in ordered.enumerated() {
      let spec = layout.layers[l]
      let chosen = path ?? Self.gramPath(spec, tokenCounts: tokenCounts)
      paths.append(chosen)
      try f.inputs.withFloat32(rows: rows, cols: spec.inputDim, name: "batch: layer \(spec.id) inputs") { a in
        try f.outputGradients.withFloat32(
          rows: rows, cols: spec.outputDim, name: "batch: layer \(spec.id) output gradients"
        ) { d in
          let batch = FloatFactors(a: a, d: d, spec: spec, tokenCounts: tokenCounts)
          switch chosen {
          case .ghost: try ghostGram(batch, into: &sums)
          case .materialized: try materializedGram(batch, into: &sums)
          }
        }
      }
    }
    // Only the upper triangle was accumulated; mirror it.
    var values = Matrix(rows: n, cols: n)
    for i in 0..<n {
      for j in i..<n {
        values[i, j] = Float(sums[i * n + j])
        values[j, i] = values[i, j]
      }
    }
    return ExactDotProducts(values: values, paths: paths)
  }

  /// The path `gram` picks for a layer: the one with fewer multiply-adds.
  static func gramPath(_ spec: LinearLayerSpec, tokenCounts: [Int]) -> GhostPath {
    let t = tokenCounts.map(Double.init)
    let total = t.reduce(0, +)
    let squares = t.reduce(0) { $0 + $1 * $1 }
    let samples = Double(t.count)
    let ghost = (total * total + squares) / 2 * Double(spec.inputDim + spec.outputDim)
    let materialized =
      (total + samples * (samples + 1) / 2) * Double(spec.inputDim) * Double(spec.outputDim)
    return ghost <= materialized ? .ghost : .materialized
  }
}

/// One layer's batch factors as `Float`: `A` `ΣT × d_in`, `Δ` `ΣT × d_out`.
struct FloatFactors {
  let a: UnsafePointer<Float>
  let d: UnsafePointer<Float>
  let spec: LinearLayerSpec
  let tokenCounts: [Int]
  /// The first row of each sample, plus `ΣT` at the end.
  let starts: [Int]

  init(a: UnsafePointer<Float>, d: UnsafePointer<Float>, spec: LinearLayerSpec, tokenCounts: [Int]) {
    self.a = a
    self.d = d
    self.spec = spec
    self.tokenCounts = tokenCounts
    var starts = [0]
    var total = 0
    for t in tokenCounts {
      total += t
      starts.append(total)
    }
    self.starts = starts
  }

  var samples: Int { tokenCounts.count }
  var inputDim: Int { spec.inputDim }
  var outputDim: Int { spec.outputDim }
  /// `d_out · d_in`, the size of one materialized gradient.
  var gradientSize: Int { spec.inputDim * spec.outputDim }
}
