import Testing
@testable import Winnow

@Suite struct MatrixTests {
  @Test func storageOfTheWrongSizeIsRefused() {
    #expect(throws: WinnowError.self) { try Matrix(rows: 2, cols: 3, storage: [1, 2, 3, 4, 5]) }
    #expect(throws: WinnowError.self) { try Matrix(rows: -1, cols: -3, storage: [1, 2, 3]) }
    #expect(throws: Never.self) { try Matrix(rows: 0, cols: 4, storage: []) }
  }

  @Test func inPlaceWritesKeepTheShapeAndTheInvariants() throws {
    var m = try Matrix(rows: 2, cols: 3, storage: [1, 2, 3, 4, 5, 6])
    m.withUnsafeMutableBufferPointer { p in
      for i in p.indices { p[i] *= 10 }
    }
    m[1, 2] = -1
    #expect((m.rows, m.cols) == (2, 3))
    #expect(m.storage == [10, 20, 30, 40, 50, -1])
    #expect(m.row(1) == [40, 50, -1])
    m._checkInvariants()
  }

  @Test func aCopyIsNotChangedByWritesToTheOriginal() throws {
    var m = try Matrix(rows: 1, cols: 2, storage: [1, 2])
    let copy = m
    m.withUnsafeMutableBufferPointer { $0[0] = 7 }
    #expect(copy.storage == [1, 2])
    #expect(m.storage == [7, 2])
  }
}
