public import SpoolFormat
public import SpoolIO

/// The consumer-group files of one stream directory, read the way the engine reads them at open
/// (FORMAT.md §8.3) but without changing anything: the checkpoint `groups`, the journal of its
/// generation up to the first torn or damaged record (none of it when its header is damaged),
/// and the state those fold into, through the same `StreamGroups.apply` the engine uses. The engine
/// acts on what this finds (cuts, removes, refuses); `spool fsck` reports it and `spool dump`
/// shows it.
public struct GroupFiles: Sendable {
    /// What became of the checkpoint.
    public enum Checkpoint: Sendable {
        /// No `groups` file: the stream has no groups.
        case absent
        /// Decoded and verified.
        case decoded(GroupCheckpoint)
        /// Present but not a valid checkpoint: the engine refuses to open the stream.
        case damaged(FormatError)
        /// Present but could not be read.
        case unreadable(IOError)
    }

    /// The stream directory.
    public var directory: String
    /// The checkpoint.
    public var checkpoint: Checkpoint
    /// Where each group, consumer and pending record of the checkpoint starts (when asked for
    /// and decoded).
    public var layout: GroupCheckpoint.Layout?
    /// Group-journal file names the engine deletes at open: every one when there is no
    /// checkpoint or the checkpoint names the store journal (version 2), else those of other
    /// generations.
    public var otherJournals: [String]
    /// The file name of the journal the checkpoint names (nil without a checkpoint).
    public var journalName: String?
    /// That journal as far as it reads; nil when it is missing or unreadable.
    public var journal: GroupJournalScan?
    /// Why that journal could not be read.
    public var journalError: IOError?
    /// A version-2 checkpoint's group records from the store journal (after its position),
    /// replayed into `groups`.
    public var storeRecords: [JournalScan.Item] = []
    /// Leftover temporary files of the group checkpoint (an interrupted atomic write).
    public var temporaryFiles: [String]
    /// The groups after the checkpoint and the replayed records.
    public var groups: StreamGroups

    /// Whether the journal's records are part of the state: its header is intact and names the
    /// checkpoint's generation (the engine starts a journal with a damaged header anew).
    public var journalReplayed: Bool { journal.map { $0.headerError == nil } ?? false }

    /// The bytes of `groups` when it was read (nil when absent or unreadable).
    var checkpointBytes: [UInt8]?

    /// Whether `groups` still holds what was read: false when a server replaced it meanwhile
    /// (and may have switched journals), so that the files read are a mixed view.
    public var isCurrent: Bool {
        (try? FileSystem.readFile(directory + "/" + GroupCheckpoint.fileName)) == checkpointBytes
    }


    /// The stream's GROUP records in the store journal from a position on
    /// (`StoreJournalView.records(…, part: .groups)`).
    public typealias StoreRecords = (JournalPosition) -> [JournalScan.Item]

