import CFuzzerDriver
import Glibc
@testable import Winnow

/// One libFuzzer input: the bytes of a whole `.npy` file. The parser must
/// return a header or throw a `WinnowError`; anything else (a trap, a read
/// outside `data`, a header that disagrees with the bytes) is a finding.
func fuzzNPYHeader(_ data: UnsafePointer<UInt8>?, _ size: Int) -> Int32 {
  let bytes = UnsafeRawBufferPointer(start: data, count: data == nil ? 0 : size)
  do {
    let header = try NPYHeader.parse(bytes, path: "fuzz.npy")
    // What a successful parse promises: the data lies exactly after the
    // header, its size is the shape's, and the offset is inside the file.
    precondition(header.dataOffset >= 10 && header.dataOffset <= bytes.count)
    precondition(header.dataOffset + header.dataByteCount == bytes.count)
    precondition(header.count == header.shape.reduce(1, *))
    precondition(header.dataByteCount == header.count * header.dtype.itemSize)
  } catch is WinnowError {
    // A clear error is the expected answer to a bad file.
  } catch {
    preconditionFailure("NPYHeader.parse threw a non-Winnow error: \(error)")
  }
  return 0
}

// libFuzzer runs the callback over its inputs and exits with its status.
var argc = CommandLine.argc
var argv: UnsafeMutablePointer<UnsafeMutablePointer<CChar>?>? = CommandLine.unsafeArgv
exit(LLVMFuzzerRunDriver(&argc, &argv) { data, size in fuzzNPYHeader(data, size) })
