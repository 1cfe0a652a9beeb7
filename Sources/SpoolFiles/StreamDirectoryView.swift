public import SpoolFormat
import SpoolIO

/// What one stream directory's files say, read without changing anything (FORMAT.md §10, steps
/// 1 to 5 of open): the checkpoint, the files by kind, every segment's blocks and the journal of
/// the checkpoint's generation. `StreamCore.open` reads this view and then acts on it (cuts torn
/// tails, seals, indexes, replays); `StreamFiles` (dump, replay) reads the same view with the
/// tools' policy.
///
/// At `.footers` depth, which is open's, a sealed segment costs its header and footer: no frame
/// of it is read and no block is decompressed; the ranges read are asked for at once
/// (`MADV_WILLNEED`), as the mapping reads nothing ahead. Unsealed segments are scanned frame by
/// frame (headers and checksums; payloads are not decompressed).
public struct StreamDirectoryView: Sendable {
    /// How far into the segments the view reads.
    public enum Depth: Sendable, Equatable {
        /// Footers of sealed segments; frames of unsealed ones (open's depth).
        case footers
        /// Every frame of every segment, sealed or not, with its checksums (footers are still
        /// checked, and must list the frames found).
        case frames
    }

    /// What to do at a frame that is torn, damaged or out of ID order in a scanned segment.
    public enum FramePolicy: Sendable, Equatable {
        /// Stop: the segment's valid bytes end there (open cuts the rest).
        case stopAtFirstBad
        /// Step past it to the next intact frame (the tools read what can be read).
        case resynchronise
    }

    /// How to read.
    public struct Reading: Sendable, Equatable {
        public var depth: Depth
        public var policy: FramePolicy
        /// Keep each segment's bytes in the view (the last segment copied, not mapped, so a
        /// process appending to or cutting it cannot fault the reader), for reading blocks later.
        public var retainBytes: Bool
        /// Leave the fields of journal entries that some block holds undecoded (open needs
        /// only their IDs, and decoding is most of the cost of replay).
        public var skipsSealedEntries: Bool

        public init(depth: Depth = .footers, policy: FramePolicy = .stopAtFirstBad, retainBytes: Bool = false,
                    skipsSealedEntries: Bool = true) {
            self.depth = depth
            self.policy = policy
            self.retainBytes = retainBytes
            self.skipsSealedEntries = skipsSealedEntries
        }

        /// Open's reading: footers, stop at the first bad frame, nothing kept, sealed journal
        /// entries not decoded.
        public static let recovery = Reading()
        /// The tools' reading: footers, step past damage, bytes kept, every record decoded.
        public static let inspection = Reading(policy: .resynchronise, retainBytes: true, skipsSealedEntries: false)
    }

    /// One segment file.
    public struct SegmentView: Sendable {
        /// The number in its file name.
        public var number: UInt64
        /// Its path.
        public var path: String
        /// Whether it is the highest-numbered segment (the only one that may be unsealed).
        public var isLast: Bool
        /// Its size in bytes.
        public var size: Int
        /// What it holds.
        public var content: Content
        /// Its bytes, with `Reading.retainBytes`.
        public var bytes: SegmentBytes?

        /// What a segment holds.
        public enum Content: Sendable {
            /// A valid footer: its blocks, no frame read (at `.frames` depth, every frame was
            /// read and checked against the footer).
            case sealed([SegmentFormat.FooterEntry])
            /// No valid footer: the frames found, where the valid bytes end (the stop policy's
            /// cut point; the end of the last intact frame under resynchronise) and the problems
            /// met (at most one, the cut, under the stop policy).
            case unsealed(blocks: [SegmentFormat.FooterEntry], validEnd: Int64, problems: [FormatError])
            /// The last segment, shorter than its header: a create cut short (open rewrites it).
            case tornHeader(FormatError)
            /// A header that fails to decode or names another segment (§4.1): damage.
            case damagedHeader(FormatError)
            /// The file could not be read.
            case unreadable(IOError)
        }

