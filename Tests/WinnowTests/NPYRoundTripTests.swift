import Foundation
import Testing
@testable import Winnow

@Suite struct NPYRoundTripTests {
  /// Shapes covering 1-D, 2-D, 3-D and empty arrays (a zero in any axis).
  static let shapes: [[Int]] = [[5], [3, 4], [2, 3, 2], [0], [0, 4], [3, 0]]

  /// Values exact in every dtype, including half precision.
  static func floats(_ n: Int) -> [Float] { (0..<n).map { Float($0) * 0.25 - 3 } }

  static func ints(_ n: Int, dtype: NPYDType) -> [Int64] {
    let extremes: [Int64] =
      switch dtype {
      case .int32: [Int64(Int32.min), Int64(Int32.max)]
      case .uint64: [0, Int64.max]
      default: [Int64.min, Int64.max]
      }
    return (0..<n).map { i in
      i < extremes.count ? extremes[i] : (dtype == .uint64 ? Int64(i) * 7 : Int64(i) * 7 - 11)
    }
  }

  @Test(arguments: NPYDType.allCases, NPYFormatVersion.allCases)
  func writerOutputReadsBackExactlyForEveryDTypeAndVersion(dtype: NPYDType, version: NPYFormatVersion) throws {
    try withNPYDirectory { dir in
      for (index, shape) in Self.shapes.enumerated() {
        let url = dir.appendingPathComponent("a\(index).npy")
        let count = shape.reduce(1, *)
        let writer = try NPYWriter(url: url, dtype: dtype, rowShape: Array(shape.dropFirst()), version: version)
        if dtype.isFloat {
          try Self.floats(count).withUnsafeBufferPointer { try writer.append(floats: $0) }
        } else {
          try writer.append(int64: Self.ints(count, dtype: dtype))
        }
        if count == 0 { try writer.appendEmptyRows(shape[0] - writer.rowCount) }
        #expect(writer.rowCount == shape[0])
        try writer.finalize()

        let array = try NPYArray(contentsOf: url)
        #expect(array.dtype == dtype)
        #expect(array.shape == shape)
        #expect(array.version == version)
        #expect(array.count == count)
        #expect(array.rowCount == shape[0])
        #expect(array.rowLength == shape.dropFirst().reduce(1, *))
        if dtype.isFloat {
          #expect(try array.readFloats() == Self.floats(count))
        } else {
          #expect(try array.readInt64() == Self.ints(count, dtype: dtype))
        }
      }
    }
  }

  @Test(arguments: [NPYDType.float32, .float16])
  func convenienceWriteRoundTripsFloatArraysIncludingZeroD(dtype: NPYDType) throws {
    try withNPYDirectory { dir in
      for (index, shape) in (Self.shapes + [[]]).enumerated() {
        let url = dir.appendingPathComponent("f\(index).npy")
        let values = Self.floats(shape.reduce(1, *))
        try NPYWriter.write(values, shape: shape, to: url, dtype: dtype)
        let array = try NPYArray(contentsOf: url)
        #expect(array.shape == shape)
        #expect(try array.readFloats() == values)
      }
      let scalar = try NPYArray(contentsOf: dir.appendingPathComponent("f\(Self.shapes.count).npy"))
      #expect(scalar.rowCount == 1 && scalar.rowLength == 1 && scalar.count == 1)
    }
  }

  @Test func convenienceWriteRoundTripsInt64Ids() throws {
    try withNPYDirectory { dir in
      let url = dir.appendingPathComponent("ids.npy")
      let ids: [Int64] = [9, -1, Int64.max, 0, Int64.min]
      try NPYWriter.write(ids, to: url)
      let array = try NPYArray(contentsOf: url)
      #expect(array.dtype == .int64 && array.shape == [5])
      #expect(try array.readInt64() == ids)
      #expect(try array.readInt64(1..<3) == [-1, Int64.max])
      #expect(try array.readInt64(5..<5) == [])
    }
  }

  @Test func readFloatRowsCopiesTheRequestedRowsOnly() throws {
    try withNPYDirectory { dir in
      for dtype in [NPYDType.float32, .float16] {
        let url = dir.appendingPathComponent("\(dtype).npy")
        let values = Self.floats(6 * 3)
        try NPYWriter.write(values, shape: [6, 3], to: url, dtype: dtype)
        let array = try NPYArray(contentsOf: url)
        var out = [Float](repeating: .nan, count: 7)
        try out.withUnsafeMutableBufferPointer { buffer in
          let base = try #require(buffer.baseAddress)
          try array.readFloatRows(2..<4, into: base)
        }
        #expect(Array(out[0..<6]) == Array(values[6..<12]))
        #expect(out[6].isNaN, "wrote past the requested rows")
      }
    }
  }

