import NIOCore
import RESP

/// Output: replies into each client's outbox, Redis's output-buffer limits, the hand-off to the
/// event loops, and the buffer peaks INFO reports.
extension ServerState {
    func noteOutput(_ c: ClientSession) {
        if c.outbox.readableBytes > 0 || c.closing { withOutput.append(c) }
    }

    /// Writes `value` to `c` in its protocol.
    func reply(_ c: ClientSession, _ value: RESPValue) {
        let empty = c.outbox.readableBytes == 0
        c.write(value)
        if empty { withOutput.append(c) }
        enforceOutputLimit(c)
    }

    /// Bytes of replies `c` has not received yet: produced this round, or handed to the
    /// connection and not yet written to its socket.
    func outputBytes(_ c: ClientSession) -> Int {
        c.outbox.readableBytes + c.connection.buffers.unwrittenBytes.load(ordering: .relaxed)
    }

    /// The size of Redis's fixed per-client reply buffer (`PROTO_REPLY_CHUNK_BYTES`).
    static let fixedReplyBufferBytes = 16 * 1024

    /// Bytes `c` sent that have not run yet (CLIENT LIST `qbuf`).
    func queryBytes(_ c: ClientSession) -> Int {
        let b = c.connection.buffers
        return b.unparsed.load(ordering: .relaxed) + b.inFlight.load(ordering: .relaxed) + c.pendingBytes
    }

    /// Redis's `checkClientOutputBufferLimits` for a normal client, checked as replies are
    /// added: at the hard limit, or above the soft limit for longer than its seconds, the client
    /// is closed at once and what it has not read is dropped.
    ///
    /// Redis does not count the first bytes, those in its fixed per-client reply buffer (16 KiB),
    /// only the reply list beyond it; the same allowance is made here, so that a tiny limit
    /// closes the same clients in both.
    ///
    /// A client that has not authenticated yet may not queue more than 1 KiB beyond that fixed
    /// buffer whatever the limits (Redis's fix for CVE-2025-21605, in Debian's 7.0.15).
    func enforceOutputLimit(_ c: ClientSession) {
        let limit = settings.clientOutputBufferLimits.normal
        guard !limit.isUnlimited || !c.authenticated, !c.closing else { return }
        let used = max(0, outputBytes(c) - Self.fixedReplyBufferBytes)
        let hard = (limit.hardBytes > 0 && used >= limit.hardBytes) || (!c.authenticated && used > 1024)
        var soft = false
        if limit.softBytes > 0 && used >= limit.softBytes {
            let now = Self.uptimeSeconds()
            if let since = c.softLimitReachedAt {
                soft = now - since > Int64(limit.softSeconds)
            } else {
                c.softLimitReachedAt = now
            }
        } else {
            c.softLimitReachedAt = nil
        }
        guard hard || soft else { return }
        logger.warning("Client \(CommandTable.clientLine(self, c)) scheduled to be closed ASAP for overcoming of output buffer limits.")
        drop(c)
    }

    /// Hands every pending reply to its connection (one write and flush per client), in one
    /// task per event loop: a reply written from off the loop would cost a hop (and a wake-up)
    /// of its own.
    func flushOutput() {
        let list = withOutput
        withOutput = []
        typealias Delivery = (deliver: @Sendable (ByteBuffer, Bool) -> Void, bytes: ByteBuffer, close: Bool)
        var byLoop: [ObjectIdentifier: (loop: any EventLoop, deliveries: [Delivery])] = [:]
        for c in list {
            let closing = c.closing
            let delivery: Delivery
            if c.dropOutput {
                c.outbox.clear()
                delivery = (c.connection.deliver, ByteBuffer(), true)
            } else {
                guard c.outbox.readableBytes > 0 || closing else { continue }
                delivery = (c.connection.deliver, c.outbox, closing)
                c.lastOutboxBytes = c.outbox.readableBytes
                c.outbox = ByteBuffer()
            }
            if let loop = c.connection.eventLoop {
                byLoop[ObjectIdentifier(loop), default: (loop, [])].deliveries.append(delivery)
            } else {
                delivery.deliver(delivery.bytes, delivery.close)
            }
        }
        for (loop, deliveries) in byLoop.values {
            loop.execute { for d in deliveries { d.deliver(d.bytes, d.close) } }
        }
    }

    /// Folds every client's buffer peaks since the last call into the current second (the
    /// executor's clients cron calls this every second, INFO before reporting).
    func sampleClientPeaks() {
        let now = Self.uptimeSeconds()
        for c in clients.values { foldPeaks(of: c, intoSlotAt: now) }
    }

    /// Folds one client's peaks into the slot of second `now` (also when it disconnects, so a
    /// client closed for its query buffer still shows in INFO).
    func foldPeaks(of c: ClientSession, intoSlotAt now: Int64) {
        let slot = Int(now % Int64(bufferPeaks.count))
        if bufferPeaks[slot].second != now { bufferPeaks[slot] = (now, 0, 0) }
        let b = c.connection.buffers
        let input = max(queryBytes(c), b.queryPeak.exchange(0, ordering: .relaxed))
        let output = max(outputBytes(c), b.outputPeak.exchange(0, ordering: .relaxed))
        bufferPeaks[slot].input = max(bufferPeaks[slot].input, input)
        bufferPeaks[slot].output = max(bufferPeaks[slot].output, output)
    }

    static func uptimeSeconds() -> Int64 {
        Int64(NIODeadline.now().uptimeNanoseconds / 1_000_000_000)
    }

    /// The largest client query and output buffers of the last 8 seconds.
    var recentBufferPeaks: (input: Int, output: Int) {
        sampleClientPeaks()
        let now = Self.uptimeSeconds()
        var result = (input: 0, output: 0)
        for p in bufferPeaks where p.second > now - Int64(bufferPeaks.count) {
            result.input = max(result.input, p.input)
            result.output = max(result.output, p.output)
        }
        return result
    }
}
