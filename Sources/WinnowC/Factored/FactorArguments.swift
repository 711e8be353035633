import Winnow

/// Checks of the batch arguments shared by the factored entry points: token
/// counts, and arrays of per-layer pointers turned into `LayerFactors`.
///
/// C passes `total_tokens` with the pointers: it is the row count of every
/// factor matrix, i.e. the size of the memory passed, and must equal the sum
/// of the token counts. Sizes are checked for overflow before any factor
/// memory is read.
enum FactorArguments {
  /// `sample_count` token counts, checked non-negative and summing to
  /// `total_tokens`; `counts` may be NULL only for an empty batch.
  static func tokenCounts(
    _ sampleCount: Int, _ counts: UnsafePointer<Int>?, total: Int, _ name: String = "token_counts"
  ) throws -> [Int] {
    let n = try Check.count(sampleCount, "sample_count")
    let total = try Check.count(total, "total_tokens")
    guard n > 0 else {
      guard total == 0 else {
        throw WinnowError(.shapeMismatch, "no samples, but total_tokens = \(total)")
      }
      return []
    }
    _ = try Check.product(n, 1, elementSize: 8, name)
    let counts = try Check.present(counts, name)
    var result = [Int](repeating: 0, count: n)
    var sum = 0
    for s in 0..<n {
      let t = try Check.count(counts[s], "\(name)[\(s)]")
      let (next, overflow) = sum.addingReportingOverflow(t)
      guard !overflow else { throw WinnowError(.shapeMismatch, "\(name) overflow when summed") }
      (sum, result[s]) = (next, t)
    }
    guard sum == total else {
      throw WinnowError(
        .shapeMismatch,
        "\(name) sum to \(sum) tokens, but total_tokens (the rows of every factor) is \(total)")
    }
    return result
  }

  /// The layer of each pointer pair: `ids[i]` (or the `i`-th layer when
  /// `ids` is NULL) looked up in `layers`; unknown ids are refused here,
  /// duplicates and missing layers by the Swift layer.
  static func layerOrder(
    _ layers: [LinearLayerSpec], count: Int, ids: UnsafePointer<UInt64>?, owner: String = "projector"
  ) throws -> [LinearLayerSpec] {
    let count = try Check.count(count, "layer_count")
    guard let ids else {
      guard count == layers.count else {
        throw WinnowError(
          .invalidArgument,
          "layer_count = \(count), but the \(owner) has \(layers.count) layers (layer_ids is NULL)")
      }
      return layers
    }
    guard count <= layers.count else {
      throw WinnowError(
        .invalidArgument, "layer_count = \(count) exceeds the \(owner)'s \(layers.count) layers")
    }
    return try (0..<count).map { i in
      guard let spec = layers.first(where: { $0.id == ids[i] }) else {
        throw WinnowError(
          .invalidArgument,
          "layer_ids[\(i)] = \(ids[i]) is unknown; known ids: \(layers.map(\.id))")
      }
      return spec
    }
  }

  /// Wraps the per-layer pointer arrays of a batch of `rows` tokens as
  /// `LayerFactors`, one per entry of `specs` (in the arrays' order).
  ///
  /// - Parameters:
  ///   - wrap: Turns a typed buffer into a `FactorBuffer`.
  ///   - names: The names of the two pointer arrays in messages.
  static func factors<T>(
    _ specs: [LinearLayerSpec], rows: Int, inputs: UnsafePointer<UnsafePointer<T>?>?,
    outputGradients: UnsafePointer<UnsafePointer<T>?>?,
    names: (String, String) = ("inputs", "output_gradients"),
    _ wrap: (UnsafeBufferPointer<T>) -> FactorBuffer
  ) throws -> [LayerFactors] {
    let a = try Check.present(inputs, names.0)
    let d = try Check.present(outputGradients, names.1)
    return try specs.enumerated().map { i, spec in
      let aCount = try Check.product(rows, spec.inputDim, "\(names.0)[\(i)]")
      let dCount = try Check.product(rows, spec.outputDim, "\(names.1)[\(i)]")
      let ai = try matrix(a[i], aCount, "\(names.0)[\(i)]")
      let di = try matrix(d[i], dCount, "\(names.1)[\(i)]")
      return LayerFactors(
        layerID: spec.id, inputs: wrap(UnsafeBufferPointer(start: ai, count: aCount)),
        outputGradients: wrap(UnsafeBufferPointer(start: di, count: dCount)))
    }
  }

  /// `pointer`, which may be NULL only for an empty matrix.
  static func matrix<T>(_ pointer: UnsafePointer<T>?, _ count: Int, _ name: String) throws
    -> UnsafePointer<T>?
  {
    count == 0 ? pointer : try Check.present(pointer, name)
  }

  /// A `WN_DOT_PATH_*` value: `nil` for automatic.
  static func path(_ value: Int32) throws -> GhostPath? {
    switch value {
    case 0: return nil
    case 1: return .ghost
    case 2: return .materialized
    default:
      throw WinnowError(
        .invalidArgument,
        "path \(value) is none of WN_DOT_PATH_AUTO (0), _GHOST (1), _MATERIALIZED (2)")
    }
  }

  /// Writes the `WN_DOT_PATH_*` code of each layer's path to `out`, if given.
  static func report(_ paths: [GhostPath], to out: UnsafeMutablePointer<Int32>?) {
    guard let out else { return }
    for (l, p) in paths.enumerated() { out[l] = p == .ghost ? 1 : 2 }
  }
}
