import Logging
import SpoolIO

/// Creating journals and reserving their space, the same for stream and group journals
/// (FORMAT.md §5 and §8.1: the reserved space after the last record is zero bytes).
extension AppendFile {
    /// A new journal at `path` (emptied if it exists) holding `initial` — its header, and for a
    /// stream journal the records it carries over — with its space reserved as `reservation`
    /// says, synced.
    static func createJournal(at path: String, initial: [UInt8], reservation: Reservation) throws(IOError) -> AppendFile {
        let file = try AppendFile(creating: path, truncate: true)
        try file.append(initial)
        try file.reserveJournalSpace(reservation)
        try file.sync()
        return file
    }

    /// Reserves space ahead of this journal's appends: `StoreOptions.firstJournalReservation`
    /// past its end, doubled whenever appends outgrow it.
    func reserveJournalSpace(_ reservation: Reservation) throws(IOError) {
        guard reservation != .none else { return }
        try reserve(capacity: size + StoreOptions.firstJournalReservation, reservation)
    }

    /// The same when opening an existing journal: a full disk must not keep the store from
    /// opening (every acknowledged entry is readable), so a failed reservation is logged and
    /// retried by the next append, which fails with the error if the disk is still full.
    func reserveJournalSpaceAtOpen(_ reservation: Reservation, logger: Logger) {
        do {
            try reserveJournalSpace(reservation)
        } catch {
            logger.warning("could not reserve journal space; appends will try again", metadata: [
                "file": "\(path)", "error": "\(error)"])
        }
    }
}
