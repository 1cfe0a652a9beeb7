import Testing
import SpoolFormat
#if canImport(Glibc)
import Glibc
#endif
import EngineTestSupport
import TestSupport
@testable import Spool

/// Segment files follow a stream's live data (`StreamCore.segmentTarget`): a capped stream
/// rolls small segments and its disk stays near what it holds; a growing one gets larger files
/// as it grows, up to `segmentBytes`.
@Suite struct SegmentSizeTests {
    func segmentSizes(_ s: SpoolStream) -> [Int] {
        listDirectory(s.directory).filter { SegmentFormat.number(fromFileName: $0) != nil }.sorted()
            .map { fileSize(s.directory + "/" + $0) }
    }

    func options() -> StoreOptions {
        var o = storeOptions(.no)
        o.minSegmentBytes = 16 << 10
        o.segmentBytes = 1 << 20
        o.nodeMaxEntries = 20
        return o
    }

    @Test func aCappedStreamKeepsSmallSegments() throws {
        let dir = TemporaryDirectory("segment-capped")
        defer { dir.remove() }
        let store = try SpoolStore(directory: dir.path, options: options())
        defer { store.close() }
        let s = try store.database(0).openOrCreate(b("capped"))
        var largestDisk = 0
        for i in 0..<40_000 {
            _ = try s.append(orderEvent(i), trim: TrimSpec(.maxLen(1000), approximate: true))
            if i % 1000 == 999 { largestDisk = max(largestDisk, segmentSizes(s).reduce(0, +)) }
        }
        let live = try s.info().diskBytes
        let sizes = segmentSizes(s)
        // 1,000 order events are about 25 KiB of compressed blocks: segments stay at the
        // smallest size or the next, and a few of them hold everything.
        #expect(sizes.allSatisfy { $0 <= 2 * (32 << 10) }, "\(sizes)")
        #expect(largestDisk <= 3 * (32 << 10), "disk \(largestDisk) bytes for \(live) bytes live")
        #expect(try s.range().count >= 1000)
    }

    @Test func aGrowingStreamGetsLargerSegments() throws {
        let dir = TemporaryDirectory("segment-growing")
        defer { dir.remove() }
        let store = try SpoolStore(directory: dir.path, options: options())
        defer { store.close() }
        let s = try store.database(0).openOrCreate(b("growing"))
        for i in 0..<60_000 { _ = try s.append(orderEvent(i)) }
        let sizes = segmentSizes(s).dropLast()  // the active one is still filling
        #expect(sizes.first! < 32 << 10, "\(sizes)")
        #expect(sizes.last! > 4 * sizes.first!, "later segments are larger: \(sizes)")
        #expect(sizes.allSatisfy { $0 <= (1 << 20) + (64 << 10) }, "none beyond segmentBytes (and its last block): \(sizes)")
        #expect(zip(sizes, sizes.dropFirst()).allSatisfy { $0 <= $1 + (8 << 10) }, "sizes do not shrink while nothing is trimmed: \(sizes)")
        #expect(try s.range().count == 60_000)
    }

    /// Descriptors of this process open on files under `path`.
    func descriptors(under path: String) -> Int {
        listDirectory("/proc/self/fd").filter { fd in
            var buf = [CChar](repeating: 0, count: 4096)
            let n = readlink("/proc/self/fd/" + fd, &buf, buf.count - 1)
            return n > 0 && String(decoding: buf[0..<n].map { UInt8(bitPattern: $0) }, as: UTF8.self).hasPrefix(path)
        }.count
    }

    /// A stream's first segment file comes with its first sealed block: short streams have
    /// none and hold no descriptor, and open finds them as they were.
    @Test func shortStreamsHaveNoSegmentFile() throws {
        let dir = TemporaryDirectory("short-streams")
        defer { dir.remove() }
        var store: SpoolStore? = try SpoolStore(directory: dir.path, options: storeOptions(.no))
        for i in 0..<200 { try store!.database(0).append(b("feed:\(i)"), orderEvent(i)) }
        #expect(descriptors(under: dir.path) < 10, "no descriptor per short stream")
        let streamDirs = listDirectory(dir.path + "/db0").map { dir.path + "/db0/" + $0 }
        #expect(streamDirs.count == 200 && streamDirs.allSatisfy { !listDirectory($0).contains { $0.hasSuffix(".seg") } })
        store!.close()
        store = nil
        store = try SpoolStore(directory: dir.path, options: storeOptions(.no))
        for i in 0..<200 { #expect(try store!.database(0).stream(b("feed:\(i)"))!.range().count == 1) }
        let s = store!.database(0).stream(b("feed:0"))!
        for i in 0..<300 { _ = try s.append(orderEvent(i)) }
        #expect(listDirectory(s.directory).contains { $0.hasSuffix(".seg") }, "a sealed block creates the file")
        #expect(try s.range().count == 301)
        store!.close()
    }
}
