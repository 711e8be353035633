extension GhostDotProducts {
  /// Adds one layer's `⟨G_i, G_t⟩` to `sums[i]` by the given path.
  func accumulateTarget(
    _ f: FloatFactors, _ target: TargetGradient, _ path: GhostPath, into sums: inout [Double]
  ) throws {
    let name = "target: layer \(f.spec.id)"
    switch (target, path) {
    case (.factors(let a, let d, let tt), .ghost):
      try a.withFloat32(rows: tt, cols: f.inputDim, name: name + " inputs") { at in
        try d.withFloat32(rows: tt, cols: f.outputDim, name: name + " output gradients") { dt in
          try Self.ghostFactorTarget(f, inputs: at, outputGradients: dt, tokens: tt, into: &sums)
        }
      }
    case (.gradient(let g), .ghost):
      try g.withFloat32(rows: f.outputDim, cols: f.inputDim, name: name + " gradient") { gt in
        try Self.ghostGradientTarget(f, gt, into: &sums)
      }
    case (_, .materialized):
      try Self.withTargetGradient(target, f, name) { gt in
        try materializedTarget(f, gt, into: &sums)
      }
    }
  }

  /// `sum((A_i A_tᵀ) ∘ (Δ_i Δ_tᵀ))` per sample, with `A_t` `T_t × d_in` and
  /// `Δ_t` `T_t × d_out`; the kernels are `T_i × T_t` per sample.
  static func ghostFactorTarget(
    _ f: FloatFactors, inputs at: UnsafePointer<Float>, outputGradients dt: UnsafePointer<Float>,
    tokens tt: Int, into sums: inout [Double]
  ) throws {
    guard tt > 0 else { return }
    let (din, dout) = (f.inputDim, f.outputDim)
    for i in 0..<f.samples where f.tokenCounts[i] > 0 {
      let (r0, ti) = (f.starts[i], f.tokenCounts[i])
      let ka = try tokenKernel(f.a + r0 * din, ti, at, tt, dim: din)
      let kd = try tokenKernel(f.d + r0 * dout, ti, dt, tt, dim: dout)
      sums[i] += try hadamardSum(ka, kd, rows: ti, ld: tt, colsAt: 0, tt)
    }
  }

  /// `sum((Δ_i G_t) ∘ A_i)` per sample, for `G_t` `d_out × d_in`: the bilinear
  /// form `Σ_t δ_itᵀ G_t a_it`, which equals `⟨Δ_iᵀ A_i, G_t⟩`.
  static func ghostGradientTarget(
    _ f: FloatFactors, _ gt: UnsafePointer<Float>, into sums: inout [Double]
  ) throws {
    let (din, dout) = (f.inputDim, f.outputDim)
    let maxTokens = f.tokenCounts.max() ?? 0
    var m = [Float](
      repeating: 0,
      count: try CheckedSize.allocatable(
        [maxTokens, din], elementSize: 4, "one sample's Δ_i·G_t (\(maxTokens) tokens × d_in \(din))"))
    try m.withUnsafeMutableBufferPointer { mp in
      for i in 0..<f.samples where f.tokenCounts[i] > 0 {
        let (r0, ti) = (f.starts[i], f.tokenCounts[i])
        try BLAS.sgemm(
          .none, .none, m: ti, n: din, k: dout, alpha: 1, a: f.d + r0 * dout, lda: dout,
          b: gt, ldb: din, beta: 0, c: mp.baseAddress!, ldc: din)
        sums[i] += Double(try BLAS.sdot(n: ti * din, mp.baseAddress!, f.a + r0 * din))
      }
    }
  }

  /// `⟨G_i, G_t⟩` by forming all gradients one slab of output rows at a time.
  func materializedTarget(
    _ f: FloatFactors, _ gt: UnsafePointer<Float>, into sums: inout [Double]
  ) throws {
    let slabs = try slabs(f)
    var g = [Float](repeating: 0, count: try slabSize(f, slabs))
    var y = [Float](repeating: 0, count: f.samples)
    for slab in slabs {
      let width = slab.count * f.inputDim
      try g.withUnsafeMutableBufferPointer { gp in
        try Self.materialize(f, outputRows: slab, into: gp.baseAddress!)
        try y.withUnsafeMutableBufferPointer { yp in
          // Rows `slab` of the row-major target are contiguous.
          try BLAS.sgemv(
            .none, m: f.samples, n: width, alpha: 1, a: gp.baseAddress!, lda: width,
            x: gt + slab.lowerBound * f.inputDim, beta: 0, y: yp.baseAddress!)
        }
      }
      for i in 0..<f.samples { sums[i] += Double(y[i]) }
    }
  }

  /// Calls `body` with the target as an explicit `d_out × d_in` gradient,
  /// forming `Δ_tᵀ A_t` when it is given by factors.
  static func withTargetGradient(
    _ target: TargetGradient, _ f: FloatFactors, _ name: String,
    _ body: (UnsafePointer<Float>) throws -> Void
  ) throws {
    let (din, dout) = (f.inputDim, f.outputDim)
    switch target {
    case .gradient(let g):
      try g.withFloat32(rows: dout, cols: din, name: name + " gradient", body)
    case .factors(let a, let d, let tt):
      var g = [Float](
        repeating: 0,
        count: try CheckedSize.allocatable(
          [dout, din], elementSize: 4, "\(name): the target gradient (d_out \(dout) × d_in \(din))"))
      try a.withFloat32(rows: tt, cols: din, name: name + " inputs") { at in
        try d.withFloat32(rows: tt, cols: dout, name: name + " output gradients") { dt in
          try g.withUnsafeMutableBufferPointer { gp in
            guard tt > 0 else { return }
            try BLAS.sgemm(
              .transposed, .none, m: dout, n: din, k: tt, alpha: 1, a: dt, lda: dout, b: at,
              ldb: din, beta: 0, c: gp.baseAddress!, ldc: din)
          }
        }
      }
      try g.withUnsafeBufferPointer { try body($0.baseAddress!) }
    }
  }
}
