import ArgumentParser
import Winnow

/// `winnow project --kind`: a dense matrix distribution or the sparse JL map.
enum ProjectionKind: String, ExpressibleByArgument, CaseIterable {
  case rademacher, gaussian, sjlt

  /// The projector for this kind; `nnz` applies to `sjlt` only (default 1,
  /// CountSketch), `matrixBytes` to the dense kinds.
  func makeProjector(
    seed: UInt64, inputDim: Int, outputDim: Int, nnz: Int?, matrixBytes: Int
  ) throws -> any FeatureProjector {
    switch self {
    case .rademacher, .gaussian:
      try DenseProjector(
        kind: self == .gaussian ? .gaussian : .rademacher, seed: seed, inputDim: inputDim,
        outputDim: outputDim, memoryBudget: matrixBytes)
    case .sjlt:
      try SparseProjector(seed: seed, inputDim: inputDim, outputDim: outputDim, nonzeros: nnz ?? 1)
    }
  }
}
