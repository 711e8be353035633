#if canImport(FoundationEssentials)
  import FoundationEssentials
#else
  import Foundation
#endif

/// The curvature file: one file, written atomically, checksummed.
///
///     "WNKFAC1\n"            8 bytes, the magic and format version
///     header length          8 bytes, little-endian
///     header XXH3-128        32 ASCII hex digits, of the header's bytes
///     header                 JSON (`CurvatureFileHeader`)
///     payload                little-endian float32 arrays, per layer in
///                            order: Σaaᵀ, Σδδᵀ; when fitted Q_C, e_C, Q_S,
///                            e_S; with corrections Σ(Q_SᵀGQ_C)²
///
/// The header records the layers, counts, phase and the payload's size and
/// XXH3-128, so a truncated, padded or flipped byte anywhere is refused.
struct CurvatureFileHeader: Codable, Equatable {
  struct Layer: Codable, Equatable {
    var id: UInt64
    var inputDim: Int
    var outputDim: Int
  }
  var format = "winnow-kronecker-curvature"
  var version = 1
  var winnowVersion: String
  var phase: Int
  var tokens: Int
  var samples: Int
  var correctionSamples: Int
  /// Each layer's correction samples (corrections may cover some layers).
  var layerCorrectionSamples: [Int]? = nil
  var layers: [Layer]
  var payloadBytes: Int
  var payloadXXH3: String
}

extension KroneckerCurvature {
  static let fileMagic = Array("WNKFAC1\n".utf8)
  static let fileFormat = "winnow-kronecker-curvature"

  /// Writes the fit (whatever its phase) to `url`, replacing it atomically:
  /// a temporary beside it, fsync, rename, fsync of the folder.
  ///
  /// - Throws: `.io` when the file cannot be written.
  public func save(to url: URL) throws {
    var payload = Data()
    for state in states {
      for array in state.arrays(phase: phase) {
        array.withUnsafeBytes { payload.append(contentsOf: $0) }
      }
    }
    let hash = try XXH3()
    payload.withUnsafeBytes { hash.update($0) }
    let header = CurvatureFileHeader(
      winnowVersion: Runtime.version, phase: phase.rawValue, tokens: tokens, samples: samples,
      correctionSamples: correctionSamples, layerCorrectionSamples: layerCorrectionSamples,
      layers: layers.map { .init(id: $0.id, inputDim: $0.inputDim, outputDim: $0.outputDim) },
      payloadBytes: payload.count, payloadXXH3: try hash.finalizeHex())
    let headerBytes = try manifestBytes(header)
    let headerHash = try XXH3()
    headerBytes.withUnsafeBytes { headerHash.update($0) }
    var file = Data(Self.fileMagic)
    withUnsafeBytes(of: UInt64(headerBytes.count).littleEndian) { file.append(contentsOf: $0) }
    file.append(contentsOf: Array(try headerHash.finalizeHex().utf8))
    file.append(headerBytes)
    file.append(payload)
    try AtomicFile.write(file, to: url)
  }

  /// Reads a fit written by `save(to:)`.
  ///
  /// - Throws: `.io` when the file cannot be read; `.format` naming the file
  ///   and the problem when it is not a curvature file, is truncated, or a
  ///   checksum disagrees; `.outOfMemory` when it is too large to hold.
  public static func load(from url: URL) throws -> KroneckerCurvature {
    let path = url.path
    let (fd, size) = try Syscalls.openForReading(path)
    Syscalls.closeQuietly(fd)
    try CheckedSize.checkFeasible(bytes: size, "\(path)")
    let bytes = try Syscalls.readWholeFile(path, limit: size)
    func bad(_ what: String) -> WinnowError { WinnowError(.format, "\(path): \(what)") }
    let fixed = fileMagic.count + 8 + 32
    guard bytes.count >= fixed, Array(bytes[0..<fileMagic.count]) == fileMagic else {
      throw bad("not a Winnow curvature file (no WNKFAC1 magic)")
    }
    var length: UInt64 = 0
    for i in 0..<8 { length |= UInt64(bytes[fileMagic.count + i]) << (8 * UInt64(i)) }
    guard length <= UInt64(bytes.count - fixed) else {
      throw bad("truncated: the header claims \(length) bytes, the file has \(bytes.count - fixed) after the magic")
    }
    let headerBytes = Data(bytes[fixed..<fixed + Int(length)])
    let recorded = String(decoding: bytes[fileMagic.count + 8..<fixed], as: UTF8.self)
    let headerHash = try XXH3()
    headerBytes.withUnsafeBytes { headerHash.update($0) }
    guard try headerHash.finalizeHex() == recorded else {
      throw bad("checksum mismatch in the header (XXH3-128 recorded \(recorded)); the file is corrupt")
    }
    let header: CurvatureFileHeader
    do {
      header = try JSONDecoder().decode(CurvatureFileHeader.self, from: headerBytes)
    } catch {
      throw bad("the header is not a curvature header: \(error)")
    }
    guard header.format == fileFormat, header.version == 1 else {
      throw bad("format \(header.format) version \(header.version); this Winnow reads \(fileFormat) version 1")
    }
    let payload = bytes[(fixed + Int(length))...]
    guard payload.count == header.payloadBytes else {
      throw bad("the payload has \(payload.count) bytes, the header records \(header.payloadBytes) (truncated or padded)")
    }
    let hash = try XXH3()
    payload.withUnsafeBytes { hash.update($0) }
    let got = try hash.finalizeHex()
    guard got == header.payloadXXH3 else {
      throw bad("checksum mismatch: the header records XXH3-128 \(header.payloadXXH3), the payload has \(got); the file is corrupt")
    }
    return try decode(header, payload: Array(payload), bad)
  }

