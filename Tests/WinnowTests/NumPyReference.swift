import Foundation
import Testing

@testable import Winnow

/// Runs an independent NumPy computation on arrays exchanged as raw
/// little-endian files: inputs `name.f4` (`<f4`), the script writes `out.f8`
/// (`<f8`, read back as `[Double]`).
enum NumPy {
  static func run(_ script: String, inputs: [String: [Float]]) throws -> [Double] {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("winnow-numpy-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    for (name, values) in inputs {
      let data = values.withUnsafeBufferPointer { Data(buffer: $0) }
      try data.write(to: dir.appendingPathComponent("\(name).f4"))
    }
    let prelude = """
      import numpy as np, os
      os.chdir(\(String(reflecting: dir.path)))
      def load(name, cols=None):
          a = np.fromfile(name + '.f4', dtype='<f4').astype(np.float64)
          return a if cols is None else a.reshape(-1, cols)
      def save(a):
          np.asarray(a, dtype='<f8').ravel().tofile('out.f8')

      """
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = ["python3", "-c", prelude + script]
    let err = Pipe()
    process.standardError = err
    try process.run()
    let message = err.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0 else {
      throw WinnowError(.internal, "numpy failed: " + String(decoding: message, as: UTF8.self))
    }
    let out = try Data(contentsOf: dir.appendingPathComponent("out.f8"))
    return out.withUnsafeBytes { Array($0.bindMemory(to: Double.self)) }
  }
}

/// A small seeded generator (SplitMix64), so test data is reproducible.
struct SeededRNG: RandomNumberGenerator {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
}

extension Matrix {
  /// A `rows × cols` matrix of uniform values in `-1...1`.
  static func random(_ rows: Int, _ cols: Int, _ rng: inout SeededRNG) -> Matrix {
    let values = (0..<(rows * cols)).map { _ in Float.random(in: -1...1, using: &rng) }
    // Shape and count agree by construction.
    return (try? Matrix(rows: rows, cols: cols, storage: values)) ?? Matrix(rows: 0, cols: 0)
  }
}

/// Expects `got` to equal `want` to `tol` relative to the largest `|want|`.
func expectClose(
  _ got: [Float], _ want: [Double], tol: Double = 1e-5,
  sourceLocation: SourceLocation = #_sourceLocation
) {
  #expect(got.count == want.count, sourceLocation: sourceLocation)
  let scale = max(1e-30, want.map(abs).max() ?? 0)
  let worst = zip(got, want).map { abs(Double($0) - $1) }.max() ?? 0
  #expect(worst <= tol * scale, "max error \(worst) vs scale \(scale)", sourceLocation: sourceLocation)
}
