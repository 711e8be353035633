import CWinnowABI
import Winnow

// wn_projector_*: a thin translation of `DenseProjector`.

/// Runs `body` on the live projector behind `pointer` and returns the status.
func onProjector(_ pointer: OpaquePointer?, _ body: (DenseProjector) throws -> Void) -> Int32 {
  call(pointer, .projector) { (h: Handle<DenseProjector>) in try body(h.value) }
}

@c @implementation
public func wn_projector_create(
  _ out: UnsafeMutablePointer<OpaquePointer?>?, _ kind: Int32, _ seed: UInt64,
  _ inputDim: Int, _ outputDim: Int, _ memoryBudget: Int
) -> Int32 {
  status {
    let out = try Check.present(out, "out")
    out.pointee = nil
    let kinds: [Int32: ProjectorKind] = [0: .rademacher, 1: .gaussian]
    guard let kind = kinds[kind] else {
      throw WinnowError(
        .invalidArgument,
        "projector kind \(kind) is neither WN_PROJECTOR_RADEMACHER (0) nor WN_PROJECTOR_GAUSSIAN (1)")
    }
    let d = try Check.count(inputDim, "input_dim")
    let k = try Check.count(outputDim, "output_dim")
    let budget = try Check.count(memoryBudget, "memory_budget")
    // The projector sizes one row of P as 4k bytes; keep that representable.
    _ = try Check.product(k, 1, elementSize: 4, "one row of the projection matrix")
    let p = try DenseProjector(
      kind: kind, seed: seed, inputDim: d, outputDim: k,
      memoryBudget: budget == 0 ? DenseProjector.defaultMemoryBudget : budget)
    out.pointee = Registry.open(Handle(p), as: .projector)
  }
}

@c @implementation
public func wn_projector_free(_ projector: OpaquePointer?) {
  Registry.close(projector, as: .projector, type: DenseProjector.self)
}

@c @implementation
public func wn_projector_last_error(_ projector: OpaquePointer?) -> UnsafePointer<CChar>? {
  lastError(projector, as: .projector, DenseProjector.self)
}

@c @implementation
public func wn_projector_dims(
  _ projector: OpaquePointer?, _ outInputDim: UnsafeMutablePointer<Int>?,
  _ outOutputDim: UnsafeMutablePointer<Int>?
) -> Int32 {
  onProjector(projector) { p in
    let a = try Check.present(outInputDim, "out_input_dim")
    let b = try Check.present(outOutputDim, "out_output_dim")
    (a.pointee, b.pointee) = (p.inputDim, p.outputDim)
  }
}

@c @implementation
public func wn_projector_project_f32(
  _ projector: OpaquePointer?, _ x: UnsafePointer<Float>?, _ rows: Int,
  _ out: UnsafeMutablePointer<Float>?, _ outCapacity: Int
) -> Int32 {
  onProjector(projector) { p in
    let (x, out) = try piece(p, x, rows, 0, p.inputDim, out, outCapacity)
    try p.project(piece: x, rows: rows, offset: 0, length: p.inputDim, into: out, accumulate: false)
  }
}

@c @implementation
public func wn_projector_project_piece_f32(
  _ projector: OpaquePointer?, _ x: UnsafePointer<Float>?, _ rows: Int, _ offset: Int,
  _ length: Int, _ out: UnsafeMutablePointer<Float>?, _ outCapacity: Int, _ accumulate: Int32
) -> Int32 {
  onProjector(projector) { p in
    let (x, out) = try piece(p, x, rows, offset, length, out, outCapacity)
    try p.project(
      piece: x, rows: rows, offset: offset, length: length, into: out, accumulate: accumulate != 0)
  }
}

@c @implementation
public func wn_projector_project_f16(
  _ projector: OpaquePointer?, _ x: UnsafePointer<UInt16>?, _ rows: Int,
  _ out: UnsafeMutablePointer<Float>?, _ outCapacity: Int
) -> Int32 {
  onProjector(projector) { p in
    let (x, out) = try piece(p, x, rows, 0, p.inputDim, out, outCapacity)
    try p.project(half: x, rows: rows, offset: 0, length: p.inputDim, into: out, accumulate: false)
  }
}

@c @implementation
public func wn_projector_project_piece_f16(
  _ projector: OpaquePointer?, _ x: UnsafePointer<UInt16>?, _ rows: Int, _ offset: Int,
  _ length: Int, _ out: UnsafeMutablePointer<Float>?, _ outCapacity: Int, _ accumulate: Int32
) -> Int32 {
  onProjector(projector) { p in
    let (x, out) = try piece(p, x, rows, offset, length, out, outCapacity)
    try p.project(
      half: x, rows: rows, offset: offset, length: length, into: out, accumulate: accumulate != 0)
  }
}

/// Checks the arguments shared by the projection calls: pointers present,
/// the piece inside `0..<D`, `rows·length` addressable, `out` large enough.
func piece<T>(
  _ p: some FeatureProjector, _ x: UnsafePointer<T>?, _ rows: Int, _ offset: Int, _ length: Int,
  _ out: UnsafeMutablePointer<Float>?, _ capacity: Int
) throws -> (UnsafePointer<T>, UnsafeMutablePointer<Float>) {
  let x = try Check.present(x, "x")
  let out = try Check.present(out, "out")
  let rows = try Check.count(rows, "rows")
  // An offset or length above SIZE_MAX/2 arrives negative: it does not fit
  // 0..D-1 either, which the header promises is WN_ERR_SHAPE.
  guard length >= 1, offset >= 0, offset <= p.inputDim, length <= p.inputDim - offset else {
    throw WinnowError(
      .shapeMismatch,
      "the piece at offset \(UInt(bitPattern: offset)) of width \(UInt(bitPattern: length)) "
        + "does not fit D = \(p.inputDim)")
  }
  _ = try Check.product(rows, length, "x")
  try Check.capacity(capacity, try Check.product(rows, p.outputDim, "out"), "out")
  return (x, out)
}
