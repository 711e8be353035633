import Foundation
import Testing
@testable import Winnow

@Suite struct NPYWriterTests {
  @Test func finalPathAppearsOnlyAtFinalizeAndNoTemporaryRemains() throws {
    try withNPYDirectory { dir in
      let url = dir.appendingPathComponent("features.npy")
      let writer = try NPYWriter(url: url, dtype: .float32, rowShape: [3])
      try [Float](repeating: 1, count: 6).withUnsafeBufferPointer { try writer.append(floats: $0) }
      #expect(!FileManager.default.fileExists(atPath: url.path))
      let listing = try npyListing(dir)
      #expect(listing.count == 1 && listing[0].hasPrefix("features.npy.tmp-\(getpid())-"))
      try writer.finalize()
      #expect(try npyListing(dir) == ["features.npy"])
      #expect(try NPYArray(contentsOf: url).shape == [2, 3])
    }
  }

  @Test func finalizeReplacesAnExistingFileAtomically() throws {
    try withNPYDirectory { dir in
      let url = dir.appendingPathComponent("ids.npy")
      try NPYWriter.write([1, 2, 3], to: url)
      let writer = try NPYWriter(url: url, dtype: .int64, rowShape: [])
      try writer.append(int64: [7])
      #expect(try NPYArray(contentsOf: url).readInt64() == [1, 2, 3])
      try writer.finalize()
      #expect(try NPYArray(contentsOf: url).readInt64() == [7])
    }
  }

  @Test func abandonAndDeinitLeaveNoFiles() throws {
    try withNPYDirectory { dir in
      let url = dir.appendingPathComponent("a.npy")
      let writer = try NPYWriter(url: url, dtype: .float16, rowShape: [2])
      try [Float](repeating: 1, count: 4).withUnsafeBufferPointer { try writer.append(floats: $0) }
      writer.abandon()
      writer.abandon()  // idempotent
      #expect(try npyListing(dir) == [])
      expectNPYError(.badState, naming: url) {
        try [Float](repeating: 1, count: 2).withUnsafeBufferPointer { try writer.append(floats: $0) }
      }
      expectNPYError(.badState, naming: url) { try writer.finalize() }

      func interruptedWrite() throws {
        let dropped = try NPYWriter(url: url, dtype: .int64, rowShape: [])
        try dropped.append(int64: [1, 2, 3])
      }
      try interruptedWrite()
      #expect(try npyListing(dir) == [])
    }
  }

  @Test func appendsAfterFinalizeAreBadState() throws {
    try withNPYDirectory { dir in
      let url = dir.appendingPathComponent("done.npy")
      let writer = try NPYWriter(url: url, dtype: .int32, rowShape: [])
      try writer.append(int64: [1])
      try writer.finalize()
      expectNPYError(.badState, naming: url, containing: "finalized") { try writer.append(int64: [2]) }
      expectNPYError(.badState, naming: url) { try writer.finalize() }
      writer.abandon()  // must not remove the published file
      #expect(try NPYArray(contentsOf: url).readInt64() == [1])
    }
  }

  @Test func manyAppendsAcrossTheBufferYieldTheRightShapeAndValues() throws {
    try withNPYDirectory { dir in
      for dtype in [NPYDType.float32, .float16] {
        let url = dir.appendingPathComponent("stream-\(dtype).npy")
        let k = 100
        let writer = try NPYWriter(url: url, dtype: dtype, rowShape: [k])
        var expected: [Float] = []
        // Small appends fill the buffer; a 3 MiB append bypasses it.
        for rows in [1, 7, 0, 2000, 7000, 13] {
          let block = (0..<rows * k).map { Float((expected.count + $0) % 2048) }
          try block.withUnsafeBufferPointer { try writer.append(floats: $0) }
          expected += block
        }
        #expect(writer.rowCount == 9021)
        try writer.finalize()
        let array = try NPYArray(contentsOf: url)
        #expect(array.shape == [9021, k])
        #expect(try array.readFloats() == expected)
      }
    }
  }

