import SpoolFiles
import SpoolFormat
import SpoolIndex

/// Reads entries from a snapshot, outside the stream's lock.
struct StreamReader {
    let snap: StreamSnapshot

    init(_ snap: StreamSnapshot) { self.snap = snap }

    /// Live entries with `lo ≤ id ≤ hi`, ascending (or descending when `reverse`), at most
    /// `count` (nil = all).
    func range(from lo: StreamID, to hi: StreamID, count: Int?, reverse: Bool) throws(SpoolError) -> [StreamEntry] {
        var out: [StreamEntry] = []
        if let c = count, c <= 0 { return out }
        guard lo <= hi else { return out }
        let limit = count ?? Int.max
        try visit(from: lo, to: hi, reverse: reverse) { e in
            out.append(e)
            return out.count < limit
        }
        return out
    }

    /// Calls `body` with each live entry in `[lo, hi]` in order until it returns false.
    func visit(from lo: StreamID, to hi: StreamID, reverse: Bool, _ body: (StreamEntry) -> Bool) throws(SpoolError) {
        guard lo <= hi else { return }
        let open = snap.open
        let openFirst = open.entries.first?.id
        if reverse {
            if let of = openFirst, hi >= of {
                for e in open.entries.reversed() where e.id <= hi {
                    if e.id < lo { return }
                    if open.deleted.contains(e.id) { continue }
                    if !body(e) { return }
                }
            }
            var cursor = snap.index.floor(hi)
            while let (first, info) = cursor {
                if info.lastID < lo { return }
                let tomb = info.deleted > 0 ? snap.blockTombstones[first] : nil
                let entries = try StreamCore.readBlock(info, first: first, segments: snap.segments)
                for e in entries.reversed() where e.id <= hi {
                    if e.id < lo { return }
                    if let tomb, tomb.contains(e.id) { continue }
                    if !body(e) { return }
                }
                cursor = snap.index.predecessor(of: first)
            }
            return
        }
        var cursor = snap.index.floor(lo) ?? snap.index.ceiling(lo)
        if let (_, info) = cursor, info.lastID < lo { cursor = snap.index.successor(of: cursor!.key) }
        while let (first, info) = cursor {
            if first > hi { return }
            let tomb = info.deleted > 0 ? snap.blockTombstones[first] : nil
            let entries = try StreamCore.readBlock(info, first: first, segments: snap.segments)
            for e in entries where e.id >= lo {
                if e.id > hi { return }
                if let tomb, tomb.contains(e.id) { continue }
                if !body(e) { return }
            }
            cursor = snap.index.successor(of: first)
        }
        if let of = openFirst, hi >= of {
            for e in open.entries where e.id >= lo {
                if e.id > hi { return }
                if open.deleted.contains(e.id) { continue }
                if !body(e) { return }
            }
        }
    }
}
