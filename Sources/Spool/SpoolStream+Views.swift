public import SpoolFormat
import SpoolIndex

/// One entry seen in place, inside a decompressed block: nothing is copied until asked for.
/// Valid only during the `scanViews` callback that received it.
public struct EntryView: ~Copyable {
    /// The entry's ID.
    public let id: StreamID
    private let base: UnsafeRawBufferPointer
    /// (start in `base`, length) of each field and value.
    let spans: UnsafeBufferPointer<(Int, Int)>

    init(id: StreamID, base: UnsafeRawBufferPointer, spans: UnsafeBufferPointer<(Int, Int)>) {
        self.id = id
        self.base = base
        self.spans = spans
    }

    /// Number of fields and values (field, value, field, value…).
    public var count: Int { spans.count }

    /// Byte length of field or value `i`.
    public func length(_ i: Int) -> Int { spans[i].1 }

    /// Calls `body` with the bytes of field or value `i`, borrowed.
    public func withBytes<R>(_ i: Int, _ body: (RawSpan) throws -> R) rethrows -> R {
        let (start, length) = spans[i]
        return try body(base.checkedSlice(start..<(start + length)).bytes)
    }

    /// A copy of field or value `i`.
    public func bytes(_ i: Int) -> [UInt8] {
        let (start, length) = spans[i]
        return Array(base.checkedSlice(start..<(start + length)))
    }

    /// The whole entry, copied.
    public func entry() -> StreamEntry { StreamEntry(id: id, fields: (0..<count).map { bytes($0) }) }
}

/// Collects field positions for `EntryView`; reuses its arrays across entries and blocks.
struct SpanSink: BlockSink {
    var base: UnsafeRawBufferPointer = UnsafeRawBufferPointer(start: nil, count: 0)
    var master: [(Int, Int)] = []
    var spans: [(Int, Int)] = []
    var id = StreamID.zero
    var lo = StreamID.zero, hi = StreamID.max
    var tombstones: Set<StreamID>? = nil
    var stopped = false
    /// A constant, so that calling it per entry retains nothing.
    let body: (borrowing EntryView) -> Bool

    init(body: @escaping (borrowing EntryView) -> Bool) { self.body = body }

    func position(_ b: UnsafeRawBufferPointer) -> (Int, Int) {
        guard let origin = base.baseAddress, let p = b.baseAddress else { return (0, b.count) }
        return (p - origin, b.count)
    }
    mutating func master(_ bytes: UnsafeRawBufferPointer) { master.append(position(bytes)) }
    /// The current entry is outside `[lo, hi]` or deleted: its fields are not collected.
    var skipping = false
    mutating func entry(_ id: StreamID, sameFields: Bool) {
        self.id = id
        skipping = id < lo || id > hi || tombstones?.contains(id) == true
        spans.removeAll(keepingCapacity: true)
    }
    mutating func value(_ index: Int, _ bytes: UnsafeRawBufferPointer) {
        guard !skipping else { return }
        spans.append(master[index])
        spans.append(position(bytes))
    }
    mutating func field(_ bytes: UnsafeRawBufferPointer) {
        guard !skipping else { return }
        spans.append(position(bytes))
    }
    mutating func endEntry() {
        guard !stopped, !skipping else { return }
        let more = spans.withUnsafeBufferPointer { body(EntryView(id: id, base: base, spans: $0)) }
        if !more { stopped = true }
    }
    var isDone: Bool { stopped || id >= hi }
}

/// Delivered entries held without an array per entry or field: spans into the decompressed
/// blocks they came from (shared, not copied: a decoded block never changes) and one buffer of
/// copies for entries of the in-memory tail block. What `Database.readGroupBatch` returns;
/// `forEach` shows the entries as `EntryView`s.
public struct EntryBatch: Sendable {
    /// The entries' IDs, in order.
    public private(set) var ids: [StreamID] = []
    private var buffers: [[UInt8]] = []
    /// Fields and values of all entries: (start in the entry's buffer, length).
    private var spans: [(Int, Int)] = []
    /// Per entry: its buffer and where its spans end in `spans`.
    private var entries: [(buffer: Int, end: Int)] = []
    /// The buffer that copies go into, once there is one.
    private var copies: Int? = nil

    /// An empty batch.
    public init() {}

    /// Number of entries.
    public var count: Int { ids.count }
    /// True when there are no entries.
    public var isEmpty: Bool { ids.isEmpty }

    /// Keeps `buffer` (a decompressed block) for entries that `append(_:in:)` adds; returns its number.
    mutating func keep(_ buffer: [UInt8]) -> Int {
        buffers.append(buffer)
        return buffers.count - 1
    }

    /// Adds an entry whose view lies in kept buffer `buffer`: only its spans are recorded.
    mutating func append(_ view: borrowing EntryView, in buffer: Int) {
        ids.append(view.id)
        spans.append(contentsOf: view.spans)
        entries.append((buffer, spans.count))
    }

    /// Adds an entry by copying its bytes (views into a temporary buffer).
    mutating func append(copying view: borrowing EntryView) {
        let b: Int
        if let c = copies { b = c } else { b = keep([]); copies = b }
        ids.append(view.id)
        for i in 0..<view.count {
            let start = buffers[b].count
            view.withBytes(i) { span in span.withUnsafeBytes { buffers[b].append(contentsOf: $0) } }
            spans.append((start, buffers[b].count - start))
        }
        entries.append((b, spans.count))
    }

