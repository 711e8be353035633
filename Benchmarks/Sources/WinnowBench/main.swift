import Foundation
import Winnow

let env = ProcessInfo.processInfo.environment
print("openblas core: \(Runtime.blasCoreName), threads: \(Runtime.blasThreads), "
  + "OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)")")
let report = Report()
try benchDenseProjection(report, n: 256, d: 65536, k: 8192, tag: "")
