import RESP
import SpoolFormat

/// The Redis side of `spool replay --into redis://…/KEY`: XADDs pipelined in batches, up to
/// ``window`` batches in flight, every reply checked.
///
/// Progress (``acknowledged``) only moves past an entry once the server has answered its XADD
/// (and every XADD before it) without an error, so a resume file written from it never skips an
/// entry the server does not have. An error reply stops the replay at the first failing entry;
/// XADDs after it in the same pipeline may still have been applied by the server (a pipeline is
/// not a transaction), and with original IDs a replay started again skips those, since it
/// begins by reading the key's last-generated-ID.
final class RedisReplaySink {
    /// Entries per pipeline without `--rate`.
    static let defaultBatch = 1000
    /// Pipelines sent but not yet answered, at most.
    static let window = 2

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
    private var inFlight: [Batch] = []
    /// The last source ID the server has (or, for skipped entries, already had).
    private(set) var acknowledged: StreamID? = nil
    private var idText: [UInt8] = []

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
            if pipeline.isEmpty && inFlight.isEmpty { acknowledged = e.id }
            return false
        }
        pipeline.begin(arguments: 3 + e.fields.count)
        pipeline.add("XADD".utf8)
        pipeline.add(key)
        if newIDs {
            pipeline.add(CollectionOfOne(UInt8(ascii: "*")))
        } else {
            idText.removeAll(keepingCapacity: true)
            idText.append(contentsOf: e.id.description.utf8)
            pipeline.add(idText)
        }
        for f in e.fields { pipeline.add(f) }
        pipelineIDs.append(e.id)
        if pipeline.count >= batchSize { try sendPipeline() }
        return true
    }

    /// Sends what is queued; waits for the oldest batches while more than ``window`` are out.
    func sendPipeline() throws(ToolError) {
        guard !pipeline.isEmpty else { return }
        inFlight.append(Batch(replies: connection.send(pipeline), ids: pipelineIDs))
        pipeline = RedisPipeline()
        pipelineIDs.removeAll(keepingCapacity: true)
        while inFlight.count > Self.window { try collectOldest() }
    }

    /// Sends what is queued and waits for every reply.
    func finish() throws(ToolError) {
        try sendPipeline()
        while !inFlight.isEmpty { try collectOldest() }
    }

    private func collectOldest() throws(ToolError) {
        let batch = inFlight.removeFirst()
        let replies = try batch.replies.wait()
        for (i, reply) in replies.enumerated() {
            if case .error(let text) = reply {
                if i > 0 { acknowledged = batch.ids[i - 1] }
                inFlight.removeAll()
                throw ToolError("\(connection.url) rejected XADD of entry \(batch.ids[i]): \(text)")
            }
        }
        acknowledged = batch.ids.last
    }

    func close() { connection.close() }
}
