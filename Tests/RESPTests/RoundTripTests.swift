import NIOCore
import Testing

@testable import RESP

/// Generates random RESP values, including every RESP3 type and awkward content.
struct ValueGenerator {
    var rng: SplitMix64

    mutating func int(_ range: ClosedRange<Int>) -> Int { Int.random(in: range, using: &rng) }

    mutating func bytes(max: Int = 24) -> [UInt8] {
        (0..<int(0...max)).map { _ in UInt8.random(in: 0...255, using: &rng) }
    }

    mutating func text(max: Int = 16) -> String {
        let pool: [Unicode.Scalar] = ["a", "Z", "0", " ", "\r", "\n", ":", "$", "*", "é", "☃", "🙂", "\t", "-", "_"]
        var s = ""
        for _ in 0..<int(0...max) { s.unicodeScalars.append(pool[int(0...(pool.count - 1))]) }
        return s
    }

    mutating func double() -> Double {
        switch int(0...7) {
        case 0: return .infinity
        case 1: return -.infinity
        case 2: return .nan
        case 3: return Double(int(-1000...1000))
        case 4: return -0.0
        case 5: return Double(bitPattern: rng.next())  // any finite/inf/nan bit pattern
        default: return Double.random(in: -1e6...1e6, using: &rng)
        }
    }

    mutating func value(depth: Int = 0) -> RESPValue {
        let leafOnly = depth >= 4
        switch int(0...(leafOnly ? 13 : 18)) {
        case 0: return .simpleString(text())
        case 1: return .error(text())
        case 2:
            let bits = int(0...63)
            let m = Int64.random(in: 0...(Int64(1) << bits) &- 1 | 1, using: &rng)
            return .integer(Bool.random(using: &rng) ? m : -m)
        case 3, 4: return .bulk(bytes())
        case 5: return .nullBulk
        case 6: return .nullArray
        case 7: return .null
        case 8: return .boolean(Bool.random(using: &rng))
        case 9: return .double(double())
        case 10:
            let digits = (0..<int(1...40)).map { _ in String(int(0...9)) }.joined()
            return .bigNumber((Bool.random(using: &rng) ? "-" : "") + digits)
        case 11: return .bulkError(text())
        case 12: return .verbatimString(format: ["txt", "mkd"][int(0...1)], text: buffer(bytes()))
        case 13: return .integer(0)
        case 14: return .array((0..<int(0...5)).map { _ in value(depth: depth + 1) })
        case 15: return .map((0..<int(0...4)).map { _ in (value(depth: depth + 1), value(depth: depth + 1)) })
        case 16: return .set((0..<int(0...5)).map { _ in value(depth: depth + 1) })
        case 17: return .push((0..<int(0...5)).map { _ in value(depth: depth + 1) })
        default: return .array([])
        }
    }
}

private func clean(_ s: String) -> String {
    String(decoding: s.utf8.map { $0 == 13 || $0 == 10 ? 32 : $0 }, as: UTF8.self)
}

/// What a value becomes after being encoded for `version` and parsed back.
func normalized(_ v: RESPValue, _ version: RESPProtocolVersion) -> RESPValue {
    switch (v, version) {
    case (.simpleString(let s), _): return .simpleString(clean(s))
    case (.error(let s), _): return .error(clean(s))
    case (.array(let a), _): return .array(a.map { normalized($0, version) })
    case (.null, .v2): return .nullBulk
    case (.nullBulk, .v3), (.nullArray, .v3): return .null
    case (.boolean(let b), .v2): return .integer(b ? 1 : 0)
    case (.double(let d), .v2): return .bulk(RESPEncoder.doubleText(d))
    case (.bigNumber(let s), .v2): return .bulk(s)
    case (.bulkError(let s), .v2): return .error(clean(s))
    case (.verbatimString(_, let t), .v2): return .bulkString(t)
    case (.map(let pairs), .v2): return .array(pairs.flatMap { [normalized($0.0, .v2), normalized($0.1, .v2)] })
    case (.map(let pairs), .v3): return .map(pairs.map { (normalized($0.0, .v3), normalized($0.1, .v3)) })
    case (.set(let a), .v2), (.push(let a), .v2): return .array(a.map { normalized($0, .v2) })
    case (.set(let a), .v3): return .set(a.map { normalized($0, .v3) })
    case (.push(let a), .v3): return .push(a.map { normalized($0, .v3) })
    default: return v
    }
}

@Suite("Encode → parse round trips")
struct RoundTripTests {
    @Test("random values", arguments: [RESPProtocolVersion.v2, .v3], [UInt64(1), 2, 3, 0xC0FFEE])
    func randomValues(version: RESPProtocolVersion, seed: UInt64) throws {
        var gen = ValueGenerator(rng: SplitMix64(seed: seed))
        for i in 0..<400 {
            let value = gen.value()
            let encoded = RESPEncoder.encode(value, protocol: version)
            var parser = RESPParser()
            var input = encoded
            let parsed = try parser.parse(from: &input)
            #expect(parsed == normalized(value, version), "seed \(seed) iteration \(i): \(value)")
            #expect(input.readableBytes == 0)
            // Re-encoding what was parsed gives the same bytes.
            if let parsed {
                #expect(RESPEncoder.encode(parsed, protocol: version) == encoded, "seed \(seed) iteration \(i)")
            }
        }
    }

    @Test("random values fed in random chunks", arguments: [RESPProtocolVersion.v2, .v3])
    func chunkedStream(version: RESPProtocolVersion) throws {
        var gen = ValueGenerator(rng: SplitMix64(seed: 7))
        var rng = SplitMix64(seed: 8)
        var values: [RESPValue] = []
        var stream = ByteBuffer()
        for _ in 0..<300 {
            let v = gen.value()
            values.append(normalized(v, version))
            RESPEncoder.encode(v, protocol: version, into: &stream)
        }
        let bytes = stream.bytes
        for chunking in 0..<3 {
            let chunks = chunking == 0 ? Array(repeating: 1, count: bytes.count) : randomChunks(bytes.count, using: &rng, maxChunk: 64)
            var parser = RESPParser()
            var cumulation = ByteBuffer()
            var out: [RESPValue] = []
            var offset = 0
            for size in chunks {
                cumulation.writeBytes(bytes[offset..<(offset + size)])
                offset += size
                out += try parser.parseAll(from: &cumulation)
                if Bool.random(using: &rng) { cumulation.discardReadBytes() }
            }
            #expect(cumulation.readableBytes == 0)
            #expect(out == values)
        }
    }

    @Test func specialDoublesRoundTripExactly() throws {
        var rng = SplitMix64(seed: 42)
        var samples: [Double] = [0.1, 1.0 / 3.0, .pi, 1e-300, .leastNonzeroMagnitude, .greatestFiniteMagnitude, -1e22, 123456789.123]
        for _ in 0..<2000 {
            let d = Double(bitPattern: rng.next())
            if d.isFinite { samples.append(d) }
        }
        for d in samples {
            var parser = RESPParser()
            var buf = RESPEncoder.encode(.double(d), protocol: .v3)
            guard case .double(let back)? = try parser.parse(from: &buf) else {
                Issue.record("not a double for \(d)")
                continue
            }
            #expect(back.bitPattern == d.bitPattern || (d == 0 && back == 0), "\(d)")
        }
    }
}
