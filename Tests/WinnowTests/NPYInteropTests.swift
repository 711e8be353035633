import Foundation
import Testing
@testable import Winnow

/// Files cross between Winnow and NumPy in both directions with exact values.
///
/// One Python process per test keeps the suite fast (NumPy's import dominates).
@Suite struct NPYInteropTests {
  static let dtypes: [(NPYDType, String)] = [
    (.float32, "float32"), (.float16, "float16"), (.int64, "int64"), (.uint64, "uint64"), (.int32, "int32"),
  ]

  /// The values NumPy writes, mirrored exactly in `expected`.
  static let writerScript = """
    import sys, numpy as np
    from numpy.lib import format as fmt
    out = sys.argv[1]
    def values(dt):
        if dt.kind == 'f':
            return (np.arange(12, dtype=np.float64) * 0.375 - 2).astype(dt).reshape(3, 4)
        if dt == np.uint64:
            return np.array([0, 1, 2**63 - 1, 5, 6, 7], dtype=dt).reshape(3, 2)
        info = np.iinfo(dt)
        return np.array([info.min, -1, 0, 1, info.max, 42], dtype=dt).reshape(3, 2)
    for name in ['float32', 'float16', 'int64', 'uint64', 'int32']:
        a = values(np.dtype(name))
        np.save(f'{out}/{name}.npy', a)
        np.save(f'{out}/{name}-1d.npy', a.ravel())
        np.save(f'{out}/{name}-empty.npy', a[:0])
        for v in [(2, 0), (3, 0)]:
            with open(f'{out}/{name}-v{v[0]}.npy', 'wb') as f:
                fmt.write_array(f, a, version=v)
    np.save(f'{out}/scalar.npy', np.float32(2.5))
    np.save(f'{out}/sliced.npy', np.arange(20, dtype=np.float32).reshape(4, 5)[:, 1:3])
    """

  static func expectedFloats(_ dtype: NPYDType) -> [Float] {
    (0..<12).map { Float(Double($0) * 0.375 - 2) }
  }

  static func expectedInts(_ dtype: NPYDType) -> [Int64] {
    switch dtype {
    case .uint64: [0, 1, Int64.max, 5, 6, 7]
    case .int32: [Int64(Int32.min), -1, 0, 1, Int64(Int32.max), 42]
    default: [Int64.min, -1, 0, 1, Int64.max, 42]
    }
  }

  @Test func numpyFilesOfEveryDTypeAndVersionReadExactly() throws {
    try withNPYDirectory { dir in
      let run = try runPython(Self.writerScript, [dir.path])
      try #require(run.status == 0, "python failed: \(run.stderr)")
      for (dtype, name) in Self.dtypes {
        let rowShape = dtype.isFloat ? [4] : [2]
        for (suffix, version) in [("", NPYFormatVersion.v1_0), ("-v2", .v2_0), ("-v3", .v3_0)] {
          let array = try NPYArray(contentsOf: dir.appendingPathComponent("\(name)\(suffix).npy"))
          #expect(array.dtype == dtype && array.version == version)
          #expect(array.shape == [3] + rowShape)
          if dtype.isFloat {
            #expect(try array.readFloats() == Self.expectedFloats(dtype))
          } else {
            #expect(try array.readInt64() == Self.expectedInts(dtype))
          }
        }
        let flat = try NPYArray(contentsOf: dir.appendingPathComponent("\(name)-1d.npy"))
        #expect(flat.shape == [dtype.isFloat ? 12 : 6] && flat.rowLength == 1)
        let empty = try NPYArray(contentsOf: dir.appendingPathComponent("\(name)-empty.npy"))
        #expect(empty.shape == [0] + rowShape && empty.count == 0)
        #expect(try dtype.isFloat ? empty.readFloats().isEmpty : empty.readInt64().isEmpty)
      }
      let scalar = try NPYArray(contentsOf: dir.appendingPathComponent("scalar.npy"))
      #expect(scalar.shape == [])
      #expect(try scalar.readFloats() == [2.5])
      // np.save makes non-contiguous slices C-ordered.
      let sliced = try NPYArray(contentsOf: dir.appendingPathComponent("sliced.npy"))
      #expect(try sliced.readFloats() == [1, 2, 6, 7, 11, 12, 16, 17])
    }
  }

  @Test func numpyReadsWhatTheWriterWrites() throws {
    try withNPYDirectory { dir in
      for (dtype, name) in Self.dtypes {
        for version in NPYFormatVersion.allCases {
          let url = dir.appendingPathComponent("\(name)-v\(version.rawValue).npy")
          let writer = try NPYWriter(url: url, dtype: dtype, rowShape: [2], version: version)
          if dtype.isFloat {
            // Two appends: the header must count both.
            let values = (0..<6).map { Float($0) / 3 }
            try values.withUnsafeBufferPointer { try writer.append(floats: $0) }
            try values.withUnsafeBufferPointer { try writer.append(floats: $0) }
          } else {
            try writer.append(int64: Self.expectedInts(dtype))
            try writer.append(int64: Self.expectedInts(dtype))
          }
          try writer.finalize()
        }
      }
      try NPYWriter.write([Float](repeating: 0, count: 0), shape: [0, 3], to: dir.appendingPathComponent("empty.npy"))
      try NPYWriter.write([-1.5], shape: [], to: dir.appendingPathComponent("scalar.npy"))
      let check = """
        import sys, numpy as np
        out = sys.argv[1]
        for name in ['float32', 'float16', 'int64', 'uint64', 'int32']:
            dt = np.dtype(name)
            if dt.kind == 'f':
                want = (np.arange(6, dtype=np.float32) / np.float32(3)).astype(dt)
            elif dt == np.uint64:
                want = np.array([0, 1, 2**63 - 1, 5, 6, 7], dtype=dt)
            else:
                info = np.iinfo(dt)
                want = np.array([info.min, -1, 0, 1, info.max, 42], dtype=dt)
            want = np.concatenate([want, want]).reshape(6, 2)
            for v in (1, 2, 3):
                a = np.load(f'{out}/{name}-v{v}.npy', mmap_mode='r')
                assert a.dtype == dt and a.shape == (6, 2), (name, v, a.dtype, a.shape)
                assert np.array_equal(a, want), (name, v, a, want)
                with open(f'{out}/{name}-v{v}.npy', 'rb') as f:
                    assert np.lib.format.read_magic(f) == (v, 0)
        e = np.load(f'{out}/empty.npy')
        assert e.shape == (0, 3) and e.dtype == np.float32
        s = np.load(f'{out}/scalar.npy')
        assert s.shape == () and s == -1.5
        """
      let run = try runPython(check, [dir.path])
      #expect(run.status == 0, "numpy rejected our files: \(run.stderr)")
    }
  }
}
