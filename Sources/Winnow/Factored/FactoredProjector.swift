
/// A Kronecker-factored random projection of linear-layer weight gradients.
///
/// For a linear layer with per-token inputs `A` (`T × d_in`) and output
/// gradients `Δ` (`T × d_out`) of one sample, the weight gradient is
/// `G = Σ_t δ_t a_tᵀ = Δᵀ A` (`d_out × d_in`). The projector computes
///
///     φ(G) = P_outᵀ G P_in = (Δ P_out)ᵀ (A P_in)        (k_out × k_in)
///
/// flattened row-major, without ever forming `G` (LoGra: Choe et al. 2024,
/// "What is Your Data Worth to GPT? LLM-Scale Data Valuation with Influence
/// Functions"). Row-major `φ` equals `vec(G)ᵀ (P_out ⊗ P_in)`, so this is a
/// linear map of `vec(G)` by the Kronecker product of the two factors.
///
/// `P_in` (`d_in × k_in`) has entries `±1/√k_in` (Rademacher) or
/// `N(0,1)/√k_in` (Gaussian), `P_out` (`d_out × k_out`) likewise with
/// `1/√k_out`, so the overall scale is `1/√(k_in·k_out)` and
/// `E‖φ(G)‖² = ‖G‖²_F` (a JL map of `G`). Each matrix is a counter-based
/// random matrix keyed by a seed derived from `(seed, layer id, side)`, so
/// features depend on neither batch composition nor thread count.
///
/// Several layers are concatenated in the order given at initialization:
/// layer `l` occupies `featureOffsets[l] ..< featureOffsets[l] + k_out·k_in`.
///
/// The factor matrices are generated once at initialization and cached:
/// `4·(d_in·k_in + d_out·k_out)` bytes per layer. Instances are immutable and
/// safe to use from several threads at once.
public final class FactoredProjector: Sendable {
  /// The layers, in feature order.
  public var layers: [LinearLayerSpec] { layout.layers }
  /// The seed all factor matrices are derived from.
  public let seed: UInt64
  /// The distribution of the factor matrices' entries.
  public let kind: ProjectorKind
  /// `Σ_l k_out·k_in`, the length of one sample's feature vector.
  public let featureDim: Int
  /// Where each layer's features start, in layer order.
  public let featureOffsets: [Int]
  /// The K-FAC damping when the maps have whitening folded in
  /// (`init(whitening:by:)`), nil for a plain projector.
  public let whitening: CurvatureDamping?

  let layout: FactoredLayout
  /// `P_in` per layer, `d_in × k_in`, row-major, scaled by `1/√k_in`.
  let inputProjections: [[Float]]
  /// `P_out` per layer, `d_out × k_out`, row-major, scaled by `1/√k_out`.
  let outputProjections: [[Float]]

  /// Creates a projector for `layers`, generating their factor matrices.
  ///
  /// - Parameters:
  ///   - layers: The linear layers, with unique ids, in feature order.
  ///   - seed: The user seed; with the layer ids it determines every matrix.
  ///   - kind: Rademacher (default) or Gaussian entries.
  /// - Throws: `.invalidArgument` for no layers, duplicate ids, or a
  ///   non-positive dimension or rank.
  /// - Complexity: O(Σ_l d_in·k_in + d_out·k_out) time and memory.
  public init(layers: [LinearLayerSpec], seed: UInt64, kind: ProjectorKind = .rademacher) throws {
    self.layout = try FactoredLayout(layers, checkRanks: true)
    self.seed = seed
    self.kind = kind
    var offsets: [Int] = []
    var total = 0, factorElements = 0
    for layer in layers {
      offsets.append(total)
      let name = "layer \(layer.id)"
      total = try CheckedSize.sum(
        [total, try CheckedSize.product([layer.outputRank, layer.inputRank], "the features of \(name)")],
        "the features of all layers")
      factorElements = try CheckedSize.sum(
        [
          factorElements, try CheckedSize.product([layer.inputDim, layer.inputRank], "P_in of \(name)"),
          try CheckedSize.product([layer.outputDim, layer.outputRank], "P_out of \(name)"),
        ], "the factor matrices")
    }
    // The cached factor matrices, and one sample's features (every batch
    // allocates at least that much), must be feasible before anything is.
    _ = try CheckedSize.allocatable([factorElements], elementSize: 4, "the factor matrices")
    _ = try CheckedSize.allocatable([total], elementSize: 4, "one sample's features (k_out·k_in summed over layers)")
    try layout.checkBLASDims(ranks: true)  // feasible, yet too large for BLAS
    self.featureOffsets = offsets
    self.featureDim = total
    self.whitening = nil
    self.inputProjections = layers.map {
      Self.factor(kind, Self.sideSeed(seed, $0.id, .input), rows: $0.inputDim, cols: $0.inputRank)
    }
    self.outputProjections = layers.map {
      Self.factor(
        kind, Self.sideSeed(seed, $0.id, .output), rows: $0.outputDim, cols: $0.outputRank)
    }
  }

  /// `base` with other matrices of the same shapes (whitened ones).
  init(
    _ base: FactoredProjector, inputProjections: [[Float]], outputProjections: [[Float]],
    whitening: CurvatureDamping
  ) {
    self.layout = base.layout
    self.seed = base.seed
    self.kind = base.kind
    self.featureDim = base.featureDim
    self.featureOffsets = base.featureOffsets
    self.inputProjections = inputProjections
    self.outputProjections = outputProjections
    self.whitening = whitening
  }

  /// Which factor of a layer a seed is for.
  enum Side: UInt64 {
    case input = 1, output = 2
  }

  /// The seed of one factor matrix: SplitMix64 mixing of the user seed, the
  /// layer id and the side, so that factors of different layers and sides
  /// are independent, and differ from a dense projector built on `seed`.
  static func sideSeed(_ seed: UInt64, _ layerID: UInt64, _ side: Side) -> UInt64 {
    // "Kronecke" in ASCII: a domain tag separating these seeds from others.
    let tagged = mix64(seed ^ 0x4B72_6F6E_6563_6B65)
    let layer = mix64(tagged &+ (layerID &+ 1) &* 0x9E37_79B9_7F4A_7C15)
    return mix64(layer &+ side.rawValue &* 0xD1B5_4A32_D192_ED03)
  }

  /// The SplitMix64 finalizer (Steele, Lea & Flood 2014).
  static func mix64(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// A `rows × cols` counter-based random matrix scaled by `1/√cols`.
  static func factor(_ kind: ProjectorKind, _ seed: UInt64, rows: Int, cols: Int) -> [Float] {
    var p = [Float](repeating: 0, count: rows * cols)
    let scale = 1 / Float(cols).squareRoot()
    p.withUnsafeMutableBufferPointer { out in
      Kernels.fill(
        kind, seed: seed, row0: 0, rows: rows, col0: 0, cols: cols, scale: scale,
        into: out.baseAddress!, ld: cols)
    }
    return p
  }
}