        /// The blocks found (none for a damaged or torn header).
        public var blocks: [SegmentFormat.FooterEntry] {
            switch content {
            case .sealed(let b), .unsealed(let b, _, _): return b
            case .tornHeader, .damagedHeader, .unreadable: return []
            }
        }
    }

    /// The stream directory.
    public var directory: String
    /// How its files are named in errors (`directory`, or a path relative to the data
    /// directory for the tools).
    public var label: String
    /// Its files by kind.
    public var files: StreamDirectoryListing
    /// The checkpoint (`state`).
    public var checkpoint: StreamCheckpoint
    /// The segments, ascending.
    public var segments: [SegmentView]
    /// The journal a format-1 checkpoint names, as far as it reads; nil when the file is
    /// missing, and for a format-2 stream (its records are in the store journal).
    /// With `skipsSealedEntries`, entries some block holds are not decoded (their IDs are kept).
    public var journal: JournalScan?
    /// Why that journal could not be read, when it could not.
    public var journalError: IOError?

    /// The highest ID of any block found.
    public var blocksThrough: StreamID? { segments.compactMap { $0.blocks.last?.lastID }.max() }

    /// Whether the stream's records are in the store journal (a format-2 checkpoint), not in a
    /// journal of its own.
    public var usesStoreJournal: Bool { checkpoint.journalPosition != nil }

    /// The path of the journal a format-1 checkpoint names.
    public var journalPath: String { directory + "/" + JournalFormat.fileName(checkpoint.journalGeneration) }

    /// Reads the view of `directory`, naming its files `label/<name>` in errors (default: the
    /// directory's path). Throws when the directory cannot be listed or the checkpoint is
    /// missing or damaged (an error naming the file and offset); everything else is recorded in
    /// the view for the caller to act on.
    public static func read(_ directory: String, label: String? = nil, reading: Reading = .recovery) throws -> StreamDirectoryView {
        let label = label ?? directory
        let bytes = try FileSystem.readFile(directory + "/" + StreamCheckpoint.fileName)
        let checkpoint = try bytes.withBytes { (b) throws(FormatError) in
            try StreamCheckpoint.decode(b, file: label + "/" + StreamCheckpoint.fileName)
        }
        let files = StreamDirectoryListing(names: try FileSystem.list(directory))
        var segments: [SegmentView] = []
        for (i, number) in files.segments.enumerated() {
            let isLast = i == files.segments.count - 1
            segments.append(readSegment(directory, label: label, number, isLast: isLast, checkpoint: checkpoint, reading: reading))
        }
        var view = StreamDirectoryView(directory: directory, label: label, files: files, checkpoint: checkpoint, segments: segments)
        if checkpoint.journalPosition == nil, files.journals.contains(checkpoint.journalGeneration) {
            let name = JournalFormat.fileName(checkpoint.journalGeneration)
            do {
                let jbytes = try FileSystem.readFile(view.journalPath)
                let skip = reading.skipsSealedEntries ? view.blocksThrough : nil
                view.journal = jbytes.withUnsafeBytes {
                    JournalScan.scan($0, path: view.journalPath, relativePath: label + "/" + name,
                                     generation: checkpoint.journalGeneration, skipEntriesThrough: skip)
                }
            } catch {
                view.journalError = error
            }
        }
        return view
    }

    private init(directory: String, label: String, files: StreamDirectoryListing, checkpoint: StreamCheckpoint, segments: [SegmentView]) {
        self.directory = directory
        self.label = label
        self.files = files
        self.checkpoint = checkpoint
        self.segments = segments
    }

