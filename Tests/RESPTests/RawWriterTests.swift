import NIOCore
import Testing

@testable import RESP

@Suite("RESPRawWriter writes what RESPEncoder writes")
struct RawWriterTests {
    /// Random entries-shaped replies (`[[ms-seq, [f, v, …]], …]`, the shape XRANGE sends), written
    /// through the raw writer with sizes computed as the server computes them, against the
    /// encoding of the same value tree.
    @Test func entriesMatchTheValueTree() {
        var rng = SplitMix64(seed: 7)
        let edges: [UInt64] = [0, 1, 9, 10, 99, 100, 1_699_958_537_443, UInt64(Int64.max), .max - 1, .max]
        for _ in 0..<100 {
            let count = Int.random(in: 0...12, using: &rng)
            var entries: [(UInt64, UInt64, [[UInt8]])] = []
            for _ in 0..<count {
                let ms = Bool.random(using: &rng) ? edges.randomElement(using: &rng)! : UInt64.random(in: 0...UInt64.max, using: &rng)
                let seq = Bool.random(using: &rng) ? edges.randomElement(using: &rng)! : UInt64.random(in: 0...1000, using: &rng)
                let fields = (0..<(2 * Int.random(in: 1...6, using: &rng))).map { _ in
                    (0..<Int.random(in: 0...(Bool.random(using: &rng) ? 3 : 300), using: &rng)).map { _ in UInt8.random(in: 0...255, using: &rng) }
                }
                entries.append((ms, seq, fields))
            }
            let tree = RESPValue.array(entries.map { ms, seq, fields in
                .array([.bulk("\(ms)-\(seq)"), .array(fields.map { .bulk($0) })])
            })
            var raw = ByteBuffer()
            var size = RESPRawWriter.headerSize
            for (_, _, fields) in entries {
                size += 2 * RESPRawWriter.headerSize + RESPRawWriter.decimalPairBulkSize
                for f in fields { size += RESPRawWriter.bulkSize(f.count) }
            }
            RESPEncoder.withRawWriter(maxBytes: size, into: &raw) { w in
                w.arrayHeader(entries.count)
                for (ms, seq, fields) in entries {
                    w.arrayHeader(2)
                    w.bulkDecimalPair(ms, UInt8(ascii: "-"), seq)
                    w.arrayHeader(fields.count)
                    for f in fields { w.bulk(f) }
                }
            }
            for version in RESPProtocolVersion.allCases {
                #expect(raw.bytes == RESPEncoder.encode(tree, protocol: version).bytes)
            }
        }
    }

    /// Bytes written before and after a raw write stay where they are.
    @Test func appendsToWhatIsThere() {
        var b = ByteBuffer(string: "+OK\r\n")
        RESPEncoder.withRawWriter(maxBytes: RESPRawWriter.decimalPairBulkSize, into: &b) { w in
            w.bulkDecimalPair(1, UInt8(ascii: "-"), 0)
        }
        b.writeString(":1\r\n")
        #expect(String(buffer: b) == "+OK\r\n$3\r\n1-0\r\n:1\r\n")
    }
}
