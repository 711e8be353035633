import Foundation
import Winnow

// WinnowBench: every figure of Benchmarks/README.md that Swift measures, in
// one run. Python peers (Benchmarks/peers) and the merge into results.json
// are driven by Benchmarks/run.py.
let options: Options
do { options = try Options(Array(CommandLine.arguments.dropFirst())) } catch {
  FileHandle.standardError.write(Data("WinnowBench: \(error)\n".utf8))
  exit(2)
}
let env = ProcessInfo.processInfo.environment
let facts = blasFacts()
print("openblas core: \(facts.core), threads: \(facts.threads), "
  + "OPENBLAS_CORETYPE=\(env["OPENBLAS_CORETYPE"] ?? "(unset)")\(options.smoke ? ", smoke sizes" : "")")
let report = Report()
let areas: [(String, (Report, Options) throws -> Void)] = [
  ("projection", benchProjection),
  ("factored", benchFactored),
  ("scoring", benchScoring),
  ("selection", benchSelection),
  ("engine", benchEngine),
  ("disk", benchDisk),
  ("disk", benchStore),
  ("diversity", benchDiversity),
  ("sjlt", benchSparse),
  ("kfac", benchCurvature),
]
var failures = 0
for (area, bench) in areas where options.runs(area) {
  // One failing figure must not cost the others: report it and go on.
  do {
    let t = try wallTime { try bench(report, options) }
    print(String(format: "-- %@ done in %.1f s", area, t))
  } catch {
    failures += 1
    FileHandle.standardError.write(Data("WinnowBench: \(area) failed: \(error)\n".utf8))
  }
}
if let output = options.output {
  try report.write(to: output)
  let environment = ["core": facts.core, "threads": String(facts.threads)]
  try JSONEncoder().encode(environment).write(to: URL(fileURLWithPath: output + ".env.json"))
}
if failures > 0 { exit(1) }
