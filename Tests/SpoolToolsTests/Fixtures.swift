#if canImport(Glibc)
import Glibc
#endif
import Spool
import SpoolFormat
import SpoolTools
import EngineTestSupport
import TestSupport

/// Options that make many small blocks and segments, so a few hundred entries seal segments.
func smallOptions(segmentBytes: Int = 4096) -> StoreOptions {
    var o = storeOptions(.no, databases: 2)
    o.nodeMaxEntries = 10
    o.segmentBytes = segmentBytes
    return o
}

/// The fields of entry `i`.
func fields(_ i: Int) -> [[UInt8]] { orderEvent(i) }

/// The ID of entry `i` in fixtures.
func fixtureID(_ i: Int) -> StreamID { StreamID(1_700_000_000_000 + UInt64(i), UInt64(i % 3)) }

/// Creates stream `name` in db0 of `dir` with `count` entries; checkpoints when asked; closes the
/// store (releasing the directory lock) before returning.
func makeStore(_ dir: String, name: String = "orders", count: Int, checkpoint: Bool = true,
               options: StoreOptions = smallOptions(), extra: (SpoolStream) throws -> Void = { _ in }) throws {
    let store = try SpoolStore(directory: dir, options: options)
    let s = try store.database(0).openOrCreate(b(name))
    for i in 0..<count { try s.append(fields(i), id: .explicit(fixtureID(i)), sync: false) }
    try extra(s)
    if checkpoint { try s.checkpoint() }
    store.close()
}

/// Opens the store with the engine and returns the stream's entries (the store is closed again).
func engineEntries(_ dir: String, name: String = "orders") throws -> [StreamEntry] {
    let store = try SpoolStore(directory: dir, options: smallOptions())
    defer { store.close() }
    guard let s = store.database(0).stream(b(name)) else { return [] }
    return try s.range()
}

/// The only stream directory of db0.
func streamDirectory(_ dir: String) -> String {
    let names = listDirectory(dir + "/db0").filter { $0.hasPrefix("s") }
    precondition(names.count == 1, "expected one stream directory, found \(names)")
    return dir + "/db0/" + names[0]
}

/// Segment file names of a stream directory, ascending.
func segmentFiles(_ streamDir: String) -> [String] { listDirectory(streamDir).filter { $0.hasSuffix(".seg") } }

/// Block frame offsets of a segment file, found independently of the tools: frames start at 32
/// and each is 72 bytes of header plus the stored length at header offset 48.
func frameOffsets(_ path: String) -> [Int] {
    let bytes = readAll(path)
    var end = bytes.count
    if bytes.count >= 64, Array(bytes[(bytes.count - 8)...]) == Array("SPOOLEND".utf8) {
        end = Int(le64(bytes, bytes.count - 32))
    }
    var out: [Int] = []
    var off = 32
    while off + 72 <= end, Array(bytes[off..<(off + 4)]) == Array("SBLK".utf8) {
        let stored = Int(le32(bytes, off + 48))
        guard off + 72 + stored <= end else { break }
        out.append(off)
        off += 72 + stored
    }
    return out
}

/// Offset where the footer starts in a sealed segment, from its trailer.
func footerOffset(_ path: String) -> Int? {
    let bytes = readAll(path)
    guard bytes.count >= 64, Array(bytes[(bytes.count - 8)...]) == Array("SPOOLEND".utf8) else { return nil }
    return Int(le64(bytes, bytes.count - 32))
}

func le32(_ b: [UInt8], _ o: Int) -> UInt32 { (0..<4).reduce(0) { $0 | UInt32(b[o + $1]) << (8 * $1) } }
func le64(_ b: [UInt8], _ o: Int) -> UInt64 { (0..<8).reduce(0) { $0 | UInt64(b[o + $1]) << (8 * $1) } }


func writeAll(_ path: String, _ bytes: [UInt8]) {
    let fd = open(path, O_WRONLY | O_CREAT | O_TRUNC, 0o644)
    precondition(fd >= 0)
    defer { close(fd) }
    _ = bytes.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
}


/// Runs fsck; `repair` as asked; never draws a progress bar.
func fsck(_ dir: String, repair: Bool = false) -> FsckReport {
    Fsck.run(directory: dir, options: FsckOptions(repair: repair, progress: false))
}

/// The problems (not notes) of a report.
func problems(_ r: FsckReport) -> [FsckProblem] { r.problems.filter { $0.severity == .problem } }
