import Testing
@testable import Winnow

/// Status names live in one list, `WinnowError.Code.names`, which the C
/// ABI's `wn_status_string` also reads.
@Suite struct WinnowErrorTests {
  @Test func everyNamedCodeIsDescribedByItsNameAndOthersByTheirNumber() {
    #expect(WinnowError.Code.names.count == 12)
    for (code, name) in WinnowError.Code.names { #expect(code.description == name) }
    #expect(WinnowError.Code.invalidArgument.description == "invalid argument")
    #expect(WinnowError.Code.internal.description == "internal error")
    #expect(WinnowError.Code(rawValue: -50).description == "error -50")
  }
}
