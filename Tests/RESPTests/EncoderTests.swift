import NIOCore
import Testing

@testable import RESP

@Suite("RESPEncoder exact bytes")
struct EncoderTests {
    struct Case: CustomTestStringConvertible, Sendable {
        var value: RESPValue
        var v2: String
        var v3: String
        var testDescription: String { value.description }
    }

    static let cases: [Case] = [
        Case(value: .ok, v2: "+OK\r\n", v3: "+OK\r\n"),
        Case(value: .simpleString(""), v2: "+\r\n", v3: "+\r\n"),
        Case(value: .simpleString("a\r\nb\nc\rd"), v2: "+a  b c d\r\n", v3: "+a  b c d\r\n"),
        Case(value: .error("ERR syntax error"), v2: "-ERR syntax error\r\n", v3: "-ERR syntax error\r\n"),
        Case(value: .error("ERR bad\r\nthing"), v2: "-ERR bad  thing\r\n", v3: "-ERR bad  thing\r\n"),
        Case(value: .integer(0), v2: ":0\r\n", v3: ":0\r\n"),
        Case(value: .integer(7), v2: ":7\r\n", v3: ":7\r\n"),
        Case(value: .integer(-1), v2: ":-1\r\n", v3: ":-1\r\n"),
        Case(value: .integer(-9), v2: ":-9\r\n", v3: ":-9\r\n"),
        Case(value: .integer(10), v2: ":10\r\n", v3: ":10\r\n"),
        Case(value: .integer(1_234_567_890), v2: ":1234567890\r\n", v3: ":1234567890\r\n"),
        Case(value: .integer(.max), v2: ":9223372036854775807\r\n", v3: ":9223372036854775807\r\n"),
        Case(value: .integer(.min), v2: ":-9223372036854775808\r\n", v3: ":-9223372036854775808\r\n"),
        Case(value: .bulk("foo"), v2: "$3\r\nfoo\r\n", v3: "$3\r\nfoo\r\n"),
        Case(value: .bulk(""), v2: "$0\r\n\r\n", v3: "$0\r\n\r\n"),
        Case(value: .bulk("a\r\nb"), v2: "$4\r\na\r\nb\r\n", v3: "$4\r\na\r\nb\r\n"),
        Case(value: .bulk(42), v2: "$2\r\n42\r\n", v3: "$2\r\n42\r\n"),
        Case(value: .decimalPair(1_700_000_000_000, UInt8(ascii: "-"), 0), v2: "$15\r\n1700000000000-0\r\n", v3: "$15\r\n1700000000000-0\r\n"),
        Case(value: .decimalPair(0, UInt8(ascii: "-"), 1), v2: "$3\r\n0-1\r\n", v3: "$3\r\n0-1\r\n"),
        Case(value: .decimalPair(.max, UInt8(ascii: "-"), .max), v2: "$41\r\n18446744073709551615-18446744073709551615\r\n",
             v3: "$41\r\n18446744073709551615-18446744073709551615\r\n"),
        Case(value: .nullBulk, v2: "$-1\r\n", v3: "_\r\n"),
        Case(value: .nullArray, v2: "*-1\r\n", v3: "_\r\n"),
        Case(value: .null, v2: "$-1\r\n", v3: "_\r\n"),
        Case(value: .array([]), v2: "*0\r\n", v3: "*0\r\n"),
        Case(
            value: .array([.bulk("a"), .integer(1), .array([.nullBulk])]),
            v2: "*3\r\n$1\r\na\r\n:1\r\n*1\r\n$-1\r\n",
            v3: "*3\r\n$1\r\na\r\n:1\r\n*1\r\n_\r\n"
        ),
        Case(value: .boolean(true), v2: ":1\r\n", v3: "#t\r\n"),
        Case(value: .boolean(false), v2: ":0\r\n", v3: "#f\r\n"),
        Case(value: .double(1.5), v2: "$3\r\n1.5\r\n", v3: ",1.5\r\n"),
        Case(value: .double(3), v2: "$1\r\n3\r\n", v3: ",3\r\n"),
        Case(value: .double(0.1), v2: "$19\r\n0.10000000000000001\r\n", v3: ",0.10000000000000001\r\n"),
        Case(value: .double(1.0 / 3.0), v2: "$19\r\n0.33333333333333331\r\n", v3: ",0.33333333333333331\r\n"),
        Case(value: .double(1e300), v2: "$23\r\n1.0000000000000001e+300\r\n", v3: ",1.0000000000000001e+300\r\n"),
        Case(value: .double(1e17), v2: "$5\r\n1e+17\r\n", v3: ",1e+17\r\n"),
        Case(value: .double(2.5e-10), v2: "$22\r\n2.5000000000000002e-10\r\n", v3: ",2.5000000000000002e-10\r\n"),
        Case(value: .double(-0.0), v2: "$2\r\n-0\r\n", v3: ",-0\r\n"),
        Case(value: .double(.infinity), v2: "$3\r\ninf\r\n", v3: ",inf\r\n"),
        Case(value: .double(-.infinity), v2: "$4\r\n-inf\r\n", v3: ",-inf\r\n"),
        Case(value: .double(.nan), v2: "$3\r\nnan\r\n", v3: ",nan\r\n"),
        Case(value: .double(-.nan), v2: "$3\r\nnan\r\n", v3: ",nan\r\n"),
        Case(
            value: .bigNumber("3492890328409238509324850943850943825024385"),
            v2: "$43\r\n3492890328409238509324850943850943825024385\r\n",
            v3: "(3492890328409238509324850943850943825024385\r\n"
        ),
        Case(value: .bulkError("SYNTAX invalid syntax"), v2: "-SYNTAX invalid syntax\r\n", v3: "!21\r\nSYNTAX invalid syntax\r\n"),
        Case(value: .bulkError("ERR a\r\nb"), v2: "-ERR a  b\r\n", v3: "!8\r\nERR a\r\nb\r\n"),
        Case(
            value: .verbatimString(format: "txt", text: ByteBuffer(string: "Some string")),
            v2: "$11\r\nSome string\r\n",
            v3: "=15\r\ntxt:Some string\r\n"
        ),
        Case(
            value: .map([(.bulk("first"), .integer(1)), (.simpleString("second"), .boolean(true))]),
            v2: "*4\r\n$5\r\nfirst\r\n:1\r\n+second\r\n:1\r\n",
            v3: "%2\r\n$5\r\nfirst\r\n:1\r\n+second\r\n#t\r\n"
        ),
        Case(value: .map([]), v2: "*0\r\n", v3: "%0\r\n"),
        Case(
            value: .set([.bulk("a"), .double(2)]),
            v2: "*2\r\n$1\r\na\r\n$1\r\n2\r\n",
            v3: "~2\r\n$1\r\na\r\n,2\r\n"
        ),
        Case(
            value: .push([.bulk("message"), .bulk("ch"), .bulk("hi")]),
            v2: "*3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n",
            v3: ">3\r\n$7\r\nmessage\r\n$2\r\nch\r\n$2\r\nhi\r\n"
        ),
        Case(
            value: .array([.map([(.bulk("k"), .set([.null]))])]),
            v2: "*1\r\n*2\r\n$1\r\nk\r\n*1\r\n$-1\r\n",
            v3: "*1\r\n%1\r\n$1\r\nk\r\n~1\r\n_\r\n"
        ),
    ]

