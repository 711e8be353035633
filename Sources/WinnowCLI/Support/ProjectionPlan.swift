import Winnow

/// How a memory budget is split between the projection matrix and row blocks.
///
/// Half the budget (at most `D·K·4` bytes) goes to `P`; the rest to one row
/// block: its mapped input pages (`D` floats a row, released after use), the
/// Float32 copy of half-precision input when needed, and the output rows.
struct ProjectionPlan {
  var matrixBytes: Int
  var blockRows: Int

  /// Sizes come from .npy headers and options: a product that overflows or
  /// a block the machine cannot hold is an error, not a trap.
  init(rows: Int, inputDim: Int, outputDim: Int, budget: Int, needsConversion: Bool) throws {
    let whole = try CheckedSize.bytes([inputDim, outputDim], elementSize: 4, "the D × K projection matrix")
    let oneRow = try CheckedSize.bytes([outputDim], elementSize: 4, "one row of the projection matrix")
    let matrix = min(whole, max(oneRow, budget / 2))
    let perRow = try CheckedSize.bytes(
      [try CheckedSize.sum([try CheckedSize.product([inputDim, needsConversion ? 2 : 1], "a row"), outputDim], "a row")],
      elementSize: 4, "one row of a row block")
    matrixBytes = matrix
    blockRows = max(1, min(max(rows, 1), max(0, budget - matrix) / perRow))
    _ = try CheckedSize.allocatable([blockRows, outputDim], elementSize: 4, "a block of output features")
  }
}
