import CWinnowABI
import Winnow

// wn_factored_matrix_fill: a thin translation of `FactoredProjector.factorMatrix`.

@c @implementation
public func wn_factored_matrix_fill(
  _ kind: Int32, _ seed: UInt64, _ layerID: UInt64, _ side: Int32, _ rows: Int, _ cols: Int,
  _ out: UnsafeMutablePointer<Float>?, _ capacity: Int
) -> Int32 {
  status {
    let kinds: [Int32: ProjectorKind] = [0: .rademacher, 1: .gaussian]
    guard let kind = kinds[kind] else {
      throw WinnowError(
        .invalidArgument,
        "projector kind \(kind) is neither WN_PROJECTOR_RADEMACHER (0) nor WN_PROJECTOR_GAUSSIAN (1)")
    }
    let sides: [Int32: FactoredProjector.Factor] = [0: .input, 1: .output]
    guard let factor = sides[side] else {
      throw WinnowError(
        .invalidArgument, "side \(side) is neither WN_FACTOR_INPUT (0) nor WN_FACTOR_OUTPUT (1)")
    }
    let r = try Check.count(rows, "rows")
    let c = try Check.count(cols, "cols")
    let needed = try Check.product(r, c, "the factor matrix")
    let out = try Check.present(out, "out")
    try Check.capacity(try Check.count(capacity, "capacity"), needed, "out")
    try FactoredProjector.factorMatrix(
      kind: kind, seed: seed, layerID: layerID, factor: factor, rows: r, cols: c,
      into: UnsafeMutableBufferPointer(start: out, count: capacity))
  }
}
