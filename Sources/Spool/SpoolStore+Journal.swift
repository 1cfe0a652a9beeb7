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
    /// segment; and the group checkpoint, when the stream's group records are in old files),
    /// then one journal sync covers every stream's records, then each is renamed into place
    /// (unless the stream checkpointed on its own meanwhile) and its directory synced. (`syncfs` would make it two syncs for any number of streams, but it
    /// walks every cached inode of the file system: measured, it made the test suite's kernel
    /// time minutes.)
    func retireJournal() {
        guard !closed.withLock({ $0 }) else { return }
        // The newest files stay: a stream written all the time is checkpointed once every few
        // rolls, not at each.
        guard let (oldest, current) = journal.fileRange, current >= StoreJournal.filesKept, oldest <= current - StoreJournal.filesKept else { return }
        let retiring = current - StoreJournal.filesKept + 1  // files below this go
        let start = journal.end
        let temporary = StreamCheckpoint.fileName + ".retire" + DataDirectory.temporarySuffix
        let groupsTemporary = GroupCheckpoint.fileName + ".retire" + DataDirectory.temporarySuffix
        var prepared: [(SpoolStream, StreamCore.PreparedCheckpoint?, StreamCore.PreparedGroupCheckpoint?)] = []
        var temporaries: [String] = []
        do throws(SpoolError) {
            for db in databases {
                for s in db.allStreams {
                    // Prepared under the stream's lock; written (and the active segment the
                    // checkpoint lists synced) outside it, so that the stream's appends go on.
                    let taken: (StreamCore.PreparedCheckpoint?, StreamCore.PreparedGroupCheckpoint?, String, Segment)? =
                        try s.core.withLock { (c) throws(SpoolError) in
                            guard c != nil, let need = c!.neededFile, need < retiring else { return nil }
                            var stream: StreamCore.PreparedCheckpoint? = nil
                            if let n = c!.oldestNeededFile, n < retiring { stream = try c!.prepareCheckpoint() }
                            let groups = c!.groupsNeededFile.flatMap { n in n < retiring ? c!.prepareGroupCheckpoint() : nil }
                            return (stream, groups, c!.directory, c!.active)
                        }
                    guard let (stream, groups, directory, active) = taken else { continue }
                    do throws(IOError) {
                        if let p = stream {
                            temporaries.append(directory + "/" + temporary)
                            try FileSystem.writeFile(directory + "/" + temporary, p.checkpoint.encode(), sync: true)
                            try active.sync()
                        }
                        if let g = groups {
                            temporaries.append(directory + "/" + groupsTemporary)
                            try FileSystem.writeFile(directory + "/" + groupsTemporary, g.checkpoint.encode(), sync: true)
                        }
                    } catch { throw error.spool }
                    prepared.append((s, stream, groups))
                }
            }
            // One sync covers every stream's CARRY records and every group record before the
            // group checkpoints' positions.
            do { try journal.syncAll() } catch { throw error.spool }
            for (s, stream, groups) in prepared {
                try s.core.withLock { (c) throws(SpoolError) in
                    guard c != nil else { return }
                    do throws(IOError) {
                        // Each is installed unless the stream wrote a newer one meanwhile.
                        if let p = stream, try Self.install(c!.directory, temporary, as: StreamCheckpoint.fileName, if: c!.checkpointSeq == p.seq) {
                            c!.installed(p)
                        }
                        if let g = groups, try Self.install(c!.directory, groupsTemporary, as: GroupCheckpoint.fileName, if: c!.groupCheckpointSeq == g.seq) {
                            c!.installed(g)
                        }
                        try FileSystem.syncDirectory(c!.directory)
                    } catch { throw error.spool }
                }
            }
            var needed = current  // every file no stream needs goes, not only those retired
            for db in databases {
                for s in db.allStreams {
                    s.core.withLock { c in
                        if let n = c?.neededFile { needed = min(needed, n) }
                    }
                }
            }
            journal.retired(carried: journal.end - start)
            do { try journal.removeFiles(below: needed) } catch { throw error.spool }
            logger.debug("retired store journal files", metadata: ["below": "\(needed)", "checkpoints": "\(prepared.count)"])
        } catch {
            for tmp in temporaries { try? FileSystem.removeFile(tmp) }
            logger.error("could not retire store journal files; trying again at the next roll", metadata: ["error": "\(error)"])
        }
    }

    /// Renames `directory/temporary` to `name` when `current`, else removes it; returns
    /// whether it was installed.
    private static func install(_ directory: String, _ temporary: String, as name: String, if current: Bool) throws(IOError) -> Bool {
        guard current else {
            try? FileSystem.removeFile(directory + "/" + temporary)
            return false
        }
        try FileSystem.rename(directory + "/" + temporary, directory + "/" + name)
        return true
    }
}