  @Test func floatRowsPointerIsAZeroCopyViewOfFloat32Only() throws {
    try withNPYDirectory { dir in
      let url = dir.appendingPathComponent("f4.npy")
      let values = Self.floats(8 * 2)
      try NPYWriter.write(values, shape: [8, 2], to: url)
      let array = try NPYArray(contentsOf: url)
      let view = try #require(array.floatRowsPointer(3..<5))
      #expect(Array(view) == Array(values[6..<10]))
      #expect(array.floatRowsPointer(0..<0)?.count == 0)
      #expect(array.floatRowsPointer(7..<9) == nil)

      let half = dir.appendingPathComponent("f2.npy")
      try NPYWriter.write(values, shape: [8, 2], to: half, dtype: .float16)
      #expect(try NPYArray(contentsOf: half).floatRowsPointer(0..<1) == nil)
    }
  }

  @Test func releasePagesKeepsEveryRowReadable() throws {
    try withNPYDirectory { dir in
      let url = dir.appendingPathComponent("big.npy")
      let rows = 2048, k = 256  // 2 MiB: spans many pages
      let values = (0..<rows * k).map { Float($0 % 9973) }
      try NPYWriter.write(values, shape: [rows, k], to: url)
      let array = try NPYArray(contentsOf: url)
      #expect(try array.readFloats() == values)
      array.releasePages(rows: 0..<1000)
      array.releasePages(rows: 1000..<1001)  // smaller than a page: no-op
      array.releasePages(rows: -5..<(rows + 10))  // clamped
      #expect(try array.readFloats() == values)
      #expect(Array(try #require(array.floatRowsPointer(1500..<1501))) == Array(values[1500 * k..<1501 * k]))
    }
  }

  @Test func readerAcceptsHandWrittenHeaderVariants() throws {
    try withNPYDirectory { dir in
      let data = npyFloatBytes([1, 2, 3, 4, 5, 6])
      let variants: [(String, [Int])] = [
        ("{\"descr\": \"<f4\", \"fortran_order\": False, \"shape\": (2, 3)}", [2, 3]),
        ("{ 'shape' : ( 2 , 3 , ) ,\t'fortran_order':False,'descr':'<f4' , }   \n", [2, 3]),
        ("{'descr': '=f4', 'fortran_order': False, 'shape': (6L,), }\n", [6]),
        ("{'descr': '<f4', 'fortran_order': False, 'shape': (1, 6, 1), }\n", [1, 6, 1]),
      ]
      for (index, (header, shape)) in variants.enumerated() {
        let url = try npyWriteFile(npyBytes(header: header, data: data), named: "v\(index).npy", in: dir)
        let array = try NPYArray(contentsOf: url)
        #expect(array.shape == shape, "\(header)")
        #expect(try array.readFloats() == [1, 2, 3, 4, 5, 6])
      }
      let scalar = try npyWriteFile(
        npyBytes(header: "{'descr': '<f4', 'fortran_order': False, 'shape': ()}", major: 3, data: npyFloatBytes([7])),
        named: "scalar.npy", in: dir)
      let array = try NPYArray(contentsOf: scalar)
      #expect(array.shape == [] && array.rowCount == 1 && array.rowLength == 1)
      #expect(try array.readFloats() == [7])
    }
  }

  @Test func misalignedHalfDataStillConverts() throws {
    try withNPYDirectory { dir in
      // Header length chosen so the data starts at an odd offset.
      var header = "{'descr': '<f2', 'fortran_order': False, 'shape': (3,)}"
      if (10 + header.utf8.count) % 2 == 0 { header += " " }
      let halves: [UInt16] = [0x3C00, 0xC000, 0x3555]  // 1, -2, 0.333251953125
      let data = halves.flatMap { h in withUnsafeBytes(of: h.littleEndian) { Array($0) } }
      let url = try npyWriteFile(npyBytes(header: header, data: data), named: "odd.npy", in: dir)
      #expect(try NPYArray(contentsOf: url).readFloats() == [1, -2, 0.333251953125])
    }
  }
}
