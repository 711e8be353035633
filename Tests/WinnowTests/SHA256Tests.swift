import Foundation
import Testing

@testable import Winnow

@Suite struct SHA256Tests {
  @Test func libcryptoMatchesTheFIPSTestVectors() throws {
    #expect(try SHA256.hex([]) == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(try SHA256.hex(Array("abc".utf8)) == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
      try SHA256.hex(Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      try SHA256.hex([UInt8](repeating: UInt8(ascii: "a"), count: 1_000_000))
        == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  @Test func incrementalUpdatesEqualOneShotAndAHashFinishesOnce() throws {
    let bytes = (0..<1000).map { UInt8(truncatingIfNeeded: $0 &* 31) }
    let hash = try SHA256()
    var at = 0
    for size in [1, 63, 64, 65, 7, 300, 500] {
      bytes[at..<(at + size)].withUnsafeBytes { hash.update($0) }
      at += size
    }
    #expect(try hash.finalizeHex() == SHA256.hex(bytes))
    #expect(throws: WinnowError.self) { _ = try hash.finalizeHex() }
  }

  @Test func aFileHashesLikeItsBytesAndAMissingFileIsNamed() throws {
    let url = FileManager.default.temporaryDirectory.appendingPathComponent("winnow-sha-\(UUID().uuidString)")
    defer { try? FileManager.default.removeItem(at: url) }
    let bytes = (0..<(3 << 20) + 17).map { UInt8(truncatingIfNeeded: $0 &* 7 &+ $0 >> 9) }
    try Data(bytes).write(to: url)
    #expect(try Checksum.sha256(ofFile: url.path) == SHA256.hex(bytes))
    #expect {
      _ = try Checksum.sha256(ofFile: url.path + ".missing")
    } throws: { ($0 as? WinnowError)?.message.contains(".missing") == true }
  }

  @Test func aFileThatCannotBeReadIsNamedWithTheSystemsText() throws {
    let missing = NSTemporaryDirectory() + "winnow-sha-\(UUID().uuidString).missing"
    #expect {
      _ = try Checksum.sha256(ofFile: missing)
    } throws: {
      let message = ($0 as? WinnowError)?.message ?? ""
      return message.contains(missing) && message.contains("No such file or directory")
        && !message.contains("errno")
    }
    // A directory is refused before any read, like a FIFO or a device.
    let folder = NSTemporaryDirectory()
    #expect {
      _ = try Checksum.sha256(ofFile: folder)
    } throws: {
      let message = ($0 as? WinnowError)?.message ?? ""
      return message.contains(folder) && message.contains("not a regular file (a directory)")
    }
  }
}
