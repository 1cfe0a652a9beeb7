import SpoolFormat
import SpoolTools
import Testing

@Suite("times, bounds and escaping")
struct TimeAndEscapingTests {
    let now: UInt64 = 1_764_158_400_000  // 2025-11-26T12:00:00Z

    @Test("ISO-8601 forms", arguments: [
        ("1970-01-01T00:00:00Z", UInt64(0)),
        ("2026-11-26T12:00:00Z", UInt64(1_795_694_400_000)),
        ("2026-11-26T12:00:00.250Z", UInt64(1_795_694_400_250)),
        ("2026-11-26T12:00:00.1234Z", UInt64(1_795_694_400_123)),
        ("2026-11-26T14:00:00+02:00", UInt64(1_795_694_400_000)),
        ("2026-11-26T07:30:00-0430", UInt64(1_795_694_400_000)),
        ("2026-11-26T12:00", UInt64(1_795_694_400_000)),
        ("2026-11-26", UInt64(1_795_651_200_000)),
        ("2024-02-29T00:00:00Z", UInt64(1_709_164_800_000)),
        ("2000-03-01 00:00:00Z", UInt64(951_868_800_000)),
    ])
    func iso(_ text: String, _ expected: UInt64) throws {
        #expect(try TimeParser.milliseconds(text, nowMs: now) == expected)
    }

    @Test("epoch milliseconds, relative times and now")
    func relativeAndEpoch() throws {
        #expect(try TimeParser.milliseconds("1764158400000", nowMs: 0) == 1_764_158_400_000)
        #expect(try TimeParser.milliseconds("-1h", nowMs: now) == now - 3_600_000)
        #expect(try TimeParser.milliseconds("-15m", nowMs: now) == now - 900_000)
        #expect(try TimeParser.milliseconds("-1d12h", nowMs: now) == now - 129_600_000)
        #expect(try TimeParser.milliseconds("-30s", nowMs: now) == now - 30_000)
        #expect(try TimeParser.milliseconds("-250ms", nowMs: now) == now - 250)
        #expect(try TimeParser.milliseconds("-2w", nowMs: now) == now - 1_209_600_000)
        #expect(try TimeParser.milliseconds("+1h", nowMs: now) == now + 3_600_000)
        #expect(try TimeParser.milliseconds("-100000d", nowMs: now) == 0)
        #expect(try TimeParser.milliseconds("now", nowMs: now) == now)
    }

    @Test("malformed times are errors with a reason", arguments: [
        "", "-", "-1", "-h", "-1y", "2026-13-01", "2026-02-30", "2026-11-26T25:00:00Z", "2026-11-26T12:00:00Q",
        "26-11-2026", "tomorrow", "99999999999999999999999", "1969-12-31T23:59:59Z",
    ])
    func malformed(_ text: String) {
        #expect(throws: ToolError.self) { try TimeParser.milliseconds(text, nowMs: 1_764_158_400_000) }
    }

    @Test("formatting milliseconds round-trips")
    func format() throws {
        for ms: UInt64 in [0, 951_868_800_000, 1_709_164_800_000, 1_795_694_400_250, 4_102_444_800_999] {
            #expect(try TimeParser.milliseconds(TimeParser.iso8601(milliseconds: ms), nowMs: 0) == ms)
        }
        #expect(TimeParser.iso8601(milliseconds: 1_795_694_400_250) == "2026-11-26T12:00:00.250Z")
    }

    @Test("range bounds: IDs, exclusive IDs, times as first or last ID of their millisecond")
    func bounds() throws {
        #expect(try RangeBound.parse("-", isStart: true, nowMs: now) == .zero)
        #expect(try RangeBound.parse("+", isStart: false, nowMs: now) == .max)
        #expect(try RangeBound.parse("5-3", isStart: true, nowMs: now) == StreamID(5, 3))
        #expect(try RangeBound.parse("(5-3", isStart: true, nowMs: now) == StreamID(5, 4))
        #expect(try RangeBound.parse("(5-0", isStart: false, nowMs: now) == StreamID(4, .max))
        #expect(try RangeBound.parse("1700000000000", isStart: true, nowMs: now) == StreamID(1_700_000_000_000, 0))
        #expect(try RangeBound.parse("1700000000000", isStart: false, nowMs: now) == StreamID(1_700_000_000_000, .max))
        #expect(try RangeBound.parse("-1h", isStart: true, nowMs: now) == StreamID(now - 3_600_000, 0))
        #expect(try RangeBound.parse("2026-11-26T12:00:00Z", isStart: false, nowMs: now) == StreamID(1_795_694_400_000, .max))
        #expect(throws: ToolError.self) { try RangeBound.parse("(18446744073709551615-18446744073709551615", isStart: true, nowMs: now) }
    }

    @Test("text escaping is plain when it can be, quoted and escaped when it must")
    func textEscaping() {
        #expect(Escaping.text(Array("orders".utf8)) == "orders")
        #expect(Escaping.text(Array("héllo→".utf8)) == "héllo→")
        #expect(Escaping.text([]) == "\"\"")
        #expect(Escaping.text(Array("a b".utf8)) == "\"a b\"")
        #expect(Escaping.text(Array("q\"\\".utf8)) == #""q\"\\""#)
        #expect(Escaping.text([0x00, 0x0A, 0x7F, 0xFF, 0xC3]) == #""\x00\n\x7f\xff\xc3""#)
        #expect(Escaping.text([0xE2, 0x82, 0xAC, 0xED, 0xA0, 0x80]) == #""€\xed\xa0\x80""#)
    }

    @Test("JSON escaping: strings when UTF-8, base64 otherwise")
    func jsonEscaping() {
        #expect(Escaping.json(Array("a\"\n\u{01}é".utf8)) == #""a\"\n\u0001é""#)
        #expect(Escaping.json([0xFF]) == #"{"base64":"/w=="}"#)
        #expect(Escaping.base64(Array("foobar".utf8)) == "Zm9vYmFy")
        #expect(Escaping.base64(Array("fooba".utf8)) == "Zm9vYmE=")
        #expect(Escaping.base64([]) == "")
    }
}
