import Testing
@testable import Winnow

@Suite struct RuntimeTests {
  @Test func reportsOpenBLASCoreAndThreads() {
    #expect(!Runtime.blasCoreName.isEmpty)
    #expect(Runtime.blasThreads >= 1)
  }

  @Test func blasRejectsDimensionsBeyondInt32() {
    #expect(throws: WinnowError.self) { _ = try BLAS.int(Int(Int32.max) + 1, "n") }
    #expect(throws: WinnowError.self) { _ = try BLAS.int(-1, "n") }
  }

  @Test func sgemmMatchesHandComputedProduct() throws {
    // [1 2; 3 4] · [5 6; 7 8] = [19 22; 43 50]
    let a: [Float] = [1, 2, 3, 4], b: [Float] = [5, 6, 7, 8]
    var c = [Float](repeating: 0, count: 4)
    try BLAS.sgemm(.none, .none, m: 2, n: 2, k: 2, alpha: 1, a: a, lda: 2, b: b, ldb: 2,
                   beta: 0, c: &c, ldc: 2)
    #expect(c == [19, 22, 43, 50])
  }
}
