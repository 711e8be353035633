import ArgumentParser
import Foundation
import Winnow

/// `winnow project`: random projection of a gradient dump, streamed in row blocks.
struct Project: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Project per-sample gradients (N × D) to features (N × K) with a seeded JL map.",
    discussion: """
      Computes F = (1/√K) · G · P where P is a D × K matrix with entries ±1 (rademacher, \
      the default) or standard normal (gaussian). Entry P[i][j] is a pure function of \
      (seed, i, j), so features do not depend on block size, thread count or machine, and \
      the same seed always gives the same features.

      Several --input files are column pieces of one gradient (e.g. one per layer), \
      concatenated in order: they must have the same number of rows, and their widths add \
      up to D. The input is memory-mapped and processed in row blocks; P is cached whole \
      when D·K·4 bytes fit half the memory budget, otherwise generated in panels.
      """
  )

  @Option(name: .long, help: "Gradients, N × D_i, <f4 or <f2 (repeat for column pieces).")
  var input: [String] = []

  @Option(name: .long, help: "Output features .npy, N × K.")
  var output: String

  @Option(name: .long, help: "K, the number of output features (any positive value).")
  var dim: Int

  @Option(name: .long, help: "Seed of the projection matrix.")
  var seed: UInt64 = 0

  @Option(name: .long, help: "Entry distribution: rademacher or gaussian.")
  var kind: ProjectorKind = .rademacher

  @Option(name: .long, help: "Output dtype: f32 or f16.")
  var dtype: OutputDType = .f32

  @Option(name: .long, help: "Bytes of memory for the matrix and row blocks (e.g. 512M, 2G).")
  var memoryBudget: ByteCount = ByteCount(bytes: 1 << 30)

  @Option(name: .long, help: "Expected total input dimension D (checked against the inputs).")
  var inputDim: Int?

  @Flag(name: .long, help: "Print elapsed time and peak memory to stderr at the end.")
  var stats = false

  enum OutputDType: String, ExpressibleByArgument, CaseIterable { case f32, f16 }

  func validate() throws {
    guard !input.isEmpty else { throw ValidationError("give at least one --input gradient file") }
    guard dim >= 1 else { throw ValidationError("--dim must be at least 1 (got \(dim))") }
    guard memoryBudget.bytes >= 1 << 20 else {
      throw ValidationError("--memory-budget must be at least 1M (got \(memoryBudget.bytes) bytes)")
    }
    try checkOutputFolder(output)
  }

  func run() throws {
    let started = Date()
    let pieces = try GradientPieces(paths: input, expectedDim: inputDim)
    let plan = ProjectionPlan(
      rows: pieces.rowCount, inputDim: pieces.dim, outputDim: dim,
      budget: memoryBudget.bytes, needsConversion: pieces.needsConversion)
    let projector = try DenseProjector(
      kind: kind, seed: seed, inputDim: pieces.dim, outputDim: dim,
      memoryBudget: plan.matrixBytes)
    let writer = try NPYWriter(
      url: URL(fileURLWithPath: output), dtype: dtype == .f16 ? .float16 : .float32,
      rowShape: [dim])
    let progress = Progress("project", total: pieces.rowCount)
    var out = [Float](repeating: 0, count: plan.blockRows * dim)
    var start = 0
    while start < pieces.rowCount {
      let rows = min(plan.blockRows, pieces.rowCount - start)
      try out.withUnsafeMutableBufferPointer { o in
        try pieces.project(rows: start..<start + rows, with: projector, into: o.baseAddress!)
        try writer.append(floats: UnsafeBufferPointer(rebasing: o[0..<rows * dim]))
      }
      start += rows
      progress.update(start)
    }
    try writer.finalize()
    progress.finish()
    if stats { printStats(since: started) }
  }
}

extension ProjectorKind: ExpressibleByArgument {}
