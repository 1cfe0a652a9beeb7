import Logging
import SpoolFiles
import SpoolFormat
import SpoolIO

/// The group files a stream writes (FORMAT.md §8): the fold of their records is
/// `StreamGroups` (SpoolFiles), kept in `StreamCore.groups`; here is what writes and opens them.
extension StreamCore {
    /// Loads `groups` and replays the journal of its generation (`GroupFiles.read`), then acts
    /// on what it found: removes group journals of other generations (all of them when there is
    /// no checkpoint), cuts the journal at its first torn or damaged record, starts it anew when
    /// its header is damaged. No files: no groups. A damaged checkpoint is an error.
    mutating func openGroupFiles() throws(SpoolError) {
        let reservation = options.journalReservation
        let files = GroupFiles.read(directory: directory)
        switch files.checkpoint {
        case .absent:
            for name in files.otherJournals {
                logger.info("removing group journal without a checkpoint", metadata: ["file": "\(directory)/\(name)"])
                try? FileSystem.removeFile(directory + "/" + name)
            }
            groups = StreamGroups()
            groupJournal = nil
            return
        case .damaged(let e): throw e.spool
        case .unreadable(let e): throw e.spool
        case .decoded: break
        }
        if let e = files.journalError { throw e.spool }
        for name in files.otherJournals {
            logger.info("removing superseded group journal", metadata: ["file": "\(directory)/\(name)"])
            try? FileSystem.removeFile(directory + "/" + name)
        }
        groups = files.groups
        let path = directory + "/" + files.journalName!
        do {
            if let scan = files.journal, scan.headerError == nil {
                if let t = scan.tail {
                    let cut = scan.fileSize - scan.validEnd
                    if scan.tailIsTorn {
                        logger.warning("cut torn tail of group journal", metadata: ["file": "\(path)", "offset": "\(scan.validEnd)", "bytes": "\(cut)"])
                    } else {
                        logger.warning("cut group journal at damaged record", metadata: ["file": "\(path)", "offset": "\(scan.validEnd)", "bytes": "\(cut)", "reason": "\(t.reason)"])
                    }
                }
                let file = try AppendFile(creating: path, truncate: false)
                // Also drops reserved space (stale bytes past a torn record must never be read
                // as records once new ones reach them); it is reserved again, zeroed.
                if Int64(scan.validEnd) < file.size { try file.truncate(to: Int64(scan.validEnd)); try file.sync() }
                file.reserveJournalSpaceAtOpen(reservation, logger: logger)
                groupJournal = file
            } else {
                if let scan = files.journal, scan.fileSize > 0 {
                    logger.warning("group journal header damaged; starting it anew", metadata: ["file": "\(path)", "bytes": "\(scan.fileSize)"])
                }
                let file = try AppendFile.createJournal(at: path, initial: GroupJournalFormat.encodeHeader(generation: groups.generation),
                                                        reservation: .none)
                file.reserveJournalSpaceAtOpen(reservation, logger: logger)
                groupJournal = file
            }
        } catch { throw error.spool }
    }

    /// Creates the files for the first group: checkpoint (no groups) first, then the journal, so
    /// a crash in between leaves a checkpoint whose journal is simply empty.
    mutating func createGroupFiles() throws(SpoolError) {
        do {
            let gen = groups.generation + 1
            try FileSystem.writeAtomically(directory + "/" + GroupCheckpoint.fileName, groups.snapshot(generation: gen).encode())
            groupJournal = try newGroupJournal(generation: gen)
            groups.generation = gen
        } catch { throw error.spool }
    }

    /// A new, empty group journal of generation `generation`, its space reserved, synced.
    func newGroupJournal(generation: UInt64) throws(IOError) -> AppendFile {
        try AppendFile.createJournal(at: directory + "/" + GroupJournalFormat.fileName(generation),
                                     initial: GroupJournalFormat.encodeHeader(generation: generation), reservation: options.journalReservation)
    }

    /// Writes a checkpoint of the current state and starts a new journal generation.
    mutating func checkpointGroups() throws(SpoolError) {
        guard let old = groupJournal else { return }
        do {
            try old.sync()
            let gen = groups.generation + 1
            let file = try newGroupJournal(generation: gen)
            try FileSystem.writeAtomically(directory + "/" + GroupCheckpoint.fileName, groups.snapshot(generation: gen).encode())
            old.close()
            groupJournal = file
            groups.generation = gen
            groupSeenChanged = false
            try FileSystem.removeFile(old.path)
        } catch { throw error.spool }
    }
}
