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

      --kind sjlt is the sparse JL map instead (SJLT; CountSketch with --nnz 1, the \
      default): each input coordinate has --nnz nonzeros ±1/√nnz keyed by (seed, \
      coordinate), so nothing is stored and a block is one read of its gradients, for any D \
      (10⁸ and beyond). A store records the map (kind, seed, nnz, K, D) in its manifest; \
      `winnow score` refuses to compare features of different maps.

      With --adam-m and --adam-v (the optimizer's moments, shape (D,)), each gradient g is \
      first turned into LESS's Adam feature: m' = 0.9·m + 0.1·g, v' = 0.999·v + 0.001·g², \
      Γ = m' / √(v' + 1e-8) (ε inside the root, no bias correction), then projected.

      With --store DIR instead of --output, features go into a feature store (shards of \
      --shard-rows rows with ids and a checksummed manifest). If the command is interrupted, \
      running it again resumes after the last complete shard.
      """
  )

  @Option(name: .long, help: "Gradients, N × D_i, <f4 or <f2 (repeat for column pieces).")
  var input: [String] = []

  @Option(name: .long, help: "Output features .npy, N × K (or use --store).")
  var output: String?

  @Option(name: .long, help: "Write into this feature store directory instead of --output.")
  var store: String?

  @OptionGroup var storeOptions: StoreOptions

  @Option(name: .customLong("adam-m"), help: "Adam first moment m, (D,) <f4: project LESS Adam features.")
  var adamM: String?

  @Option(name: .customLong("adam-v"), help: "Adam second moment v, (D,) <f4 (with --adam-m).")
  var adamV: String?

  @Option(name: .long, help: "K, the number of output features (any positive value).")
  var dim: Int

  @Option(name: .long, help: "Seed of the projection matrix.")
  var seed: UInt64 = 0

  @Option(name: .long, help: "Entry distribution: rademacher or gaussian; or sjlt, the sparse JL map.")
  var kind: ProjectionKind = .rademacher

  @Option(name: .long, help: "Nonzeros per input coordinate of --kind sjlt, 1...min(K, 4096) (default 1).")
  var nnz: Int?

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
    guard (output == nil) != (store == nil) else {
      throw ValidationError("give exactly one of --output FILE.npy and --store DIR")
    }
    guard (adamM == nil) == (adamV == nil) else {
      throw ValidationError("--adam-m and --adam-v go together")
    }
    guard storeOptions.ids == nil || store != nil else { throw ValidationError("--ids applies to --store only") }
    guard nnz == nil || kind == .sjlt else { throw ValidationError("--nnz applies to --kind sjlt only") }
    if let nnz, nnz < 1 || nnz > dim {
      throw ValidationError("--nnz must be in 1...\(dim) (at most --dim), got \(nnz)")
    }
    if let output { try checkOutputFolder(output) }
  }

  func run() throws {
    let started = Date()
    let pieces = try GradientPieces(paths: input, expectedDim: inputDim)
    let adam = try adamM.map { try AdamMoments(m: $0, v: adamV ?? "", dim: pieces.dim) }
    let plan = try ProjectionPlan(
      rows: pieces.rowCount, inputDim: pieces.dim, outputDim: dim,
      budget: memoryBudget.bytes, needsConversion: pieces.needsConversion || adam != nil)
    let projector = try kind.makeProjector(
      seed: seed, inputDim: pieces.dim, outputDim: dim, nnz: nnz, matrixBytes: plan.matrixBytes)
    let sink = try makeSink(pieces: pieces, adam: adam != nil)
    let progress = Progress("project", total: pieces.rowCount)
    var out = [Float](repeating: 0, count: plan.blockRows * dim)
    var start = sink.startRow
    while start < pieces.rowCount {
      let rows = start..<min(start + plan.blockRows, pieces.rowCount)
      try out.withUnsafeMutableBufferPointer { o in
        try pieces.project(rows: rows, with: projector, adam: adam, into: o.baseAddress!)
        try sink.append(UnsafeBufferPointer(rebasing: o[0..<rows.count * dim]), rows: rows)
      }
      start = rows.upperBound
      progress.update(start)
      TestHooks.pauseAfterBlock()
    }
    try sink.finish()
    progress.finish()
    if stats { printStats(since: started) }
  }

  private func makeSink(pieces: GradientPieces, adam: Bool) throws -> FeatureSink {
    let dtype: NPYDType = self.dtype == .f16 ? .float16 : .float32
    guard let store else {
      let writer = try NPYWriter(url: URL(fileURLWithPath: output ?? ""), dtype: dtype, rowShape: [dim])
      return NPYSink(writer: writer)
    }
    let idValues = try storeOptions.ids.map { try NPYArray(contentsOf: URL(fileURLWithPath: $0)).readInt64() }
    if let idValues, idValues.count != pieces.rowCount {
      throw WinnowError(.shapeMismatch, "\(storeOptions.ids ?? ""): \(idValues.count) ids for \(pieces.rowCount) gradient rows")
    }
    // The manifest names the projector kind, with "/adam" when LESS Adam
    // features were projected, so a store says exactly how it was made.
    let metadata = FeatureStoreMetadata(
      projector: kind.rawValue + (adam ? "/adam" : ""), seed: seed, k: dim,
      inputDim: pieces.dim, dtype: dtype, checkpoint: storeOptions.checkpoint, weight: storeOptions.weight,
      nnz: kind == .sjlt ? nnz ?? 1 : nil)
    let writer = try FeatureStoreWriter.openOrCreate(
      directory: URL(fileURLWithPath: store), metadata: metadata, shardRows: storeOptions.shardRows,
      expectedInputRows: pieces.rowCount)
    try writer.checkResume(inputRows: pieces.rowCount)
    return StoreSink(writer: writer, ids: idValues)
  }
}

extension ProjectorKind: ExpressibleByArgument {}
