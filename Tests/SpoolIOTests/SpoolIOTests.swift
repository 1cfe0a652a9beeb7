#if canImport(Glibc)
import Glibc
#endif
import SpoolIO
import SystemPackage
import Testing
import TestSupport

/// The I/O layer on its own: append files, mappings, LZ4, the directory lock, atomic writes,
/// and the fault seam the engine's error-path tests rely on.
@Suite struct SpoolIOTests {
    @Test func appendFileAppendsReadsTruncatesAndSyncs() throws {
        let dir = TemporaryDirectory("io-append")
        defer { dir.remove() }
        let path = dir.path + "/f"
        let f = try AppendFile(creating: path, truncate: true)
        #expect(try f.append([1, 2, 3]) == 3 && f.size == 3)
        #expect(try f.append([4, 5]) == 5)
        #expect(try f.read(at: 1, count: 3) == [2, 3, 4])
        #expect(try f.read(at: 3, count: 10) == [4, 5], "a read past the end returns what is there")
        #expect(!f.isSynced)
        try f.sync()
        #expect(f.isSynced)
        try f.truncate(to: 2)
        #expect(f.size == 2 && readAll(path) == [1, 2])
        try f.write([9, 9], at: 0)
        f.close()
        let again = try AppendFile(creating: path)
        #expect(again.size == 2 && readAll(path) == [9, 9], "reopened without truncating")
        again.close()
    }

    @Test func syncCoveringSyncsOnlyWhatIsNotYetSynced() throws {
        let dir = TemporaryDirectory("io-cover")
        defer { dir.remove() }
        let f = try AppendFile(creating: dir.path + "/j", truncate: true)
        defer { f.close() }
        let end = try f.append([UInt8](repeating: 7, count: 100))
        try f.syncCovering(end)
        #expect(f.isSynced)
        try f.syncCovering(end / 2)  // already covered: returns at once
        #expect(f.isSynced)
    }

    @Test func aMappingShowsTheFileAndAsksForNothingItCannotRead() throws {
        let dir = TemporaryDirectory("io-map")
        defer { dir.remove() }
        let bytes = (0..<10_000).map { UInt8(truncatingIfNeeded: $0 * 7) }
        try FileSystem.writeAtomically(dir.path + "/m", bytes)
        let m = try MappedFile(path: dir.path + "/m")
        #expect(m.count == bytes.count)
        m.adviseRandomAccess()
        m.willNeed(from: 9_000)
        m.willNeed(from: 20_000)  // past the end: no effect, no trap
        #expect(m.withBytes { Array($0) } == bytes)
    }

    @Test func lz4RoundTripsAndRefusesDamage() {
        var rng = SeededRNG(seed: 7)
        let text = (0..<4096).map { _ in UInt8(ascii: "a") + UInt8(rng.next() % 4) }
        guard let packed = LZ4.compress(text) else { Issue.record("four letters in 4 KiB compress"); return }
        #expect(packed.count < text.count)
        #expect(packed.withUnsafeBytes { LZ4.decompress($0, rawLength: text.count) } == text)
        #expect(packed.withUnsafeBytes { LZ4.decompress($0, rawLength: text.count - 1) } == nil, "the raw length is exact")
        let random = (0..<512).map { _ in UInt8(truncatingIfNeeded: rng.next()) }
        #expect(LZ4.compress(random) == nil, "nothing is stored compressed unless smaller")
        var damaged = packed
        for i in stride(from: 0, to: damaged.count, by: 3) { damaged[i] ^= 0xA5 }
        var out: [UInt8] = []
        _ = damaged.withUnsafeBytes { LZ4.decompress($0, rawLength: text.count, into: &out) }  // any answer, no trap
    }

    @Test func theDirectoryLockIsExclusiveUntilReleased() throws {
        let dir = TemporaryDirectory("io-lock")
        defer { dir.remove() }
        let file = dir.path + "/LOCK"
        #expect(!DirectoryLock.isHeld(file: file))
        let lock = try DirectoryLock(file: file)
        #expect(DirectoryLock.isHeld(file: file))
        #expect(throws: DirectoryLock.Busy.self) { _ = try DirectoryLock(file: file) }
        lock.release()
        #expect(!DirectoryLock.isHeld(file: file))
        let again = try DirectoryLock(file: file)
        again.release()
    }

    @Test func atomicWritesLeaveNoTemporaryAndListingsAreSorted() throws {
        let dir = TemporaryDirectory("io-fs")
        defer { dir.remove() }
        try FileSystem.writeAtomically(dir.path + "/b", [1])
        try FileSystem.writeAtomically(dir.path + "/a", [2])
        try FileSystem.writeAtomically(dir.path + "/a", [3, 4])
        #expect(try FileSystem.readFile(dir.path + "/a") == [3, 4])
        #expect(try FileSystem.list(dir.path).sorted() == ["a", "b"])
        try FileSystem.makeDirectory(dir.path + "/d/e")
        try FileSystem.writeAtomically(dir.path + "/d/e/f", [5])
        try FileSystem.removeTree(dir.path + "/d")
        #expect(!FileSystem.exists(dir.path + "/d"))
        #expect(throws: IOError.self) { _ = try FileSystem.readFile(dir.path + "/missing") }
    }

    @Test func anInjectedFaultFailsTheCallAndChangesNothing() throws {
        let dir = TemporaryDirectory("io-fault")
        defer { dir.remove() }
        let f = try AppendFile(creating: dir.path + "/j", truncate: true)
        defer { f.close() }
        _ = try f.append([1, 2, 3])
        FaultInjector.shared.set(under: dir.path) { call, _ in call == .pwrite ? .noSpace : nil }
        #expect(throws: IOError("pwrite", dir.path + "/j", .noSpace)) { _ = try f.append([4]) }
        FaultInjector.shared.set(under: dir.path, nil)
        #expect(f.size == 3 && readAll(dir.path + "/j") == [1, 2, 3])
        #expect(try f.append([4]) == 4)
    }

    /// Every storage call goes through the syscall seam: a fault injected into fstat, mmap,
    /// flock or opendir surfaces as that call's IOError, and nothing is left half done.
    @Test(arguments: [Syscall.fstat, .mmap, .flock, .opendir])
    func everyStorageCallCanFail(_ call: Syscall) throws {
        let dir = TemporaryDirectory("io-seam")
        defer { dir.remove() }
        try FileSystem.writeAtomically(dir.path + "/m", [1, 2, 3])
        FaultInjector.shared.set(under: dir.path) { c, _ in c == call ? .ioError : nil }
        defer { FaultInjector.shared.set(under: dir.path, nil) }
        func failure(_ body: () throws -> Void) -> IOError? {
            do { try body(); return nil } catch { return error as? IOError }
        }
        switch call {
        case .fstat:
            #expect(failure { _ = try FileSystem.readFile(dir.path + "/m") }?.operation == "fstat")
            #expect(failure { _ = try MappedFile(path: dir.path + "/m") }?.operation == "fstat")
            #expect(failure { _ = try AppendFile(creating: dir.path + "/m") }?.operation == "fstat")
        case .mmap:
            #expect(failure { _ = try MappedFile(path: dir.path + "/m") }?.operation == "mmap")
        case .flock:
            #expect(failure { _ = try DirectoryLock(file: dir.path + "/LOCK") }?.operation == "flock")
        default:
            #expect(failure { _ = try FileSystem.list(dir.path) }?.operation == "opendir")
        }
        FaultInjector.shared.set(under: dir.path, nil)
        #expect(try FileSystem.readFile(dir.path + "/m") == [1, 2, 3])
    }
}
