import SpoolFormat

/// XDEL and the deletions of trims: tombstones in blocks, blocks dropped when Redis frees their node.
extension StreamCore {
    /// Marks one live entry deleted; returns whether it was live. A block left without live
    /// entries goes, as Redis frees a node when XDEL deletes its last entry, unless
    /// `keepingEmptyBlock`: Redis's exact trim marks entries in the node where it stops and
    /// keeps that node even when none is left (it still counts in `radix-tree-keys`, and the
    /// next XADD may append to it).
    mutating func deleteOne(_ id: StreamID, keepingEmptyBlock: Bool = false) throws(SpoolError) -> Bool {
        if let first = open.entries.first?.id, id >= first {
            guard !open.deleted.contains(id), open.entries.contains(where: { $0.id == id }) else { return false }
            open.deleted.insert(id)
            length -= 1
            if !keepingEmptyBlock && open.deleted.count == open.entries.count {
                open = OpenBlock()
                releaseReopened(dropped: true)
            }
            return true
        }
        guard let (first, info) = index.floor(id), id <= info.lastID else { return false }
        if blockTombstones[first]?.contains(id) == true { return false }
        guard try readBlock(info, first: first).contains(where: { $0.id == id }) else { return false }
        blockTombstones[first, default: []].insert(id)
        length -= 1
        if !keepingEmptyBlock && Int(info.deleted) + 1 >= Int(info.count) {
            dropBlock(first, info, reason: .deleted)
        } else {
            index.updateValue(forKey: first) { $0.deleted += 1 }
        }
        return true
    }

    /// XDEL: returns the number of entries deleted and the journal offset to sync to.
    mutating func delete(_ ids: [StreamID]) throws(SpoolError) -> (Int, Int64?) {
        var toDelete: [StreamID] = []
        var seen = Set<StreamID>()
        for id in ids where seen.insert(id).inserted {
            if try contains(id) { toDelete.append(id) }
        }
        guard !toDelete.isEmpty else { return (0, nil) }
        let end = try log(.delete(toDelete))
        for id in toDelete {
            _ = try deleteOne(id)
            if id > meta.maxDeletedID { meta.maxDeletedID = id }
        }
        return (toDelete.count, end)
    }

    /// Removes every entry with ID ≤ `through`: whole blocks, then single entries of the block
    /// that straddles it.
    mutating func removeThrough(_ through: StreamID) throws(SpoolError) {
        if let t = trimmedThrough, through <= t { return }
        trimmedThrough = through
        while let (first, info) = index.first, first <= through {
            if info.lastID <= through {
                length -= info.live
                dropBlock(first, info, reason: .trimmed)
                continue
            }
            for e in try readBlock(info, first: first) where e.id <= through {
                _ = try deleteOne(e.id, keepingEmptyBlock: true)
            }
            break
        }
        if let first = open.entries.first?.id, first <= through {
            // Whole (it goes), or the block where the trim stops (it stays).
            let straddles = open.entries[open.entries.count - 1].id > through
            for e in open.entries where e.id <= through { _ = try deleteOne(e.id, keepingEmptyBlock: straddles) }
        }
    }
}
