public import SpoolFormat

/// Where XGROUP CREATE / SETID put a group's last-delivered-ID.
public enum GroupStart: Sendable, Equatable {
    /// `$`: the stream's last-generated-ID.
    case lastEntry
    /// An explicit ID (`0` = from the beginning).
    case id(StreamID)

    /// Parses XGROUP CREATE's (strict) or SETID's (non-strict) ID argument.
    public static func parse(_ bytes: [UInt8], strict: Bool) throws(SpoolError) -> GroupStart {
        if bytes == [UInt8(ascii: "$")] { return .lastEntry }
        return .id(try StreamIDParser.parse(bytes, strict: strict))
    }
}

/// What XREADGROUP reads from one stream.
public enum GroupReadPosition: Sendable, Equatable {
    /// `>`: entries never delivered to the group.
    case new
    /// An explicit ID below the largest: the consumer's own pending entries after it (history).
    case history(after: StreamID)

    /// Parses an XREADGROUP ID argument with Redis's errors for `$` and `+`.
    public static func parse(_ bytes: [UInt8]) throws(SpoolError) -> GroupReadPosition {
        if bytes == [UInt8(ascii: ">")] { return .new }
        if bytes == [UInt8(ascii: "$")] {
            throw SpoolError.command("ERR The $ ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The $ ID would just return an empty result set.")
        }
        if bytes == [UInt8(ascii: "+")] {
            throw SpoolError.command("ERR The + ID is meaningless in the context of XREADGROUP: you want to read the history of this consumer by specifying a proper ID, or use the > ID to get new messages. The + ID would just return an empty result set.")
        }
        let id = try StreamIDParser.parse(bytes, strict: true)
        // Redis spells `>` as the largest ID internally, so an explicit
        // 18446744073709551615-18446744073709551615 reads new entries (and blocks) as `>` does
        // (checked against redis-server 8.2.3): there is no pending entry after it anyway.
        return id == .max ? .new : .history(after: id)
    }
}

/// One entry of an XREADGROUP reply.
public struct GroupReadEntry: Sendable, Equatable {
    /// The entry ID.
    public var id: StreamID
    /// The fields, or nil when the entry was deleted from the stream (history reads: `[id, nil]`).
    public var fields: [[UInt8]]?
    /// With CLAIM: ms the entry had been idle before this delivery (0 for new entries).
    public var idleMs: UInt64
    /// With CLAIM: delivery count before this delivery (0 for new entries).
    public var deliveryCount: UInt64

    /// Creates an entry.
    public init(id: StreamID, fields: [[UInt8]]?, idleMs: UInt64 = 0, deliveryCount: UInt64 = 0) {
        self.id = id
        self.fields = fields
        self.idleMs = idleMs
        self.deliveryCount = deliveryCount
    }
}

/// XREADGROUP's result for one stream.
public struct GroupReadResult: Sendable, Equatable {
    /// The stream key.
    public var key: [UInt8]
    /// Entries delivered, in reply order.
    public var entries: [GroupReadEntry]
    /// Entries that were dead-lettered instead of delivered (not part of the Redis reply).
    public var deadLettered: [StreamID]
}

/// XPENDING summary form.
public struct PendingSummary: Sendable, Equatable {
    /// Number of pending entries.
    public var count: Int
    /// Smallest pending ID, nil when none.
    public var smallestID: StreamID?
    /// Largest pending ID, nil when none.
    public var largestID: StreamID?
    /// Consumers with pending entries, by name, with their counts.
    public var consumers: [(name: [UInt8], pending: Int)]

    public static func == (a: PendingSummary, b: PendingSummary) -> Bool {
        a.count == b.count && a.smallestID == b.smallestID && a.largestID == b.largestID
            && a.consumers.count == b.consumers.count
            && zip(a.consumers, b.consumers).allSatisfy { $0.name == $1.name && $0.pending == $1.pending }
    }
}

/// One pending record as XPENDING's extended form reports it.
public struct PendingEntry: Sendable, Equatable {
    /// Entry ID.
    public var id: StreamID
    /// Owning consumer.
    public var consumer: [UInt8]
    /// ms since the last delivery.
    public var idleMs: UInt64
    /// Delivery count.
    public var deliveryCount: UInt64
    /// Last delivery time (Unix ms), as XINFO STREAM FULL shows it.
    public var deliveryTime: UInt64
}

/// A pending record to restore with ``Database/restoreConsumer(_:_:_:seenMs:activeMs:pending:sync:)``.
public struct RestoredPending: Sendable, Equatable {
    /// Entry ID.
    public var id: StreamID
    /// Delivery count.
    public var deliveryCount: UInt64
    /// Last delivery time, Unix ms.
    public var deliveryTimeMs: UInt64

