import SpoolFormat

/// Reading blocks and the stream's ends.
extension StreamCore {
    /// Whether `id` is a live entry.
    func contains(_ id: StreamID) throws(SpoolError) -> Bool {
        if let first = open.entries.first?.id, id >= first {
            return open.entries.contains { $0.id == id } && !open.deleted.contains(id)
        }
        guard let (first, info) = index.floor(id), id <= info.lastID else { return false }
        if blockTombstones[first]?.contains(id) == true { return false }
        return try readBlock(info, first: first).contains { $0.id == id }
    }

    /// Decodes a sealed block.
    func readBlock(_ info: BlockInfo, first: StreamID) throws(SpoolError) -> [StreamEntry] {
        try Self.readBlock(info, first: first, segments: segments)
    }

    static func readBlock(_ info: BlockInfo, first: StreamID, segments: [UInt64: Segment]) throws(SpoolError) -> [StreamEntry] {
        guard let seg = segments[info.segment] else {
            throw SpoolError.closed("segment \(hex16(info.segment)) of block \(first) is gone")
        }
        if let hit = seg.cachedBlock(at: info.offset) { return hit }
        let (header, raw) = try seg.readBlock(offset: info.offset, frameLength: info.frameLength)
        guard header.firstID == first, header.count == info.count else {
            throw SpoolError.corrupt(FormatError(file: seg.path, offset: info.offset, "block header does not match the index (\(header.firstID) vs \(first))"))
        }
        let entries: [StreamEntry]
        do {
            entries = try raw.withBytes { (b) throws(FormatError) in
                try BlockCodec.decode(b, count: Int(header.count), firstID: header.firstID, file: seg.path + " (block payload at \(info.offset))")
            }
        } catch { throw error.spool }
        seg.cacheBlock(entries, at: info.offset)
        return entries
    }

    /// The first live entry's ID, or nil when empty.
    func firstLiveID() throws(SpoolError) -> StreamID? {
        guard length > 0 else { return nil }
        // Without deletions in the first block (or the tail block, when it is the only one)
        // its first entry is live: no block is read (XREADGROUP asks on every call).
        if let (first, info) = index.first {
            if info.deleted == 0 { return first }
        } else if let e = open.entries.first, open.deleted.isEmpty {
            return e.id
        }
        return try StreamReader(snapshot).range(from: .zero, to: .max, count: 1, reverse: false).first?.id
    }

    func lastLiveID() throws(SpoolError) -> StreamID? {
        guard length > 0 else { return nil }
        return try StreamReader(snapshot).range(from: .zero, to: .max, count: 1, reverse: true).first?.id
    }
}
