import Testing
@testable import Winnow

/// The sparse JL kernel against a plain scalar implementation of its
/// definition (DESIGN 2.8), bit for bit: the counter RNG's buckets and
/// signs, one IEEE multiply by ±1/√s and one add per term, each output
/// summed in ascending coordinate order from zero, column segments of
/// `SparseProjector.segmentColumns` summed apart and then added in order.
/// Any kernel (interleaving, chunking, instruction set) must give exactly
/// these bits.
@Suite struct SparseProjectorReferenceTests {
  static func mix64(_ z0: UInt64) -> UInt64 {
    var z = z0
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// Features of `rows × length` values `x` (row-major) at columns
  /// `offset ..< offset + length`, computed term by term.
  static func reference(
    seed: UInt64, s: Int, k: Int, x: [Float], rows: Int, offset: Int, length: Int
  ) -> [Float] {
    let key = mix64(seed ^ 0xBB67_AE85_84CA_A73B)
    let scale = 1 / Float(s).squareRoot()
    let span = SparseProjector.segmentColumns
    var out = [Float](repeating: 0, count: rows * k)
    var c0 = 0
    while c0 < length {
      let c1 = min(length, c0 + span)
      var part = [Float](repeating: 0, count: rows * k)
      for c in c0..<c1 {
        let i = UInt64(offset + c)
        let rk = mix64(key &+ (i &+ 1) &* 0xD1B5_4A32_D192_ED03)
        for t in 0..<s {
          let w = mix64(rk &+ UInt64(t + 1) &* 0x9E37_79B9_7F4A_7C15)
          let lo = t * k / s, width = (t + 1) * k / s - lo
          let h = lo + Int(((w >> 32) * UInt64(width)) >> 32)
          let v: Float = w & 1 == 1 ? -scale : scale
          for r in 0..<rows {
            let term = v * x[r * length + c]
            part[r * k + h] = part[r * k + h] + term
          }
        }
      }
      for e in 0..<rows * k { out[e] = out[e] + part[e] }
      c0 = c1
    }
    return out
  }

  /// Random values over many magnitudes, with exact zeros and negative zeros.
  static func values(_ n: Int, seed: UInt64) -> [Float] {
    var rng = TestRNG(seed)
    return (0..<n).map { _ in
      let u = rng.next()
      switch u % 16 {
      case 0: return 0
      case 1: return -0.0
      default:
        let m = Float(Double(u >> 11) / Double(1 << 53) * 2 - 1)
        return m * Float(sign: .plus, exponent: Int(u >> 3 & 31) - 16, significand: 1)
      }
    }
  }

  /// Elements whose bits differ.
  static func mismatches(_ a: [Float], _ b: [Float]) -> Int {
    a.count != b.count ? max(a.count, b.count) : zip(a, b).filter { $0.bitPattern != $1.bitPattern }.count
  }

  /// Row counts around the interleaved group of 8, lengths that leave
  /// every tail of the kernel's loops, s from 1 to past the chunk's
  /// coordinates, k from 1 up. Rows a power of two of 4 KiB or more
  /// apart (D = 1024, 2048, …) are staged by the kernel, others read in
  /// place: both paths appear, with full and partial groups.
  @Test(arguments: [
    (1, 1, 1, 1), (3, 5, 1, 37), (8, 77, 1, 1001), (11, 8192, 1, 4099), (9, 300, 2, 2003),
    (7, 64, 3, 999), (17, 512, 8, 1500), (2, 5000, 300, 45), (4, 4096, 4096, 3),
    (8, 100, 1, 8192), (19, 64, 1, 4096), (1, 33, 1, 4096), (12, 96, 3, 2048),
    (9, 50, 1, 5120),
  ])
  func featuresEqualTheScalarReferenceBitForBit(rows: Int, k: Int, s: Int, d: Int) throws {
    let x = Self.values(rows * d, seed: UInt64(rows * 31 + k + s))
    let p = try SparseProjector(seed: 17, inputDim: d, outputDim: k, nonzeros: s)
    for threads in [1, 2] {
      p.threads = threads
      var out = [Float](repeating: .nan, count: rows * k)
      try p.project(x, rows: rows, into: &out)
      let want = Self.reference(seed: 17, s: s, k: k, x: x, rows: rows, offset: 0, length: d)
      #expect(Self.mismatches(out, want) == 0, "rows \(rows) k \(k) s \(s) D \(d) threads \(threads)")
    }
  }

  /// A piece at an offset, spanning two column segments, and its
  /// half-precision twin (the same values, exactly representable).
  @Test func piecesAndHalvesEqualTheReferenceBitForBit() throws {
    let rows = 10, k = 96, s = 2, offset = 12_345, length = SparseProjector.segmentColumns + 1234
    let x = Self.values(rows * length, seed: 3).map { Float(Float16($0)) }
    let p = try SparseProjector(seed: 5, inputDim: offset + length + 7, outputDim: k, nonzeros: s)
    let want = Self.reference(seed: 5, s: s, k: k, x: x, rows: rows, offset: offset, length: length)
    var out = [Float](repeating: .nan, count: rows * k)
    try p.project(piece: x, rows: rows, offset: offset, length: length, into: &out, accumulate: false)
    #expect(Self.mismatches(out, want) == 0)
    let half = x.map { Float16($0).bitPattern }
    var outHalf = [Float](repeating: .nan, count: rows * k)
    try p.project(half: half, rows: rows, offset: offset, length: length, into: &outHalf)
    #expect(Self.mismatches(outHalf, want) == 0)
  }
}