    /// Reads the group files of the stream directory `directory`; `relativePath` names them in
    /// errors and journal scans (defaults to `directory`). With `layout`, checkpoint offsets are
    /// recorded too (one integer per pending record). A version-2 checkpoint's records come
    /// from `storeRecords` (none without it).
    public static func read(directory: String, relativePath: String? = nil, layout: Bool = false,
                            storeRecords: StoreRecords? = nil) -> GroupFiles {
        let rel = relativePath ?? directory
        var files = GroupFiles(directory: directory, checkpoint: .absent, layout: nil, otherJournals: [], journalName: nil,
                               journal: nil, journalError: nil, temporaryFiles: [], groups: StreamGroups(), checkpointBytes: nil)
        let names = ((try? FileSystem.list(directory)) ?? []).sorted()
        files.temporaryFiles = names.filter { $0 == GroupCheckpoint.fileName + DataDirectory.temporarySuffix }
        let journals = names.filter { GroupJournalFormat.generation(fromFileName: $0) != nil }
        let cpPath = directory + "/" + GroupCheckpoint.fileName
        guard FileSystem.exists(cpPath) else {
            files.otherJournals = journals
            return files
        }
        let cp: GroupCheckpoint
        do {
            let bytes = try FileSystem.readFile(cpPath)
            files.checkpointBytes = bytes
            let cpRel = rel + "/" + GroupCheckpoint.fileName
            if layout {
                (cp, files.layout) = try bytes.withBytes { (b) throws(FormatError) in try GroupCheckpoint.decodeWithLayout(b, file: cpRel) }
            } else {
                cp = try bytes.withBytes { (b) throws(FormatError) in try GroupCheckpoint.decode(b, file: cpRel) }
            }
        } catch let e as IOError {
            files.checkpoint = .unreadable(e)
            files.otherJournals = journals
            return files
        } catch let e as FormatError {
            files.checkpoint = .damaged(e)
            files.otherJournals = journals
            return files
        } catch {
            files.checkpoint = .damaged(FormatError(file: rel + "/" + GroupCheckpoint.fileName, offset: 0, "\(error)"))
            files.otherJournals = journals
            return files
        }
        files.checkpoint = .decoded(cp)
        files.groups = StreamGroups(checkpoint: cp)
        if let position = cp.journalPosition {
            files.otherJournals = journals
            files.storeRecords = storeRecords?(position) ?? []
            for item in files.storeRecords {
                if case .group(let g) = item.record { files.groups.apply(g) }
            }
            return files
        }
        let name = GroupJournalFormat.fileName(cp.journalGeneration)
        files.journalName = name
        files.otherJournals = journals.filter { $0 != name }
        if journals.contains(name) {
            do {
                let bytes = try FileSystem.readFile(directory + "/" + name)
                files.journal = bytes.withUnsafeBytes {
                    GroupJournalScan.scan($0, path: directory + "/" + name, relativePath: rel + "/" + name, generation: cp.journalGeneration)
                }
            } catch {
                files.journalError = error
            }
        }
        if let j = files.journal, j.headerError == nil {
            for item in j.items { files.groups.apply(item.record) }
        }
        return files
    }

    /// The groups as the engine holds them after open (before reconciling with the stream), as
    /// a checkpoint value: groups and consumers by name, pending records ascending. Nil when the
    /// checkpoint did not decode.
    public var state: GroupCheckpoint? {
        guard case .decoded(let cp) = checkpoint else { return nil }
        if let p = cp.journalPosition { return groups.snapshot(position: p) }
        return groups.snapshot(generation: cp.journalGeneration)
    }

    /// The engine's running pending count of each consumer of `group` (what XINFO CONSUMERS
    /// reports), by consumer name; empty when there is no such group.
    public func trackedPendingCounts(group: [UInt8]) -> [(name: [UInt8], pending: Int)] {
        guard let g = groups.groups[group] else { return [] }
        return g.consumers.values.map { ($0.name, $0.pending) }.sorted { $0.name.lexicographicallyPrecedes($1.name) }
    }

    /// What the engine's reconciliation with a stream whose last-generated ID is `lastID` changes
    /// (FORMAT.md §8.3), and the checkpoint it then writes: the reconciled state naming the next
    /// journal generation, or for a version-2 checkpoint the store journal's end
    /// (`storeJournalEnd`). Nil when the checkpoint did not decode (or names the store journal
    /// and its end is not given).
    public func reconciled(lastID: StreamID, storeJournalEnd: JournalPosition? = nil) -> (changes: [GroupReconciliation], checkpoint: GroupCheckpoint)? {
        guard case .decoded(let cp) = checkpoint else { return nil }
        var copy = groups
        let changes = copy.reconcile(lastID: lastID)
        if cp.journalPosition != nil {
            guard let end = storeJournalEnd else { return nil }
            return (changes, copy.snapshot(position: end))
        }
        return (changes, copy.snapshot(generation: cp.journalGeneration + 1))
    }
}

/// What reconciling one group with its stream changed (FORMAT.md §8.3).
public struct GroupReconciliation: Sendable, Equatable {
    /// The group.
    public var group: [UInt8]
    /// The cursor it had, when it was beyond the stream's last ID and moved back.
    public var cursorMovedFrom: StreamID?
    /// Pending records dropped because they are beyond the stream's last ID, ascending.
    public var droppedPending: [StreamID]
}
