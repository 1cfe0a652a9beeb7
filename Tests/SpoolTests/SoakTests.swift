import Testing
import Logging
@testable import Spool
import TestSupport

#if canImport(Glibc)
import Glibc
#endif

/// The model tests over many more seeds and every configuration, for a long run behind a flag:
/// `SPOOL_SOAK=<seeds> swift test --filter SoakTests` (the default run covers a few fixed seeds
/// of each in `StreamModelTests` and `GroupModelTests`). A failure names its seed and
/// configuration; rerun one with `SPOOL_SOAK_FIRST=<seed> SPOOL_SOAK=1`.
@Suite struct SoakTests {
    static let seeds: Range<UInt64>? = {
        guard let n = getenv("SPOOL_SOAK").flatMap({ UInt64(String(cString: $0)) }), n > 0 else { return nil }
        let first = getenv("SPOOL_SOAK_FIRST").flatMap { UInt64(String(cString: $0)) } ?? 1_000
        return first..<(first + n)
    }()

    /// Stream shapes: (node max entries, node max bytes, segment bytes, journal bytes).
    static let shapes: [(Int, Int, Int, Int)] = [(100, 4096, 4096, 8192), (5, 300, 4096, 8192), (1, 0, 2048, 4096),
                                                 (0, 200, 8192, 65536), (10, 4096, 1 << 16, 2048)]

    @Test("stream model, every policy and shape", .enabled(if: seeds != nil))
    func streamModel() throws {
        for seed in Self.seeds! {
            let (maxEntries, maxBytes, segmentBytes, journalBytes) = Self.shapes[Int(seed % UInt64(Self.shapes.count))]
            let policy: FsyncPolicy = [.no, .everysec, .always][Int(seed / 5 % 3)]
            let deferWrites = policy != .always && seed % 2 == 0
            print("soak stream seed \(seed): shape \(maxEntries)/\(maxBytes)/\(segmentBytes)/\(journalBytes) \(policy) defer \(deferWrites)")
            do {
                var h = try StreamModelTests.Harness(seed: seed, maxEntries: maxEntries, maxBytes: maxBytes,
                                                     segmentBytes: segmentBytes, journalBytes: journalBytes,
                                                     deferWrites: deferWrites, policy: policy)
                for _ in 0..<3000 { try h.step() }
                try h.reopen()
                h.store!.close()
                h.dir.remove()
            } catch {
                // The next seeds still run: one campaign reports every failing seed.
                Issue.record("soak stream seed \(seed): \(error)")
            }
        }
    }

    @Test("consumer-group model", .enabled(if: seeds != nil))
    func groupModel() throws {
        for seed in Self.seeds! {
            print("soak groups seed \(seed)")
            do {
                let run = try ModelRun(seed: seed)
                defer { run.dir.remove() }
                for step in 0..<2000 { try run.step(step) }
                try run.checkState()
                run.store!.close()
            } catch {
                Issue.record("soak groups seed \(seed): \(error)")
            }
        }
    }
}