    @Test("RESP2 and RESP3 bytes", arguments: cases)
    func exactBytes(_ c: Case) {
        #expect(wire(c.value, .v2) == c.v2)
        #expect(wire(c.value, .v3) == c.v3)
    }

    @Test func binaryBulkIsWrittenVerbatim() {
        let payload: [UInt8] = [0, 255, 13, 10, 36, 42]
        let bytes = RESPEncoder.encode(.bulk(payload), protocol: .v2).bytes
        #expect(bytes == Array("$6\r\n".utf8) + payload + [13, 10])
    }

    @Test func bulkSliceUsesOnlyReadableBytes() {
        var source = ByteBuffer(string: "xxhelloyy")
        source.moveReaderIndex(forwardBy: 2)
        let slice = source.getSlice(at: source.readerIndex, length: 5)!
        #expect(wire(.bulkString(slice), .v3) == "$5\r\nhello\r\n")
    }

    @Test func appendsToExistingBuffer() {
        var out = ByteBuffer(string: "prefix|")
        RESPEncoder.encode(.integer(5), protocol: .v2, into: &out)
        RESPEncoder.encode(.ok, protocol: .v3, into: &out)
        #expect(String(buffer: out) == "prefix|:5\r\n+OK\r\n")
    }

    @Test func unicodeSimpleStringAndError() {
        #expect(wire(.simpleString("héllo ☃"), .v2) == "+héllo ☃\r\n")
        #expect(wire(.bulk("☃"), .v2) == "$3\r\n☃\r\n")
        #expect(wire(.bulkError("☃"), .v3) == "!3\r\n☃\r\n")
        #expect(wire(.bigNumber("-12"), .v2) == "$3\r\n-12\r\n")
    }

    @Test func integersMatchStringConversion() {
        var rng = SplitMix64(seed: 99)
        var samples: [Int64] = [0, 1, -1, 9, 10, 99, 100, -10, -99, -100, .max, .min, .max - 1, .min + 1]
        for _ in 0..<2000 {
            let shift = UInt64.random(in: 0...63, using: &rng)
            samples.append(Int64(bitPattern: rng.next()) >> shift)
        }
        for n in samples {
            #expect(wire(.integer(n), .v2) == ":\(n)\r\n")
            #expect(wire(.bulk("x"), .v2) == "$1\r\nx\r\n")
        }
    }

    @Test func aggregateHeaderHelper() {
        var out = ByteBuffer()
        RESPEncoder.writeAggregateHeader(UInt8(ascii: "*"), count: 12, into: &out)
        RESPEncoder.writeAggregateHeader(UInt8(ascii: "%"), count: 0, into: &out)
        #expect(String(buffer: out) == "*12\r\n%0\r\n")
    }

    @Test func doubleText() {
        #expect(RESPEncoder.doubleText(1.5) == "1.5")
        #expect(RESPEncoder.doubleText(-2) == "-2")
        #expect(RESPEncoder.doubleText(.greatestFiniteMagnitude) == "1.7976931348623157e+308")
        #expect(RESPEncoder.doubleText(.leastNonzeroMagnitude) == "4.9406564584124654e-324")
        #expect(RESPEncoder.doubleText(-.infinity) == "-inf")
    }

    @Test func protocolErrorReply() {
        let error = RESPProtocolError(message: "Protocol error: invalid bulk length")
        #expect(error.reply == .error("ERR Protocol error: invalid bulk length"))
        #expect(wire(error.reply, .v2) == "-ERR Protocol error: invalid bulk length\r\n")
        var out = ByteBuffer()
        error.writeReply(into: &out)
        #expect(String(buffer: out) == "-ERR Protocol error: invalid bulk length\r\n")
    }
}
