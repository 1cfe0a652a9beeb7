import RESP
import SpoolFormat

/// The Redis side of `spool replay --into redis://…/KEY`: XADDs in batches, each batch one
/// pipelined `MULTI … EXEC`, every reply checked.
///
/// Why a transaction per batch, and only one batch on the server at a time: in a bare pipeline
/// a server that refuses one XADD (`OOM`, `READONLY`, `MISCONF`) may accept a later one once
/// its state changes, and with original IDs the refused entry could then never be added — a
/// gap. Redis refuses a whole transaction (`EXECABORT`) when it refuses any command while
/// queueing it, so a batch is applied entirely or not at all; and the next batch is sent only
/// after this one is answered, so a refused batch is never followed by an applied one. The
/// next batch is encoded while the server works on the current one.
///
/// Progress (``acknowledged``) only moves past an entry once the server has answered its XADD
/// and every one before it without an error, so a resume file written from it never skips an
/// entry the server does not have. An error stops the replay with the server's text. (An error
/// EXEC itself returns for one XADD — an ID below the key's top item, written by someone else
/// meanwhile — does not undo the XADDs after it in the batch; the error says which entry failed.)
final class RedisReplaySink {
    /// Entries per batch without `--rate`.
    static let defaultBatch = 1000

    private struct Batch {
        var replies: RedisReplies
        var ids: [StreamID]
    }

    let connection: RedisConnection
    let key: [UInt8]
    let newIDs: Bool
    let batchSize: Int
    /// The key's last-generated-ID when the replay started (zero for a new key).
    let targetLast: StreamID
    private var pipeline = RedisPipeline()
    private var pipelineIDs: [StreamID] = []
    private var inFlight: Batch? = nil
    /// The last source ID the server has (or, for skipped entries, already had).
    private(set) var acknowledged: StreamID? = nil

    /// Connects and reads the key's last-generated-ID (XINFO STREAM); a key of another type is
    /// refused before anything is written. With `rate`, a batch holds about 50 ms of entries so
    /// they leave at the rate asked for rather than in bursts.
    init(_ url: RedisURL, newIDs: Bool, rate: Double?) throws(ToolError) {
        guard let key = url.key else { throw ToolError("\(url) names no key") }
        self.key = key
        self.newIDs = newIDs
        if let rate, rate > 0 {
            batchSize = max(1, min(Self.defaultBatch, Int(rate / 20)))
        } else {
            batchSize = Self.defaultBatch
        }
        connection = try RedisConnection(url)
        do throws(ToolError) {
            targetLast = try Self.lastGeneratedID(connection, key: key)
        } catch {
            connection.close()
            throw error
        }
    }

    /// XINFO STREAM's last-generated-id; zero when the key does not exist.
    static func lastGeneratedID(_ connection: RedisConnection, key: [UInt8]) throws(ToolError) -> StreamID {
        let reply = try connection.call([Array("XINFO".utf8), Array("STREAM".utf8), key])
        if case .error(let text) = reply {
            if text.hasPrefix("ERR no such key") { return .zero }
            throw ToolError("the target \(connection.url) key \(Escaping.text(key)) cannot be replayed into: \(text)")
        }
        guard let id = reply.fieldTable?["last-generated-id"]?.streamIDValue else {
            throw ToolError("XINFO STREAM on \(connection.url) gave no last-generated-id: \(reply)")
        }
        return id
    }

    /// Queues `e`; false when the key already passed its ID (original IDs only).
    func write(_ e: StreamEntry) throws(ToolError) -> Bool {
        if !newIDs && e.id <= targetLast {
            if pipeline.isEmpty && inFlight == nil { acknowledged = e.id }
            return false
        }
        if pipeline.isEmpty { pipeline.append("MULTI") }
        // One mutation of `pipeline` per entry: each access to a class's property is checked
        // for exclusivity at run time, which costs more than encoding a short argument.
        pipeline.append([Self.xadd, key, newIDs ? Self.autoID : Self.idText(e.id)], then: e.fields)
        pipelineIDs.append(e.id)
        if pipelineIDs.count >= batchSize { try sendPipeline() }
        return true
    }

    /// Waits for the batch on the server, then sends the queued one.
    func sendPipeline() throws(ToolError) {
        guard !pipeline.isEmpty else { return }
        try collect()
        pipeline.append("EXEC")
        inFlight = Batch(replies: connection.send(pipeline), ids: pipelineIDs)
        pipeline = RedisPipeline()
        pipelineIDs = []
    }

    /// Sends what is queued and waits for every reply.
    func finish() throws(ToolError) {
        try sendPipeline()
        try collect()
    }

    /// Waits for the batch on the server and checks its replies: `OK` to MULTI, `QUEUED` to each
    /// XADD, and EXEC's array of IDs.
    private func collect() throws(ToolError) {
        guard let batch = inFlight else { return }
        inFlight = nil
        let replies = try batch.replies.wait()
        let range = "\(batch.ids.first!)…\(batch.ids.last!)"
        if case .error(let text) = replies[0] { throw ToolError("\(connection.url) refused MULTI before entries \(range): \(text)") }
        for (i, reply) in replies[1..<(replies.count - 1)].enumerated() {
            if case .error(let text) = reply {
                throw ToolError("\(connection.url) rejected XADD of entry \(batch.ids[i]) (and so the batch \(range)): \(text)")
            }
        }
        switch replies[replies.count - 1] {
        case .error(let text):
            throw ToolError("\(connection.url) rejected the batch \(range): \(text)")
        case .array(let results) where results.count == batch.ids.count:
            for (i, r) in results.enumerated() {
                if case .error(let text) = r {
                    if i > 0 { acknowledged = batch.ids[i - 1] }
                    throw ToolError("\(connection.url) rejected XADD of entry \(batch.ids[i]): \(text)")
                }
            }
            acknowledged = batch.ids.last
        case let other:
            throw ToolError("\(connection.url) answered EXEC of entries \(range) with \(other)")
        }
    }

    func close() { connection.close() }

    static let xadd = Array("XADD".utf8)
    static let autoID = [UInt8(ascii: "*")]

    /// `ms-seq` (each part's text fits a small string: no allocation).
    static func idText(_ id: StreamID) -> [UInt8] {
        var text: [UInt8] = []
        text.reserveCapacity(41)
        text.append(contentsOf: String(id.ms).utf8)
        text.append(UInt8(ascii: "-"))
        text.append(contentsOf: String(id.seq).utf8)
        return text
    }
}
