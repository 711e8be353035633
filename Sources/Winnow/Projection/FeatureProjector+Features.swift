extension FeatureProjector {
  /// The `rows × k` features of `rows × dim` raw gradients, in a new array.
  ///
  /// - Throws: `.shapeMismatch` when `dim` is not `D`, `.invalidArgument`
  ///   for no rows, `.outOfMemory` when the features cannot be allocated,
  ///   and as `project(piece:…)`.
  /// - Complexity: O(rows·D·k).
  func features(_ x: UnsafePointer<Float>, rows: Int, dim: Int) throws -> [Float] {
    guard dim == inputDim else {
      throw WinnowError.shape("gradients have dim \(dim), the projector expects D = \(inputDim)")
    }
    guard rows >= 1 else { throw WinnowError.invalid("gradient rows \(rows) < 1") }
    let count = try CheckedSize.allocatable([rows, outputDim], elementSize: 4, "the projected features")
    var out = [Float](repeating: 0, count: count)
    try out.withUnsafeMutableBufferPointer { o in
      try project(
        piece: x, rows: rows, offset: 0, length: inputDim, into: o.baseAddress!, accumulate: false)
    }
    return out
  }
}