    /// Reads one segment (mapped for the read; copied when kept and last).
    static func readSegment(_ directory: String, label: String, _ number: UInt64, isLast: Bool, checkpoint: StreamCheckpoint,
                            reading: Reading) -> SegmentView {
        let name = SegmentFormat.fileName(number)
        let path = directory + "/" + name
        var view = SegmentView(number: number, path: path, isLast: isLast, size: 0, content: .sealed([]), bytes: nil)
        let bytes: SegmentBytes
        do throws(IOError) {
            if reading.retainBytes && isLast {
                bytes = .buffer(try FileSystem.readFile(path))
            } else {
                let m = try MappedFile(path: path)
                m.adviseRandomAccess()  // the ranges needed are asked for below (`willNeed`)
                bytes = .mapped(m)
            }
        } catch {
            view.content = .unreadable(error)
            return view
        }
        if reading.retainBytes { view.bytes = bytes }
        view.content = bytes.withBytes { b in
            view.size = b.count
            return content(of: b, bytes, number: number, file: label + "/" + name, isLast: isLast, checkpoint: checkpoint, reading: reading)
        }
        return view
    }

    static func content(of b: UnsafeRawBufferPointer, _ bytes: SegmentBytes, number: UInt64, file path: String, isLast: Bool,
                        checkpoint: StreamCheckpoint, reading: Reading) -> SegmentView.Content {
        do throws(FormatError) {
            try SegmentScan.checkNumber(try SegmentFormat.decodeHeader(b, file: path), named: number, file: path)
        } catch {
            return b.count < SegmentFormat.headerSize && isLast ? .tornHeader(error) : .damagedHeader(error)
        }
        if reading.depth == .footers, let hint = SegmentFormat.footerOffsetHint(b) {
            if case .mapped(let m) = bytes { m.willNeed(from: hint) }
            if let footer = try? SegmentFormat.decodeFooter(b, file: path) { return .sealed(footer.entries) }
        }
        switch reading.policy {
        case .stopAtFirstBad:
            // The active segment's blocks listed by the checkpoint were synced before it was
            // written: the scan starts after them (a file shorter than the list is scanned whole).
            var known: [SegmentFormat.FooterEntry] = []
            if reading.depth == .footers, let a = checkpoint.activeBlocks, a.segment == number, a.end <= UInt64(b.count) { known = a.blocks }
            if case .mapped(let m) = bytes { m.willNeed(from: known.last.map { Int($0.end) } ?? 0) }
            let scan = SegmentScan.validPrefix(b, file: path, known: known)
            if reading.depth == .frames, let footer = try? SegmentFormat.decodeFooter(b, file: path), scan.cut == nil || Int(scan.validEnd) == Int(footer.footerOffset) {
                return sealedIfListed(footer.entries, found: scan.blocks, path: path)
            }
            return .unsealed(blocks: scan.blocks, validEnd: scan.validEnd, problems: scan.cut.map { [$0] } ?? [])
        case .resynchronise:
            let scan = SegmentScan.scan(b, path: path, relativePath: path, number: number)
            let intact = scan.frames.filter { $0.damage == nil }
            if case .valid(let entries, _) = scan.footer, scan.gaps.isEmpty {
                let found = intact.map(\.footerEntry)
                if found.count == scan.frames.count { return sealedIfListed(entries, found: found, path: path) }
            }
            var problems = scan.gaps.map(\.error) + scan.frames.compactMap(\.damage)
            if case .damaged(let e) = scan.footer { problems.append(e) }
            problems.sort { $0.offset < $1.offset }
            let end = intact.last.map { Int64($0.range.upperBound) } ?? Int64(SegmentFormat.headerSize)
            return .unsealed(blocks: intact.map(\.footerEntry), validEnd: end, problems: problems)
        }
    }

    /// A sealed segment read frame by frame: sealed when its footer lists exactly the frames
    /// found, else unsealed with the frames found and the disagreement.
    static func sealedIfListed(_ listed: [SegmentFormat.FooterEntry], found: [SegmentFormat.FooterEntry], path: String) -> SegmentView.Content {
        if listed == found { return .sealed(listed) }
        let end = found.last.map { Int64($0.end) } ?? Int64(SegmentFormat.headerSize)
        return .unsealed(blocks: found, validEnd: end, problems: [FormatError(file: path, offset: UInt64(end), "the footer lists other blocks than the file holds")])
    }
}
