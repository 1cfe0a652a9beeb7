import Logging
import SpoolFiles
import SpoolFormat
import SpoolIO

/// Retiring store journal files (FORMAT.md §5.2): once the journal rolled to a new file, every
/// stream with records in an older one is checkpointed (its tail block carried into the new
/// file), and the files no stream needs any more are deleted.
extension SpoolStore {
    /// Checkpoints the streams that keep old journal files alive and deletes those files. The
    /// checkpoints are written together: each stream's is prepared under its lock (its CARRY
    /// records logged, the checkpoint written to a temporary file and synced with the active
    /// segment), then one journal sync covers every stream's CARRY records, then each is
    /// renamed into place (unless the stream checkpointed on its own meanwhile) and its
    /// directory synced. (`syncfs` would make it two syncs for any number of streams, but it
    /// walks every cached inode of the file system: measured, it made the test suite's kernel
    /// time minutes.)
    func retireJournal() {
        // The newest files stay: a stream written all the time is checkpointed once every few
        // rolls, not at each.
        guard let (oldest, current) = journal.fileRange, current >= StoreJournal.filesKept, oldest <= current - StoreJournal.filesKept else { return }
        let retiring = current - StoreJournal.filesKept + 1  // files below this go
        let start = journal.end
        let temporary = StreamCheckpoint.fileName + ".retire" + DataDirectory.temporarySuffix
        var prepared: [(SpoolStream, StreamCore.PreparedCheckpoint, String)] = []
        var end: Int64 = 0
        do throws(SpoolError) {
            for db in databases {
                for s in db.allStreams {
                    try s.core.withLock { (c) throws(SpoolError) in
                        guard c != nil, let need = c!.oldestNeededFile, need < retiring else { return }
                        let p = try c!.prepareCheckpoint()
                        let tmp = c!.directory + "/" + temporary
                        do throws(IOError) {
                            try FileSystem.writeFile(tmp, p.checkpoint.encode(), sync: true)
                            try c!.active.sync()
                        } catch { throw error.spool }
                        prepared.append((s, p, tmp))
                        end = max(end, p.end)
                    }
                }
            }
            do { try journal.syncCovering(end) } catch { throw error.spool }
            for (s, p, tmp) in prepared {
                try s.core.withLock { (c) throws(SpoolError) in
                    guard c != nil, c!.checkpointSeq == p.seq else {
                        try? FileSystem.removeFile(tmp)
                        return
                    }
                    do throws(IOError) {
                        try FileSystem.rename(tmp, c!.directory + "/" + StreamCheckpoint.fileName)
                        try FileSystem.syncDirectory(c!.directory)
                    } catch { throw error.spool }
                    c!.installed(p)
                }
            }
            var needed = retiring
            for db in databases {
                for s in db.allStreams {
                    s.core.withLock { c in
                        if let n = c?.oldestNeededFile { needed = min(needed, n) }
                    }
                }
            }
            journal.retired(carried: journal.end - start)
            do { try journal.removeFiles(below: needed) } catch { throw error.spool }
            logger.debug("retired store journal files", metadata: ["below": "\(needed)", "checkpoints": "\(prepared.count)"])
        } catch {
            for (_, _, tmp) in prepared { try? FileSystem.removeFile(tmp) }
            logger.error("could not retire store journal files; trying again at the next roll", metadata: ["error": "\(error)"])
        }
    }
}
