
extension FactorBuffer {
  /// Rows converted per panel from half precision: 256 rows of 4096 floats
  /// (4 MiB) stay in cache while the GEMM that follows reads them.
  static let panelRows = 256

  /// Calls `body` on consecutive row panels of this `rows × cols` matrix as
  /// `Float`, after checking each panel is finite.
  ///
  /// Float data is passed through as a single panel (one GEMM over all rows);
  /// half data is converted `panelRows` rows at a time into one reused buffer.
  ///
  /// - Parameters:
  ///   - rows: The number of rows (`ΣT`).
  ///   - cols: The row length.
  ///   - name: Names the input in the non-finite error.
  ///   - body: Receives `(first row, row count, rowCount × cols pointer)`.
  func forEachFloatPanel(
    rows: Int, cols: Int, name: String,
    _ body: (Int, Int, UnsafePointer<Float>) throws -> Void
  ) throws {
    switch self {
    case .float32(let b):
      guard let base = b.baseAddress, rows > 0 else { return }
      try Self.requireFinite(base, rows * cols, name)
      try body(0, rows, base)
    case .float16(let b):
      guard let base = b.baseAddress, rows > 0 else { return }
      let panel = min(rows, Self.panelRows)
      var scratch = [Float](repeating: 0, count: panel * cols)
      try scratch.withUnsafeMutableBufferPointer { s in
        for row0 in stride(from: 0, to: rows, by: panel) {
          let n = min(panel, rows - row0)
          Kernels.halfToFloat(base + row0 * cols, into: s.baseAddress!, count: n * cols)
          try Self.requireFinite(s.baseAddress!, n * cols, name)
          try body(row0, n, s.baseAddress!)
        }
      }
    }
  }

  /// Calls `body` with the whole `rows × cols` matrix as `Float`, checked
  /// finite; half data is converted into a temporary full copy.
  func withFloat32<R>(
    rows: Int, cols: Int, name: String, _ body: (UnsafePointer<Float>) throws -> R
  ) throws -> R {
    switch self {
    case .float32(let b):
      guard let base = b.baseAddress else {
        return try [Float(0)].withUnsafeBufferPointer { try body($0.baseAddress!) }
      }
      try Self.requireFinite(base, rows * cols, name)
      return try body(base)
    case .float16(let b):
      var full = [Float](repeating: 0, count: max(1, rows * cols))
      try full.withUnsafeMutableBufferPointer { f in
        if let base = b.baseAddress { Kernels.halfToFloat(base, into: f.baseAddress!, count: rows * cols) }
        try Self.requireFinite(f.baseAddress!, rows * cols, name)
      }
      return try full.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
  }

  static func requireFinite(_ x: UnsafePointer<Float>, _ n: Int, _ name: String) throws {
    let bad = Kernels.countNonFinite(x, count: n)
    guard bad == 0 else {
      throw WinnowError(.nonFinite, "\(name) hold \(bad) non-finite values (NaN or ±Inf)")
    }
  }
}
