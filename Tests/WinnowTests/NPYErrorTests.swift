import Foundation
import Testing
@testable import Winnow

/// Every malformed or unsupported file is an error naming the file, never a crash.
@Suite struct NPYErrorTests {
  static let good = "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), }\n"

  /// Opens `bytes` written to `name` and expects the given error.
  func expectRejected(
    _ bytes: [UInt8], named name: String, _ code: WinnowError.Code, containing fragment: String = "",
    sourceLocation: SourceLocation = #_sourceLocation
  ) throws {
    try withNPYDirectory { dir in
      let url = try npyWriteFile(bytes, named: name, in: dir)
      expectNPYError(code, naming: url, containing: fragment, sourceLocation: sourceLocation) {
        _ = try NPYArray(contentsOf: url)
      }
    }
  }

  @Test func truncatedDataIsAFormatErrorSayingHowShort() throws {
    let bytes = npyBytes(header: Self.good, data: npyFloatBytes([1, 2, 3, 4, 5]))
    try expectRejected(bytes, named: "short.npy", .format, containing: "truncated: expected 24 bytes of data, found 20")
  }

  @Test func trailingBytesAfterTheDataAreAFormatError() throws {
    let bytes = npyBytes(header: Self.good, data: npyFloatBytes([1, 2, 3, 4, 5, 6, 7]))
    try expectRejected(bytes, named: "long.npy", .format, containing: "trailing")
  }

  @Test func missingOrWrongMagicIsAFormatError() throws {
    try expectRejected([], named: "empty.npy", .format, containing: "not a .npy file")
    try expectRejected([0x93, 0x4E, 0x55], named: "tiny.npy", .format, containing: "too short")
    var bytes = npyBytes(header: Self.good, data: npyFloatBytes([1, 2, 3, 4, 5, 6]))
    bytes[1] = UInt8(ascii: "X")
    try expectRejected(bytes, named: "magic.npy", .format, containing: "magic")
    try expectRejected(Array("just some text file\n".utf8), named: "text.npy", .format, containing: "magic")
  }

  @Test func unsupportedVersionIsNamed() throws {
    let data = npyFloatBytes([1, 2, 3, 4, 5, 6])
    try expectRejected(npyBytes(header: Self.good, major: 4, data: data), named: "v4.npy", .unsupported, containing: "4.0")
    try expectRejected(npyBytes(header: Self.good, minor: 1, data: data), named: "v11.npy", .unsupported, containing: "1.1")
  }

  @Test func headerLengthPastTheEndOfTheFileIsAFormatError() throws {
    var bytes = npyBytes(header: Self.good)
    bytes[8] = 0xFF
    bytes[9] = 0xFF
    try expectRejected(bytes, named: "len.npy", .format, containing: "past the end")
    var v2 = npyBytes(header: Self.good, major: 2)
    v2[11] = 0xFF  // a 4 GiB header
    try expectRejected(v2, named: "len2.npy", .format, containing: "past the end")
    try expectRejected(Array(npyBytes(header: Self.good).prefix(9)), named: "field.npy", .format)
  }

  @Test(arguments: [
    "garbage", "{", "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)", "[1, 2]",
    "{'descr': '<f4', 'fortran_order': False}", "{'descr': '<f4', 'fortran_order': 0, 'shape': (2, 3)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, -3)}", "{'descr': '<f4', 'fortran_order': False, 'shape': 6}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3), 'extra': 1}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (99999999999999999999999,)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (4294967296, 4294967296)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': (2, 3)} trailing",
    "{'descr': '<f4, 'fortran_order': False, 'shape': (2, 3)}",
    "{'descr': '<f4', 'fortran_order': False, 'shape': " + String(repeating: "(", count: 5000) + "}",
  ])
  func corruptHeaderDictIsAFormatError(header: String) throws {
    let bytes = npyBytes(header: header, data: npyFloatBytes([1, 2, 3, 4, 5, 6]))
    try expectRejected(bytes, named: "corrupt.npy", .format, containing: "corrupt header")
  }

  @Test func invalidUTF8InAVersion3HeaderIsAFormatError() throws {
    var bytes = npyBytes(header: Self.good, major: 3, data: npyFloatBytes([1, 2, 3, 4, 5, 6]))
    bytes[20] = 0xFF
    try expectRejected(bytes, named: "utf8.npy", .format, containing: "UTF-8")
  }

  @Test func fortranOrderIsUnsupportedWithAHint() throws {
    let header = "{'descr': '<f4', 'fortran_order': True, 'shape': (2, 3), }\n"
    try expectRejected(npyBytes(header: header, data: npyFloatBytes([1, 2, 3, 4, 5, 6])), named: "fortran.npy",
                       .unsupported, containing: "Fortran-order arrays are not supported; save with np.ascontiguousarray")
  }

