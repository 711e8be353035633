// swift-tools-version: 6.1
//
// Winnow: training-time data selection on OpenBLAS/LAPACKE.
// The tree shows the architecture: the public Swift library `Winnow`, the
// command line tool `winnow` and the C ABI are thin layers over it; the C
// targets below are implementation details that never leak into the API.
import PackageDescription

let package = Package(
  name: "Winnow",
  products: [
    .library(name: "Winnow", targets: ["Winnow"]),
    .executable(name: "winnow", targets: ["WinnowCLI"]),
    // The C ABI. SwiftPM names the file libWinnowC.so (product names must
    // differ from the `winnow` executable's); its SONAME is libwinnow.so and
    // `make lib` installs it under that name (see the Makefile).
    .library(name: "WinnowC", type: .dynamic, targets: ["WinnowC"]),
  ],
  dependencies: [
    .package(url: "https://github.com/apple/swift-argument-parser", from: "1.5.0")
  ],
  targets: [
    // MARK: - Public API
    .target(
      name: "Winnow",
      dependencies: ["COpenBLAS", "CCrypto", "CXXHash", "CWinnowKernels"]
    ),
    // The C ABI: Swift `@c @implementation` functions type-checked against
    // the hand-written header in Sources/WinnowC/include/winnow.h.
    .target(
      name: "WinnowC",
      dependencies: ["Winnow", "CWinnowABI"],
      exclude: ["include", "exports.map"],
      linkerSettings: [
        .unsafeFlags([
          "-Xlinker", "-soname=libwinnow.so",
          "-Xlinker", "--version-script=\(Context.packageDirectory)/Sources/WinnowC/exports.map",
        ])
      ]
    ),
    .executableTarget(
      name: "WinnowCLI",
      dependencies: [
        "Winnow",
        .product(name: "ArgumentParser", package: "swift-argument-parser"),
      ]
    ),

    // MARK: - Implementation details
    // The one door to the BLAS: cblas.h + lapacke.h from Debian's packages.
    .systemLibrary(
      name: "COpenBLAS",
      providers: [.apt(["libopenblas-dev", "liblapacke-dev"])]
    ),
    // The one door to libcrypto (OpenSSL 3): SHA-256 for manifest checksums.
    .systemLibrary(name: "CCrypto", providers: [.apt(["libssl-dev"])]),
    // xxHash (header only, inlined): XXH3-128 store checksums, verified at
    // the speed of a read (SHA-256 is kept beside it for audits and old stores).
    .systemLibrary(name: "CXXHash", providers: [.apt(["libxxhash-dev"])]),
    // winnow.h as a Clang module, so that WinnowC can implement it.
    .systemLibrary(name: "CWinnowABI", path: "Sources/WinnowC/include"),
    // Hot element-wise kernels (counter RNG panel fills, fp16 conversion),
    // compiled with per-function target attributes and a portable fallback.
    // Private (`wnk_` prefix): only Sources/Winnow/Kernels/Kernels.swift
    // imports it.
    .target(
      name: "CWinnowKernels",
      cSettings: [.unsafeFlags(["-O3", "-ffp-contract=off", "-fno-math-errno"])]
    ),

    // MARK: - Unit test bundles
    .testTarget(name: "WinnowTests", dependencies: ["Winnow"]),
    .testTarget(
      name: "WinnowCLITests",
      dependencies: ["Winnow"]
    ),
  ]
)
