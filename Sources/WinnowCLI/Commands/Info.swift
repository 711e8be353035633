import ArgumentParser
import Foundation
import Winnow

/// `winnow info`: versions and the BLAS configuration in use.
struct Info: ParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Print the Winnow version and the OpenBLAS kernels and threads in use."
  )

  func run() throws {
    let env = ProcessInfo.processInfo.environment
    print("winnow \(Runtime.version)")
    print("openblas core: \(Runtime.blasCoreName)")
    print("openblas threads: \(Runtime.blasThreads)")
    print("OPENBLAS_CORETYPE: \(env["OPENBLAS_CORETYPE"] ?? "(unset)")")
  }
}
