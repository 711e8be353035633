import CWinnowABI
import Winnow

// wn_sparse_projector_*: a thin translation of `SparseProjector`.

/// Runs `body` on the live sparse projector behind `pointer`.
func onSparseProjector(_ pointer: OpaquePointer?, _ body: (SparseProjector) throws -> Void) -> Int32 {
  call(pointer, .sparseProjector) { (h: Handle<SparseProjector>) in try body(h.value) }
}

@c @implementation
public func wn_sparse_projector_create(
  _ out: UnsafeMutablePointer<OpaquePointer?>?, _ seed: UInt64, _ inputDim: Int,
  _ outputDim: Int, _ nnz: Int
) -> Int32 {
  status {
    let out = try Check.present(out, "out")
    out.pointee = nil
    let p = try SparseProjector(
      seed: seed, inputDim: try Check.count(inputDim, "input_dim"),
      outputDim: try Check.count(outputDim, "output_dim"), nonzeros: try Check.count(nnz, "nnz"))
    out.pointee = Registry.open(Handle(p), as: .sparseProjector)
  }
}

@c @implementation
public func wn_sparse_projector_free(_ projector: OpaquePointer?) {
  Registry.close(projector, as: .sparseProjector, type: SparseProjector.self)
}

@c @implementation
public func wn_sparse_projector_last_error(_ projector: OpaquePointer?) -> UnsafePointer<CChar>? {
  lastError(projector, as: .sparseProjector, SparseProjector.self)
}

@c @implementation
public func wn_sparse_projector_dims(
  _ projector: OpaquePointer?, _ outInputDim: UnsafeMutablePointer<Int>?,
  _ outOutputDim: UnsafeMutablePointer<Int>?, _ outNnz: UnsafeMutablePointer<Int>?
) -> Int32 {
  onSparseProjector(projector) { p in
    let a = try Check.present(outInputDim, "out_input_dim")
    let b = try Check.present(outOutputDim, "out_output_dim")
    let c = try Check.present(outNnz, "out_nnz")
    (a.pointee, b.pointee, c.pointee) = (p.inputDim, p.outputDim, p.nonzeros)
  }
}

@c @implementation
public func wn_sparse_projector_project_piece_f32(
  _ projector: OpaquePointer?, _ x: UnsafePointer<Float>?, _ rows: Int, _ offset: Int,
  _ length: Int, _ out: UnsafeMutablePointer<Float>?, _ outCapacity: Int, _ accumulate: Int32
) -> Int32 {
  onSparseProjector(projector) { p in
    let (x, out) = try piece(p, x, rows, offset, length, out, outCapacity)
    try p.project(
      piece: x, rows: rows, offset: offset, length: length, into: out, accumulate: accumulate != 0)
  }
}

@c @implementation
public func wn_sparse_projector_project_piece_f16(
  _ projector: OpaquePointer?, _ x: UnsafePointer<UInt16>?, _ rows: Int, _ offset: Int,
  _ length: Int, _ out: UnsafeMutablePointer<Float>?, _ outCapacity: Int, _ accumulate: Int32
) -> Int32 {
  onSparseProjector(projector) { p in
    let (x, out) = try piece(p, x, rows, offset, length, out, outCapacity)
    try p.project(
      half: x, rows: rows, offset: offset, length: length, into: out, accumulate: accumulate != 0)
  }
}
