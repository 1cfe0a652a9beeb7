public import SpoolFormat
import SpoolIndex

/// One entry seen in place, inside a decompressed block: nothing is copied until asked for.
/// Valid only during the `scanViews` callback that received it.
public struct EntryView: ~Copyable {
    /// The entry's ID.
    public let id: StreamID
    private let base: UnsafeRawBufferPointer
    private let spans: UnsafeBufferPointer<(Int, Int)>

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
        return try body(UnsafeRawBufferPointer(rebasing: base[start..<(start + length)]).bytes)
    }

    /// A copy of field or value `i`.
    public func bytes(_ i: Int) -> [UInt8] {
        let (start, length) = spans[i]
        return Array(UnsafeRawBufferPointer(rebasing: base[start..<(start + length)]))
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

/// Entries copied into one buffer: no allocation per entry or field. What a group read
/// delivers through `Database.readGroupBatch`; `forEach` shows them as `EntryView`s.
public struct EntryBatch: Sendable {
    /// The entries' IDs, in order.
    public private(set) var ids: [StreamID] = []
    private var bytes: [UInt8] = []
    /// Fields and values of all entries: (start in `bytes`, length).
    private var spans: [(Int, Int)] = []
    /// Where each entry's spans end in `spans`.
    private var ends: [Int] = []

    /// An empty batch.
    public init() {}

    /// Number of entries.
    public var count: Int { ids.count }
    /// True when there are no entries.
    public var isEmpty: Bool { ids.isEmpty }

    /// Copies `view` in.
    mutating func append(_ view: borrowing EntryView) {
        ids.append(view.id)
        for i in 0..<view.count {
            let start = bytes.count
            view.withBytes(i) { span in span.withUnsafeBytes { bytes.append(contentsOf: $0) } }
            spans.append((start, bytes.count - start))
        }
        ends.append(spans.count)
    }

    /// Calls `body` with each entry in order, borrowed from the batch.
    public func forEach(_ body: (borrowing EntryView) throws -> Void) rethrows {
        try bytes.withUnsafeBytes { b in
            try spans.withUnsafeBufferPointer { sp in
                var from = 0
                for (i, end) in ends.enumerated() {
                    try body(EntryView(id: ids[i], base: b, spans: UnsafeBufferPointer(rebasing: sp[from..<end])))
                    from = end
                }
            }
        }
    }

    /// The entries, copied out.
    public var entries: [StreamEntry] {
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
    /// `scanViews` over this snapshot. `reuseBlocks`: decompressed blocks are taken from and
    /// left in each segment's one-block cache (for reads that come back to the block they
    /// stopped in, as group reads in small batches do), instead of one scratch buffer.
    func visitViews(from start: StreamID, to end: StreamID, reuseBlocks: Bool = false,
                    _ body: (borrowing EntryView) -> Bool) throws(SpoolError) {
        guard start <= end else { return }
        let snap = self
        try withoutActuallyEscaping(body) { (body) throws(SpoolError) in
            var sink = SpanSink(body: body)
            sink.lo = start
            sink.hi = end
            var cursor = snap.index.floor(start) ?? snap.index.ceiling(start)
            if let (_, info) = cursor, info.lastID < start { cursor = snap.index.successor(of: cursor!.key) }
            var scratch: [UInt8] = []  // one decompression buffer for every block of the scan
            while let (first, info) = cursor, first <= end, !sink.stopped {
                guard let seg = snap.segments[info.segment] else {
                    throw SpoolError.closed("segment \(hex16(info.segment)) of block \(first) is gone")
                }
                let header: SegmentFormat.BlockHeader
                let raw: [UInt8]
                if reuseBlocks {
                    (header, raw) = try seg.rawBlock(offset: info.offset, frameLength: info.frameLength)
                } else {
                    header = try seg.readBlock(offset: info.offset, frameLength: info.frameLength, into: &scratch)
                    raw = scratch
                }
                sink.tombstones = info.deleted > 0 ? snap.blockTombstones[first] : nil
                sink.master.removeAll(keepingCapacity: true)
                let r: Result<Void, FormatError> = raw.withUnsafeBytes { all in
                    let b = UnsafeRawBufferPointer(rebasing: all[0..<Int(header.rawLength)])
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
                cursor = snap.index.successor(of: first)
            }
            // The tail block lives in memory as entries.
            sink.tombstones = nil
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
