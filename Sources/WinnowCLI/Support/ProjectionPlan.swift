/// How a memory budget is split between the projection matrix and row blocks.
///
/// Half the budget (at most `D·K·4` bytes) goes to `P`; the rest to one row
/// block: its mapped input pages (`D` floats a row, released after use), the
/// Float32 copy of half-precision input when needed, and the output rows.
struct ProjectionPlan {
  var matrixBytes: Int
  var blockRows: Int

  init(rows: Int, inputDim: Int, outputDim: Int, budget: Int, needsConversion: Bool) {
    let matrix = min(inputDim * outputDim * 4, max(outputDim * 4, budget / 2))
    let perRow = 4 * (inputDim * (needsConversion ? 2 : 1) + outputDim)
    matrixBytes = matrix
    blockRows = max(1, min(max(rows, 1), (budget - matrix) / perRow))
  }
}
