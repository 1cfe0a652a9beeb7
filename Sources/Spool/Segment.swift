import Synchronization
import SpoolFormat
import SpoolFiles
import SpoolIO

/// One segment file of a stream: the active one is written with pwrite and read with pread;
/// a sealed one (footer written, fdatasynced, immutable) is memory-mapped read-only. A new
/// active segment has no file until its first block: a stream that never seals one (most
/// short streams) costs no segment file and no descriptor.
final class Segment: Sendable {
    let number: UInt64
    let path: String
    private enum Storage {
        /// No file yet (created with the first frame).
        case pending
        case active(AppendFile)
        case sealed(MappedFile)
    }
    private let storage: Mutex<Storage>
    /// Recently decoded blocks by frame offset. A frame never changes once written (a torn tail
    /// is cut only at open, before any read), so a cached decode stays true for the segment's
    /// life. Small and FIFO: it serves readers that re-read the stream's head or tail.
    private let decoded = Mutex<(order: [UInt64], entries: [UInt64: [StreamEntry]])>(([], [:]))
    static let decodedCapacity = 16
    /// The last blocks `rawBlock` decompressed, newest last: group reads in small batches and
    /// short ranges at the head or tail read the same few blocks again and again.
    private let recentRaw = Mutex<[(offset: UInt64, header: SegmentFormat.BlockHeader, raw: [UInt8])]>([])
    static let recentRawCapacity = 4

    private init(number: UInt64, path: String, storage: Storage) {
        self.number = number
        self.path = path
        self.storage = Mutex(storage)
    }

    /// A block decoded earlier, if still cached.
    func cachedBlock(at offset: UInt64) -> [StreamEntry]? {
        decoded.withLock { $0.entries[offset] }
    }

    /// Remembers a decoded block.
    func cacheBlock(_ entries: [StreamEntry], at offset: UInt64) {
        decoded.withLock { c in
            if c.entries.updateValue(entries, forKey: offset) == nil {
                c.order.append(offset)
                if c.order.count > Self.decodedCapacity { c.entries.removeValue(forKey: c.order.removeFirst()) }
            }
        }
    }

    /// A new, empty active segment; its file is created with its first block.
    static func create(directory: String, number: UInt64) -> Segment {
        Segment(number: number, path: directory + "/" + SegmentFormat.fileName(number), storage: .pending)
    }

    /// The file of a pending segment: header written and synced, directory synced (a
    /// checkpoint that lists its blocks must find the file after a power loss).
    private static func createFile(_ path: String, number: UInt64) throws(IOError) -> AppendFile {
        let file = try AppendFile(creating: path, truncate: true)
        try file.append(SegmentFormat.encodeHeader(number: number))
        try file.sync()
        try FileSystem.syncDirectory(FileSystem.parent(of: path))
        return file
    }

    /// The active file, created now if the segment is still pending; nil when sealed.
    private func activeFile() throws(IOError) -> AppendFile? {
        try storage.withLock { (s) throws(IOError) -> AppendFile? in
            switch s {
            case .active(let f): return f
            case .sealed: return nil
            case .pending:
                let f = try Self.createFile(path, number: number)
                s = .active(f)
                return f
            }
        }
    }

    /// Whether the segment has a file (a pending one has none yet).
    var hasFile: Bool {
        storage.withLock { if case .pending = $0 { return false } else { return true } }
    }

    /// Deletes the segment's file, if it has one.
    func removeFile() throws(IOError) {
        guard hasFile else { return }
        try FileSystem.removeFile(path)
    }

    /// Opens an existing active segment whose valid bytes end at `validEnd` (a torn tail beyond
    /// it is cut here, before anything maps the file).
    static func openActive(path: String, number: UInt64, validEnd: Int64) throws(IOError) -> Segment {
        let file = try AppendFile(creating: path)
        if file.size != validEnd { try file.truncate(to: validEnd) }
        return Segment(number: number, path: path, storage: .active(file))
    }

    /// Opens a sealed segment by mapping it.
    static func openSealed(path: String, number: UInt64) throws(IOError) -> Segment {
        Segment(number: number, path: path, storage: .sealed(try MappedFile(path: path)))
    }

    var isActive: Bool {
        storage.withLock { if case .sealed = $0 { return false } else { return true } }
    }

    /// Size of the active file (bytes written; a pending segment counts its header), or of
    /// the mapping.
    var size: Int64 {
        storage.withLock {
            switch $0 {
            case .pending: return Int64(SegmentFormat.headerSize)
            case .active(let f): return f.size
            case .sealed(let m): return Int64(m.count)
            }
        }
    }

    /// Appends a block frame to the active segment (creating its file first if pending);
    /// returns its offset.
    func appendFrame(_ frame: [UInt8]) throws(SpoolError) -> UInt64 {
        let file: AppendFile?
        do { file = try activeFile() } catch { throw error.spool }
        guard let file else { throw SpoolError.closed("segment \(path) is sealed") }
        let offset = file.size
        do { try file.append(frame) } catch { throw error.spool }
        return UInt64(offset)
    }

    /// fdatasync of the active file (no-op when sealed).
    func sync() throws(IOError) {
        let file: AppendFile? = storage.withLock { if case .active(let f) = $0 { return f } else { return nil } }
        try file?.sync()
    }