  @Test(arguments: [(">f4", "big-endian"), (">i8", "big-endian"), ("<f8", "unsupported dtype '<f8'"),
                    ("|b1", "unsupported dtype '|b1'"), ("|u1", "unsupported dtype"), ("<c8", "unsupported dtype")])
  func unsupportedDTypeIsNamed(descr: String, fragment: String) throws {
    let header = "{'descr': '\(descr)', 'fortran_order': False, 'shape': (2, 3), }\n"
    try expectRejected(npyBytes(header: header, data: [UInt8](repeating: 0, count: 48)), named: "dtype.npy",
                       .unsupported, containing: fragment)
  }

  @Test func structuredDTypeIsUnsupported() throws {
    let header = "{'descr': [('a', '<f4'), ('b', '<i4')], 'fortran_order': False, 'shape': (3,), }\n"
    try expectRejected(npyBytes(header: header, data: [UInt8](repeating: 0, count: 24)), named: "rec.npy",
                       .unsupported, containing: "structured")
  }

  @Test func missingFileAndDirectoryAreIOErrors() throws {
    try withNPYDirectory { dir in
      let missing = dir.appendingPathComponent("nope.npy")
      expectNPYError(.io, naming: missing) { _ = try NPYArray(contentsOf: missing) }
      expectNPYError(.io, naming: dir, containing: "not a regular file") { _ = try NPYArray(contentsOf: dir) }
    }
  }

  @Test func readsOutOfRangeOrOfTheWrongKindAreErrorsNamingTheFile() throws {
    try withNPYDirectory { dir in
      let url = dir.appendingPathComponent("rows.npy")
      try NPYWriter.write([1, 2, 3, 4, 5, 6], shape: [3, 2], to: url)
      let array = try NPYArray(contentsOf: url)
      var out = [Float](repeating: 0, count: 16)
      try out.withUnsafeMutableBufferPointer { buffer in
        let base = try #require(buffer.baseAddress)
        expectNPYError(.invalidArgument, naming: url, containing: "out of range") {
          try array.readFloatRows(2..<4, into: base)
        }
        expectNPYError(.invalidArgument, naming: url) { try array.readFloatRows(-1..<1, into: base) }
      }
      expectNPYError(.unsupported, naming: url, containing: "<f4") { _ = try array.readInt64() }

      let ids = dir.appendingPathComponent("ids.npy")
      try NPYWriter.write([1, 2, 3], to: ids)
      let idArray = try NPYArray(contentsOf: ids)
      expectNPYError(.invalidArgument, naming: ids) { _ = try idArray.readInt64(2..<4) }
      expectNPYError(.unsupported, naming: ids, containing: "<i8") { _ = try idArray.readFloats() }
      expectNPYError(.unsupported, naming: ids) { try idArray.readFloatRows(0..<1, into: &out) }
    }
  }

  @Test func uint64AboveInt64MaxIsAFormatError() throws {
    let header = "{'descr': '<u8', 'fortran_order': False, 'shape': (2,), }\n"
    let data: [UInt8] = [1, 0, 0, 0, 0, 0, 0, 0] + [UInt8](repeating: 0xFF, count: 8)
    try withNPYDirectory { dir in
      let url = try npyWriteFile(npyBytes(header: header, data: data), named: "u8.npy", in: dir)
      let array = try NPYArray(contentsOf: url)
      #expect(try array.readInt64(0..<1) == [1])
      expectNPYError(.format, naming: url, containing: "element 1") { _ = try array.readInt64() }
    }
  }

  @Test func everyTruncationAndSingleByteCorruptionThrowsOrParsesWithoutCrashing() throws {
    let file = try #require(NPYHeader.encode(dtype: .float16, shape: [2, 3], version: .v1_0))
      + [UInt8](repeating: 0, count: 12)
    func parse(_ bytes: [UInt8]) -> Result<NPYHeader, any Error> {
      bytes.withUnsafeBytes { buffer in Result { try NPYHeader.parse(buffer, path: "fuzz.npy") } }
    }
    for length in 0..<file.count {
      guard case .failure(let error) = parse(Array(file.prefix(length))) else {
        Issue.record("a \(length)-byte prefix parsed")
        continue
      }
      #expect((error as? WinnowError)?.message.contains("fuzz.npy") == true)
    }
    for position in 0..<file.count - 12 {
      for byte: UInt8 in [0x00, 0xFF, 0x28, 0x29, 0x2C, 0x27, 0x7B, 0x7D, 0x39, 0x2D, 0x80] {
        var bytes = file
        bytes[position] = byte
        if case .failure(let error) = parse(bytes) {
          #expect(error is WinnowError, "byte \(byte) at \(position): \(error)")
        }
      }
    }
  }
}
