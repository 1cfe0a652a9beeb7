import SpoolFormat

/// XTRIM and XADD's trim: the plan (Redis's `streamTrim`, node by node), then one TRIM record.
extension StreamCore {
    /// A trim request: MAXLEN or MINID, exact or approximate, with LIMIT.
    mutating func trim(_ spec: TrimSpec) throws(SpoolError) -> (Int, Int64?) {
        guard let through = try trimPlan(spec) else { return (0, nil) }
        let before = length
        let end = try log(.trim(through: through))
        try removeThrough(through)
        return (before - length, end)
    }

    /// Decides, as Redis's `streamTrim` does node by node, the last entry ID to remove.
    func trimPlan(_ spec: TrimSpec) throws(SpoolError) -> StreamID? {
        var limit = 0
        if spec.approximate {
            if let l = spec.limit { limit = l } else {
                limit = 100 * options.nodeMaxEntries
                if limit <= 0 || limit > 1_000_000 { limit = limit <= 0 ? 10000 : 1_000_000 }
            }
        }
        var len = length
        var removed = 0
        var through: StreamID? = nil
        // Nodes in order: sealed blocks, then the open block.
        var cursor = index.first
        var openVisited = false
        while true {
            let first: StreamID, last: StreamID, live: Int, isOpen: Bool
            if let (f, info) = cursor {
                first = f; last = info.lastID; live = info.live; isOpen = false
            } else if !openVisited, !open.entries.isEmpty {
                first = open.entries[0].id; last = open.entries[open.entries.count - 1].id; live = open.live; isOpen = true
                openVisited = true
            } else {
                break
            }
            if case .maxLen(let m) = spec.strategy, len <= m { break }
            if limit > 0 && removed + live > limit { break }
            let removeWhole: Bool
            switch spec.strategy {
            case .maxLen(let m): removeWhole = len - live >= m
            case .minID(let minID): removeWhole = last < minID
            }
            if removeWhole {
                len -= live
                removed += live
                through = last
                cursor = isOpen ? nil : index.successor(of: first)
                if isOpen { break }
                continue
            }
            if spec.approximate { break }
            let entries: [StreamEntry] = isOpen ? open.entries : try readBlock(index[first]!, first: first)
            let tomb: Set<StreamID> = isOpen ? open.deleted : (blockTombstones[first] ?? [])
            for e in entries where !tomb.contains(e.id) {
                switch spec.strategy {
                case .maxLen(let m): if len <= m { return through }
                case .minID(let minID): if e.id >= minID { return through }
                }
                len -= 1
                through = e.id
            }
            break
        }
        return through
    }
}

/// A trim request.
public struct TrimSpec: Sendable, Equatable {
    /// What to keep.
    public enum Strategy: Sendable, Equatable {
        /// Keep the newest N entries.
        case maxLen(Int)
        /// Remove entries with ID below this.
        case minID(StreamID)
    }
    /// MAXLEN or MINID.
    public var strategy: Strategy
    /// `~`: remove whole blocks only.
    public var approximate: Bool
    /// LIMIT (only with `~`); nil = Redis's default (100 × node max entries); 0 = unlimited.
    public var limit: Int?

    /// Creates a trim request.
    public init(_ strategy: Strategy, approximate: Bool = false, limit: Int? = nil) {
        self.strategy = strategy
        self.approximate = approximate
        self.limit = limit
    }
}
