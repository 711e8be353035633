import Foundation
import Winnow

/// One or more `.npy` gradient files that are column pieces of one `N × D`
/// gradient matrix, in order.
struct GradientPieces {
  let arrays: [NPYArray]
  let rowCount: Int
  let dim: Int
  /// Offsets of each piece in `0..<D`.
  let offsets: [Int]

  init(paths: [String], expectedDim: Int?) throws {
    arrays = try paths.map { try NPYArray(contentsOf: URL(fileURLWithPath: $0)) }
    for a in arrays where a.dtype != .float32 && a.dtype != .float16 {
      throw WinnowError(.unsupported, "\(a.url.path): gradients must be <f4 or <f2, not \(a.dtype.rawValue)")
    }
    for a in arrays where a.shape.count != 2 {
      throw WinnowError(.shapeMismatch, "\(a.url.path): gradients must be 2-D (N × D), shape is \(a.shape)")
    }
    rowCount = arrays[0].rowCount
    for a in arrays.dropFirst() where a.rowCount != rowCount {
      throw WinnowError(.shapeMismatch, 
        "\(a.url.path) has \(a.rowCount) rows but \(arrays[0].url.path) has \(rowCount): "
          + "gradient pieces must cover the same samples")
    }
    var offsets = [Int](), d = 0
    for a in arrays {
      offsets.append(d)
      d = try CheckedSize.sum([d, a.rowLength], "the widths of the --input pieces (D)")
    }
    self.offsets = offsets
    dim = d
    guard dim >= 1 else { throw WinnowError(.shapeMismatch, "the gradients have no columns (D = 0)") }
    if let expectedDim, expectedDim != dim {
      throw WinnowError(.shapeMismatch, "the input pieces add up to D = \(dim), but --input-dim is \(expectedDim)")
    }
  }

  /// Whether any piece must be converted to Float32 before BLAS sees it.
  var needsConversion: Bool { arrays.contains { $0.dtype != .float32 } }

  /// Projects rows `rows` of every piece into `out` (`rows.count × k`),
  /// turning gradients into LESS Adam features first when `adam` is given.
  func project(
    rows: Range<Int>, with projector: any FeatureProjector, adam: AdamMoments? = nil,
    into out: UnsafeMutablePointer<Float>
  ) throws {
    var scratch = [Float]()
    for (i, a) in arrays.enumerated() {
      let width = a.rowLength
      if adam == nil, let view = a.floatRowsPointer(rows), let base = view.baseAddress {
        try projector.project(
          piece: base, rows: rows.count, offset: offsets[i], length: width, into: out,
          accumulate: i > 0)
      } else {
        scratch = [Float](repeating: 0, count: rows.count * width)
        try scratch.withUnsafeMutableBufferPointer { s in
          try a.readFloatRows(rows, into: s.baseAddress!)
          try adam?.apply(s.baseAddress!, rows: rows.count, offset: offsets[i], width: width)
          try projector.project(
            piece: s.baseAddress!, rows: rows.count, offset: offsets[i], length: width,
            into: out, accumulate: i > 0)
        }
      }
      a.releasePages(rows: rows)
    }
  }
}
