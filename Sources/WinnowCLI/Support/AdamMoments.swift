import Foundation
import Winnow

/// The optimizer moments `m`, `v` (each `(D,)`) for LESS Adam features.
struct AdamMoments {
  let m: [Float]
  let v: [Float]
  let transform = AdamFeatureTransform()

  init(m mPath: String, v vPath: String, dim: Int) throws {
    m = try Self.load(mPath, dim: dim)
    v = try Self.load(vPath, dim: dim)
  }

  private static func load(_ path: String, dim: Int) throws -> [Float] {
    let a = try NPYArray(contentsOf: URL(fileURLWithPath: path))
    guard a.count == dim else {
      throw WinnowError(.shapeMismatch, "\(path): \(a.count) values, but the gradients have D = \(dim)")
    }
    return try a.readFloats()
  }

  /// Transforms `rows × width` gradients (columns `offset..<offset+width` of `D`) in place.
  func apply(_ g: UnsafeMutablePointer<Float>, rows: Int, offset: Int, width: Int) throws {
    try m.withUnsafeBufferPointer { mp in
      try v.withUnsafeBufferPointer { vp in
        // The piece's slice of the moments is contiguous at its offset.
        try transform.apply(
          g, rows: rows, dim: width, m: mp.baseAddress! + offset, v: vp.baseAddress! + offset,
          into: g)
      }
    }
  }
}
