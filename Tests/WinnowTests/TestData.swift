import Foundation
@testable import Winnow

/// Deterministic test data: a small SplitMix64 generator, independent of the
/// library's own counter RNG so tests do not check the code with itself.
struct TestRNG {
  var state: UInt64
  init(_ seed: UInt64) { state = seed }

  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Uniform in [0, 1).
  mutating func uniform() -> Double { Double(next() >> 11) / Double(1 << 53) }

  /// Standard normal (Box–Muller).
  mutating func normal() -> Double {
    let u1 = max(uniform(), 1e-300), u2 = uniform()
    return (-2 * log(u1)).squareRoot() * cos(2 * .pi * u2)
  }

  mutating func normals(_ n: Int) -> [Float] { (0..<n).map { _ in Float(normal()) } }
}

/// Largest |a−b| relative to the largest |b| (1e-5 means agreement to ~5 digits).
func relativeError(_ a: [Float], _ b: [Float]) -> Double {
  precondition(a.count == b.count)
  let scale = b.reduce(0) { max($0, abs(Double($1))) }
  let diff = zip(a, b).reduce(0) { max($0, abs(Double($1.0) - Double($1.1))) }
  return scale == 0 ? diff : diff / scale
}

/// Runs `body` with OpenBLAS limited to `threads`, restoring the setting.
func withBLASThreads<T>(_ threads: Int, _ body: () throws -> T) rethrows -> T {
  let saved = Runtime.blasThreads
  Runtime.blasThreads = threads
  defer { Runtime.blasThreads = saved }
  return try body()
}