  private static func decode(
    _ header: CurvatureFileHeader, payload: [UInt8], _ bad: (String) -> WinnowError
  ) throws -> KroneckerCurvature {
    let perLayer = header.layerCorrectionSamples
      ?? [Int](repeating: header.correctionSamples, count: header.layers.count)
    guard let phase = Phase(rawValue: header.phase), header.tokens >= 0, header.samples >= 0,
      header.correctionSamples >= 0, phase == .fitted || header.correctionSamples == 0,
      perLayer.count == header.layers.count, perLayer.allSatisfy({ $0 >= 0 }),
      perLayer.max() ?? 0 == header.correctionSamples
    else { throw bad("the header's phase or counts are invalid") }
    var curvature: KroneckerCurvature
    do {
      curvature = try KroneckerCurvature(
        layers: header.layers.map { LinearLayerSpec(id: $0.id, inputDim: $0.inputDim, outputDim: $0.outputDim) })
    } catch let error as WinnowError {
      throw bad("its layers are invalid: \(error.message)")
    }
    var offset = 0
    for l in curvature.states.indices {
      var state = curvature.states[l]
      let counts = state.arrayCounts(phase: phase, corrections: perLayer[l] > 0)
      var arrays: [[Float]] = []
      for count in counts {
        guard offset + count * 4 <= payload.count else { throw bad("the payload is shorter than its layers need") }
        arrays.append(payload[offset..<offset + count * 4].withUnsafeBytes { raw in
          (0..<count).map { Float(bitPattern: UInt32(littleEndian: raw.loadUnaligned(fromByteOffset: $0 * 4, as: UInt32.self))) }
        })
        offset += count * 4
      }
      state.restore(arrays)
      state.correctionSamples = perLayer[l]
      curvature.states[l] = state
    }
    guard offset == payload.count else { throw bad("the payload is longer than its layers need") }
    curvature.phase = phase
    curvature.tokens = header.tokens
    curvature.samples = header.samples
    return curvature
  }
}

extension LayerCurvature {
  /// The arrays saved for this layer, in file order.
  func arrays(phase: KroneckerCurvature.Phase) -> [[Float]] {
    var list = [inputSum, outputSum]
    if phase == .fitted { list += [inputBasis, inputEigenvalues, outputBasis, outputEigenvalues] }
    if !corrections.isEmpty { list.append(corrections) }
    return list
  }

  /// The element counts of `arrays(phase:)`, from the dims alone.
  func arrayCounts(phase: KroneckerCurvature.Phase, corrections: Bool) -> [Int] {
    let (i, o) = (inputDim * inputDim, outputDim * outputDim)
    var counts = [i, o]
    if phase == .fitted { counts += [i, inputDim, o, outputDim] }
    if corrections { counts.append(outputDim * inputDim) }
    return counts
  }

  mutating func restore(_ arrays: [[Float]]) {
    inputSum = arrays[0]
    outputSum = arrays[1]
    if arrays.count >= 6 {
      (inputBasis, inputEigenvalues, outputBasis, outputEigenvalues) = (arrays[2], arrays[3], arrays[4], arrays[5])
    }
    if arrays.count == 7 || arrays.count == 3 { corrections = arrays[arrays.count - 1] }
  }
}