  @Test func float16WritingRoundsToNearestEven() throws {
    try withNPYDirectory { dir in
      let url = dir.appendingPathComponent("half.npy")
      let ulp: Float = 1.0 / 1024  // spacing of halves in [1, 2)
      let inputs: [Float] = [1 + ulp / 2, 1 + 3 * ulp / 2, 1 + ulp * 0.51, 65504, 65520, -0.0, 1e-8, 6e-8, .infinity]
      let rounded: [Float] = [1, 1 + 2 * ulp, 1 + ulp, 65504, .infinity, -0.0, 0, 5.960464477539063e-08, .infinity]
      try NPYWriter.write(inputs, shape: [inputs.count], to: url, dtype: .float16)
      let values = try NPYArray(contentsOf: url).readFloats()
      #expect(values == rounded)
      #expect(values[5].sign == .minus)
      try NPYWriter.write([.nan], shape: [1], to: url, dtype: .float16)
      #expect(try NPYArray(contentsOf: url).readFloats()[0].isNaN)
    }
  }

  @Test func headerKeepsDataSixtyFourByteAligned() throws {
    try withNPYDirectory { dir in
      for version in NPYFormatVersion.allCases {
        let url = dir.appendingPathComponent("v\(version.rawValue).npy")
        let writer = try NPYWriter(url: url, dtype: .float32, rowShape: [5, 7], version: version)
        try [Float](repeating: 2, count: 35 * 3).withUnsafeBufferPointer { try writer.append(floats: $0) }
        try writer.finalize()
        let size = try #require(try FileManager.default.attributesOfItem(atPath: url.path)[.size] as? Int)
        #expect((size - 35 * 3 * 4) % 64 == 0)
        #expect(try NPYArray(contentsOf: url).floatRowsPointer(0..<3)?.count == 105)
      }
    }
  }

  @Test func version1UpgradesTo2WhenTheHeaderIsTooLong() throws {
    try withNPYDirectory { dir in
      let url = dir.appendingPathComponent("wide.npy")
      let rowShape = [Int](repeating: 1, count: 30_000)  // "1, " × 30000 > 65535 bytes
      let writer = try NPYWriter(url: url, dtype: .int64, rowShape: rowShape)
      try writer.append(int64: [5, 6])
      try writer.finalize()
      let array = try NPYArray(contentsOf: url)
      #expect(array.version == .v2_0 && array.shape == [2] + rowShape)
      #expect(try array.readInt64() == [5, 6])
    }
  }

  @Test func invalidAppendsAreRejectedWithoutWriting() throws {
    try withNPYDirectory { dir in
      let url = dir.appendingPathComponent("check.npy")
      let floats = try NPYWriter(url: url, dtype: .float32, rowShape: [4])
      expectNPYError(.shapeMismatch, naming: url, containing: "rows of 4") {
        try [Float](repeating: 0, count: 6).withUnsafeBufferPointer { try floats.append(floats: $0) }
      }
      expectNPYError(.unsupported, naming: url) { try floats.append(int64: [1, 2, 3, 4]) }
      #expect(floats.rowCount == 0)
      floats.abandon()

      let i4 = try NPYWriter(url: url, dtype: .int32, rowShape: [])
      expectNPYError(.invalidArgument, naming: url, containing: "<i4") { try i4.append(int64: [1, Int64(Int32.max) + 1]) }
      let u8 = try NPYWriter(url: url, dtype: .uint64, rowShape: [])
      expectNPYError(.invalidArgument, naming: url, containing: "<u8") { try u8.append(int64: [-1]) }
      try u8.append(int64: [3])
      try u8.finalize()
      #expect(try NPYArray(contentsOf: url).readInt64() == [3])

      expectNPYError(.shapeMismatch, naming: url) { try NPYWriter.write([1, 2, 3], shape: [2, 2], to: url) }
      expectNPYError(.unsupported, naming: url) { try NPYWriter.write([1], shape: [1], to: url, dtype: .int64) }
      expectNPYError(.invalidArgument, naming: url) { _ = try NPYWriter(url: url, dtype: .int64, rowShape: [-1]) }
    }
  }

  @Test func missingDirectoryIsAnIOErrorNamingIt() throws {
    try withNPYDirectory { dir in
      let missing = dir.appendingPathComponent("no-such-dir")
      let url = missing.appendingPathComponent("x.npy")
      expectNPYError(.io, naming: missing, containing: "no-such-dir") {
        _ = try NPYWriter(url: url, dtype: .float32, rowShape: [])
      }
    }
  }
}