    /// Calls `body` with each entry in order, borrowed from the batch.
    public func forEach(_ body: (borrowing EntryView) throws -> Void) rethrows {
        try spans.withUnsafeBufferPointer { sp in
            var from = 0
            for (i, e) in entries.enumerated() {
                try buffers[e.buffer].withUnsafeBytes { b in
                    try body(EntryView(id: ids[i], base: b, spans: UnsafeBufferPointer(rebasing: sp[from..<e.end])))
                }
                from = e.end
            }
        }
    }

    /// The entries, copied out.
    public var streamEntries: [StreamEntry] {
        var out: [StreamEntry] = []
        out.reserveCapacity(count)
        forEach { out.append($0.entry()) }
        return out
    }
}

extension SpoolStream {
    /// Visits live entries in `[start, end]` ascending as borrowed views into the decompressed
    /// blocks: no allocation per entry, for scans that read a few fields or count. `body`
    /// returns false to stop. One consistent snapshot, like `scan`.
    public func scanViews(from start: StreamID = .zero, to end: StreamID = .max,
                          _ body: (borrowing EntryView) -> Bool) throws(SpoolError) {
        try snapshot().visitViews(from: start, to: end, body)
    }
}

extension StreamSnapshot {
    /// The first `limit` live entries with ID ≥ `start`, into `batch` (spans into the blocks).
    func collect(from start: StreamID, limit: Int, into batch: inout EntryBatch) throws(SpoolError) {
        var buffer: Int? = nil
        var n = 0
        try visitViews(from: start, to: .max, keepingBlocks: true, keep: { raw in buffer = raw.map { batch.keep($0) } }) { v in
            if let buffer { batch.append(v, in: buffer) } else { batch.append(copying: v) }
            n += 1
            return n < limit
        }
    }

    /// Blocks at the start of a scan that go through the segments' decompressed-block cache.
    static let cachedLeadingBlocks = 2

    /// `scanViews` over this snapshot. When `keepingBlocks`, decompressed blocks come from each
    /// segment's cache of recent blocks (group reads in small batches come back to the block
    /// they stopped in) instead of one scratch buffer, and each is handed to `keep` before its
    /// entries are visited, so views into it may be kept as spans; nil is handed over before
    /// the views into temporary buffers (the in-memory tail block).
    func visitViews(from start: StreamID, to end: StreamID, keepingBlocks: Bool = false, keep: ([UInt8]?) -> Void = { _ in },
                    _ body: (borrowing EntryView) -> Bool) throws(SpoolError) {
        guard start <= end else { return }
        let snap = self
        try withoutActuallyEscaping(body) { (body) throws(SpoolError) in
            var sink = SpanSink(body: body)
            sink.lo = start
            sink.hi = end
            var cursor = snap.index.floor(start) ?? snap.index.ceiling(start)
            if let (_, info) = cursor, info.lastID < start { cursor = snap.index.successor(of: cursor!.key) }
            var scratch: [UInt8] = []  // one decompression buffer for the blocks of a long scan
            var visited = 0
            while let (first, info) = cursor, first <= end, !sink.stopped {
                guard let seg = snap.segments[info.segment] else {
                    throw SpoolError.closed("segment \(hex16(info.segment)) of block \(first) is gone")
                }
                let header: SegmentFormat.BlockHeader
                let raw: [UInt8]
                // Short ranges (XRANGE … COUNT n) read the same few blocks over and over: their
                // first blocks come from the segment's cache of decompressed blocks.
                if keepingBlocks || visited < Self.cachedLeadingBlocks {
                    (header, raw) = try seg.rawBlock(offset: info.offset, frameLength: info.frameLength)
                    if keepingBlocks { keep(raw) }
                } else {
                    header = try seg.readBlock(offset: info.offset, frameLength: info.frameLength, into: &scratch)
                    raw = scratch
                }
                sink.tombstones = info.deleted > 0 ? snap.blockTombstones[first] : nil
                sink.master.removeAll(keepingCapacity: true)
                let r: Result<Void, FormatError> = raw.withUnsafeBytes { all in
                    let b = all.checkedSlice(0..<Int(header.rawLength))
                    sink.base = b
                    do throws(FormatError) {
                        // The label is built only if the payload is damaged.
                        try BlockCodec.walk(b, count: Int(header.count), firstID: header.firstID, file: seg.path, into: &sink)
                        return .success(())
                    } catch {
                        return .failure(FormatError(file: seg.path + " (decompressed payload of the block at \(info.offset))",
                                                    offset: error.offset, error.reason))
                    }
                }
                if case .failure(let e) = r { throw SpoolError.corrupt(e) }
                visited += 1
                cursor = snap.index.successor(of: first)
            }
            // The tail block lives in memory as entries.
            sink.tombstones = nil
            if keepingBlocks { keep(nil) }
            for e in snap.open.entries where !sink.stopped && e.id >= start && e.id <= end && !snap.open.deleted.contains(e.id) {
                var flat: [UInt8] = []
                var spans: [(Int, Int)] = []
                for f in e.fields {
                    spans.append((flat.count, f.count))
                    flat.append(contentsOf: f)
                }
                let more = flat.withUnsafeBytes { b in
                    spans.withUnsafeBufferPointer { body(EntryView(id: e.id, base: b, spans: $0)) }
                }
                if !more { break }
            }
        }
    }
}