    /// Writes the footer for `blocks`, syncs, and switches to a read-only mapping.
    func seal(blocks: [SegmentFormat.FooterEntry]) throws(IOError) {
        guard let file = try activeFile() else { return }
        let footer = SegmentFormat.encodeFooter(blocks, footerOffset: UInt64(file.size))
        try file.append(footer)
        try file.sync()
        let mapped = try MappedFile(path: path)
        storage.withLock { $0 = .sealed(mapped) }
        // The descriptor is closed when the last reader holding `file` lets go (deinit):
        // closing it here could pull it from under a concurrent pread.
    }

    /// Reads, verifies and decompresses the block frame at `offset`.
    func readBlock(offset: UInt64, frameLength: UInt32) throws(SpoolError) -> (SegmentFormat.BlockHeader, [UInt8]) {
        var raw: [UInt8] = []
        let header = try readBlock(offset: offset, frameLength: frameLength, into: &raw)
        if raw.count > Int(header.rawLength) { raw.removeLast(raw.count - Int(header.rawLength)) }
        return (header, raw)
    }

    /// `readBlock`, served from the last few blocks this method read when it is one of them.
    func rawBlock(offset: UInt64, frameLength: UInt32) throws(SpoolError) -> (SegmentFormat.BlockHeader, [UInt8]) {
        if let hit = recentRaw.withLock({ c in c.last { $0.offset == offset }.map { ($0.header, $0.raw) } }) { return hit }
        let (header, raw) = try readBlock(offset: offset, frameLength: frameLength)
        recentRaw.withLock { c in
            if c.count == Self.recentRawCapacity { c.removeFirst() }
            c.append((offset, header, raw))
        }
        return (header, raw)
    }

    /// Reads, verifies and decompresses the block frame at `offset` into the first
    /// `header.rawLength` bytes of `raw`, a buffer the caller reuses across blocks.
    func readBlock(offset: UInt64, frameLength: UInt32, into raw: inout [UInt8]) throws(SpoolError) -> SegmentFormat.BlockHeader {
        enum Source { case file(AppendFile), map(MappedFile) }
        let source: Source? = storage.withLock {
            switch $0 {
            case .pending: return nil
            case .active(let f): return .file(f)
            case .sealed(let m): return .map(m)
            }
        }
        guard let source else { throw SpoolError.corrupt(FormatError(file: path, offset: offset, "no block in a segment not yet written")) }
        switch source {
        case .map(let m):
            return try m.withBytes { (bytes) throws(SpoolError) in
                guard offset + UInt64(frameLength) <= UInt64(bytes.count) else {
                    throw SpoolError.corrupt(FormatError(file: path, offset: offset, "block frame extends past end of file"))
                }
                let frame: UnsafeRawBufferPointer
                do throws(FormatError) { frame = try ByteReader(bytes, file: path).view(at: Int(offset), count: Int(frameLength), "block frame") } catch { throw .corrupt(error) }
                return try Segment.decodeFrame(frame, file: path, offset: offset, into: &raw)
            }
        case .file(let f):
            let bytes: [UInt8]
            do { bytes = try f.read(at: Int64(offset), count: Int(frameLength)) } catch { throw error.spool }
            guard bytes.count == Int(frameLength) else {
                throw SpoolError.corrupt(FormatError(file: path, offset: offset, "block frame extends past end of file"))
            }
            return try bytes.withBytes { (frame) throws(SpoolError) in
                try Segment.decodeFrame(frame, file: path, offset: offset, into: &raw)
            }
        }
    }

    /// Verifies one frame (header CRC, payload CRC) and returns its header and raw payload.
    static func decodeFrame(_ frame: UnsafeRawBufferPointer, file: String, offset: UInt64) throws(SpoolError) -> (SegmentFormat.BlockHeader, [UInt8]) {
        var raw: [UInt8] = []
        let header = try decodeFrame(frame, file: file, offset: offset, into: &raw)
        if raw.count > Int(header.rawLength) { raw.removeLast(raw.count - Int(header.rawLength)) }
        return (header, raw)
    }

    /// Verifies one frame and writes its raw payload into the first `rawLength` bytes of `raw`.
    static func decodeFrame(_ frame: UnsafeRawBufferPointer, file: String, offset: UInt64, into raw: inout [UInt8]) throws(SpoolError) -> SegmentFormat.BlockHeader {
        do { return try BlockFrame.verifyAndDecompress(frame, file: file, offset: offset, into: &raw) } catch { throw error.spool }
    }

    /// Encodes a block frame for `entries`.
    static func encodeFrame(_ entries: [StreamEntry], entriesAdded: UInt64, compress: Bool) -> [UInt8] {
        let raw = BlockCodec.encode(entries)
        var codec = SegmentFormat.Codec.none
        var stored = raw
        if compress, let c = LZ4.compress(raw) {
            codec = .lz4
            stored = c
        }
        let header = SegmentFormat.BlockHeader(
            codec: codec, firstID: entries[0].id, lastID: entries[entries.count - 1].id, count: UInt32(entries.count),
            rawLength: UInt32(raw.count), storedLength: UInt32(stored.count), payloadCRC: CRC32C.checksum(stored),
            entriesAdded: entriesAdded)
        var frame = header.encode()
        frame.append(contentsOf: stored)
        return frame
    }
}