    /// Creates a record.
    public init(id: StreamID, deliveryCount: UInt64, deliveryTimeMs: UInt64) {
        self.id = id
        self.deliveryCount = deliveryCount
        self.deliveryTimeMs = deliveryTimeMs
    }
}

/// XCLAIM options.
public struct ClaimOptions: Sendable, Equatable {
    /// IDLE ms: the delivery time becomes now − ms.
    public var idleMs: Int64? = nil
    /// TIME ms: the delivery time (Unix ms). Negative or future values become now.
    public var timeMs: Int64? = nil
    /// RETRYCOUNT: the delivery count to set.
    public var retryCount: UInt64? = nil
    /// FORCE: create pending records for existing entries that are not pending.
    public var force = false
    /// JUSTID: return IDs only; the delivery count is not incremented.
    public var justID = false
    /// LASTID: raise the group's last-delivered-ID to this when larger.
    public var lastID: StreamID? = nil

    /// Default options.
    public init() {}
}

/// XCLAIM's result.
public struct ClaimResult: Sendable, Equatable {
    /// Claimed entries (fields nil with JUSTID).
    public var entries: [GroupReadEntry]
    /// Entries that were dead-lettered instead of claimed.
    public var deadLettered: [StreamID]
}

/// XAUTOCLAIM's result.
public struct AutoClaimResult: Sendable, Equatable {
    /// Where the next call should start (`0-0` when the PEL scan reached its end).
    public var nextStart: StreamID
    /// Claimed entries (fields nil with JUSTID).
    public var entries: [GroupReadEntry]
    /// Pending IDs whose entries no longer exist; removed from the PEL.
    public var deletedIDs: [StreamID]
    /// Entries that were dead-lettered instead of claimed.
    public var deadLettered: [StreamID]
}

/// One consumer as XINFO CONSUMERS and XINFO STREAM FULL show it.
public struct ConsumerInfo: Sendable, Equatable {
    /// Name.
    public var name: [UInt8]
    /// Pending entries owned.
    public var pending: Int
    /// ms since last seen (`idle`).
    public var idleMs: Int64
    /// ms since last successful delivery, or -1 (`inactive`).
    public var inactiveMs: Int64
    /// Last seen (Unix ms; `seen-time`).
    public var seenTime: UInt64
    /// Last delivery (Unix ms; `active-time`), -1 when never.
    public var activeTime: Int64
    /// With `StreamFullInfo`: the consumer's pending records (up to COUNT).
    public var pendingEntries: [PendingEntry] = []
}

/// One group as XINFO GROUPS and XINFO STREAM FULL show it, plus Spool's dead-letter settings.
public struct GroupInfo: Sendable, Equatable {
    /// Name.
    public var name: [UInt8]
    /// Number of consumers.
    public var consumers: Int
    /// Pending entries (`pending`, `pel-count`).
    public var pending: Int
    /// `last-delivered-id`.
    public var lastDeliveredID: StreamID
    /// `entries-read`, nil when invalid.
    public var entriesRead: UInt64?
    /// `lag`, nil when unknown (reference §6.1). Signed, as Redis's: entries-read can pass
    /// entries-added (an ENTRIESREAD clamped to entries-added, then a read), and lag is then
    /// negative.
    public var lag: Int64?
    /// Dead-letter maximum delivery count; 0 = dead-lettering off.
    public var maxDeliveries: UInt64
    /// Dead-letter stream (empty when off).
    public var deadLetterStream: [UInt8]
    /// Entries dead-lettered so far.
    public var deadLettered: UInt64
    /// With `StreamFullInfo`: pending records (up to COUNT).
    public var pendingEntries: [PendingEntry] = []
    /// With `StreamFullInfo`: the consumers.
    public var consumerDetails: [ConsumerInfo] = []
}

/// XINFO STREAM FULL.
public struct StreamFullInfo: Sendable, Equatable {
    /// The stream's plain facts.
    public var stream: StreamInfo
    /// The first COUNT entries.
    public var entries: [StreamEntry]
    /// Groups with pending records and consumers.
    public var groups: [GroupInfo]
}

/// What happens to consumer-group references when entries are deleted or trimmed (Redis 8.2).
public enum ReferencePolicy: Sendable, Equatable {
    /// KEEPREF (default): pending records stay as dangling references.
    case keepReferences
    /// DELREF: the entries leave every group's PEL too.
    case deleteReferences
    /// ACKED: only entries no group references are removed.
    case acknowledged
}

/// Per-ID result of XDELEX and XACKDEL.
public enum DeleteResult: Int, Sendable, Equatable {
    /// `-1`: no such entry (XDELEX) or not pending in the group (XACKDEL).
    case notFound = -1
    /// `1`: deleted.
    case deleted = 1
    /// `2`: kept because still referenced (ACKED).
    case referenced = 2
}
