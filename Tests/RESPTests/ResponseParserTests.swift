import NIOCore
import Testing

@testable import RESP

/// Parses `input` completely; fails the test if it is not exactly one value.
private func parseOne(_ input: String, maxDepth: Int = 1000) throws -> RESPValue? {
    var parser = RESPParser(maxDepth: maxDepth)
    var buf = buffer(input)
    let value = try parser.parse(from: &buf)
    if value != nil { #expect(buf.readableBytes == 0) }
    return value
}

private func parseError(_ input: String, maxDepth: Int = 1000) -> String? {
    var parser = RESPParser(maxDepth: maxDepth)
    var buf = buffer(input)
    do {
        _ = try parser.parse(from: &buf)
        return nil
    } catch {
        return error.message
    }
}

@Suite("RESPParser")
struct ResponseParserTests {
    @Test func everyType() throws {
        #expect(try parseOne("+OK\r\n") == .ok)
        #expect(try parseOne("-ERR x y\r\n") == .error("ERR x y"))
        #expect(try parseOne(":-42\r\n") == .integer(-42))
        #expect(try parseOne(":+42\r\n") == .integer(42))
        #expect(try parseOne(":9223372036854775807\r\n") == .integer(.max))
        #expect(try parseOne(":-9223372036854775808\r\n") == .integer(.min))
        #expect(try parseOne("$3\r\nfoo\r\n") == .bulk("foo"))
        #expect(try parseOne("$0\r\n\r\n") == .bulk(""))
        #expect(try parseOne("$4\r\na\r\nb\r\n") == .bulk("a\r\nb"))
        #expect(try parseOne("$-1\r\n") == .nullBulk)
        #expect(try parseOne("*-1\r\n") == .nullArray)
        #expect(try parseOne("*0\r\n") == .array([]))
        #expect(try parseOne("*2\r\n:1\r\n*1\r\n+x\r\n") == .array([.integer(1), .array([.simpleString("x")])]))
        #expect(try parseOne("_\r\n") == .null)
        #expect(try parseOne("#t\r\n") == .boolean(true))
        #expect(try parseOne("#f\r\n") == .boolean(false))
        #expect(try parseOne(",1.5\r\n") == .double(1.5))
        #expect(try parseOne(",-2\r\n") == .double(-2))
        #expect(try parseOne(",1e+300\r\n") == .double(1e300))
        #expect(try parseOne(",inf\r\n") == .double(.infinity))
        #expect(try parseOne(",-inf\r\n") == .double(-.infinity))
        #expect(try parseOne(",nan\r\n") == .double(.nan))
        #expect(try parseOne("(3492890328409238509324850943850943825024385\r\n") == .bigNumber("3492890328409238509324850943850943825024385"))
        #expect(try parseOne("(-5\r\n") == .bigNumber("-5"))
        #expect(try parseOne("!21\r\nSYNTAX invalid syntax\r\n") == .bulkError("SYNTAX invalid syntax"))
        #expect(try parseOne("=15\r\ntxt:Some string\r\n") == .verbatimString(format: "txt", text: buffer("Some string")))
        #expect(try parseOne("=4\r\nmkd:\r\n") == .verbatimString(format: "mkd", text: buffer("")))
        #expect(try parseOne("%2\r\n+a\r\n:1\r\n+b\r\n:2\r\n") == .map([(.simpleString("a"), .integer(1)), (.simpleString("b"), .integer(2))]))
        #expect(try parseOne("%0\r\n") == .map([]))
        #expect(try parseOne("~2\r\n+a\r\n_\r\n") == .set([.simpleString("a"), .null]))
        #expect(try parseOne("~0\r\n") == .set([]))
        #expect(try parseOne(">3\r\n+message\r\n+ch\r\n$2\r\nhi\r\n") == .push([.simpleString("message"), .simpleString("ch"), .bulk("hi")]))
        #expect(try parseOne(">0\r\n") == .push([]))
    }

    @Test func attributesAreSkipped() throws {
        let input =
            "|1\r\n+key-popularity\r\n%2\r\n$1\r\na\r\n,0.1923\r\n$1\r\nb\r\n,0.0012\r\n*2\r\n:2039123\r\n:9543892\r\n"
        #expect(try parseOne(input) == .array([.integer(2_039_123), .integer(9_543_892)]))
        // Inside an aggregate an attribute does not count as an element.
        #expect(try parseOne("*2\r\n:1\r\n|1\r\n+ttl\r\n:3600\r\n:2\r\n") == .array([.integer(1), .integer(2)]))
        #expect(try parseOne("|0\r\n+OK\r\n") == .ok)
        // An attribute inside an attribute's value decorates that value.
        #expect(try parseOne("|1\r\n+a\r\n|1\r\n+b\r\n+c\r\n+d\r\n+e\r\n") == .simpleString("e"))
        // An attribute alone is incomplete.
        #expect(try parseOne("|1\r\n+a\r\n+b\r\n") == nil)
    }

    @Test func binaryBulkAndSlices() throws {
        var parser = RESPParser()
        var buf = buffer([UInt8]("$4\r\n".utf8) + [0, 13, 10, 255] + [13, 10] + Array(":1\r\n".utf8))
        let v = try parser.parse(from: &buf)
        #expect(v == .bulk([0, 13, 10, 255]))
        #expect(try parser.parse(from: &buf) == .integer(1))
        #expect(try parser.parse(from: &buf) == nil)
    }

    @Test func incompleteInputConsumesNothing() throws {
        let value = RESPValue.array([
            .bulk("hello"), .map([(.integer(1), .double(0.5))]), .set([.boolean(true), .null]),
            .verbatimString(format: "txt", text: buffer("abc")), .bulkError("E x"), .bigNumber("123"),
            .push([.nullBulk]), .simpleString("s"), .error("ERR e"),
        ])
        let bytes = RESPEncoder.encode(value, protocol: .v3).bytes
        for cut in 0..<bytes.count {
            var parser = RESPParser()
            var buf = buffer(Array(bytes[0..<cut]))
            #expect(try parser.parse(from: &buf) == nil, "prefix of \(cut) bytes")
            #expect(buf.readableBytes == cut)
        }
        var parser = RESPParser()
        var buf = buffer(bytes)
        #expect(try parser.parse(from: &buf) == normalized(value, .v3))
    }

    @Test func errors() {
        #expect(parseError("?x\r\n") == "Protocol error, got '?' as reply type byte")
        #expect(parseError("\u{1}\r\n") == "Protocol error, got '\\x1' as reply type byte")
        #expect(parseError(":abc\r\n") == "Protocol error: invalid integer")
        #expect(parseError(":\r\n") == "Protocol error: invalid integer")
        #expect(parseError(":-\r\n") == "Protocol error: invalid integer")
        #expect(parseError(":9223372036854775808\r\n") == "Protocol error: invalid integer")
        #expect(parseError("$-2\r\n") == "Protocol error: invalid bulk length")
        #expect(parseError("$x\r\n") == "Protocol error: invalid bulk length")
        #expect(parseError("$3\r\nfooXY") == "Protocol error: expected CRLF")
        #expect(parseError("+OK\rX") == "Protocol error: expected CRLF")
        #expect(parseError("+OK\nX") == "Protocol error: expected CRLF")
        #expect(parseError("*-2\r\n") == "Protocol error: invalid aggregate length")
        #expect(parseError("%-1\r\n") == "Protocol error: invalid aggregate length")
        #expect(parseError("*x\r\n") == "Protocol error: invalid aggregate length")
        #expect(parseError("#x\r\n") == "Protocol error: invalid boolean")
        #expect(parseError("#tt\r\n") == "Protocol error: invalid boolean")
        #expect(parseError("_x\r\n") == "Protocol error: invalid null")
        #expect(parseError(",abc\r\n") == "Protocol error: invalid double")
        #expect(parseError(",\r\n") == "Protocol error: invalid double")
        #expect(parseError("(12a\r\n") == "Protocol error: invalid big number")
        #expect(parseError("(\r\n") == "Protocol error: invalid big number")
        #expect(parseError("=3\r\ntxt\r\n") == "Protocol error: invalid verbatim string")
        #expect(parseError("=5\r\ntxt-a\r\n") == "Protocol error: invalid verbatim string")
        #expect(parseError("!-1\r\n") == "Protocol error: invalid bulk length")
    }

    @Test func bulkLengthLimit() throws {
        var parser = RESPParser(maxBulkLength: 4)
        var ok = buffer("$4\r\nabcd\r\n")
        #expect(try parser.parse(from: &ok) == .bulk("abcd"))
        var tooBig = buffer("$5\r\n")
        #expect(throws: RESPProtocolError(message: "Protocol error: invalid bulk length")) {
            try parser.parse(from: &tooBig)
        }
    }

    @Test func depthLimit() throws {
        let depth = 1000
        let nested = String(repeating: "*1\r\n", count: depth) + ":1\r\n"
        var expected = RESPValue.integer(1)
        for _ in 0..<depth { expected = .array([expected]) }
        #expect(try parseOne(nested) == expected)
        let tooDeep = String(repeating: "*1\r\n", count: depth + 1) + ":1\r\n"
        #expect(parseError(tooDeep) == "Protocol error: too many nested aggregates")
        // The limit applies to maps, sets and pushes too, and is configurable.
        #expect(parseError("%1\r\n~1\r\n>1\r\n:1\r\n:1\r\n", maxDepth: 2) == "Protocol error: too many nested aggregates")
        #expect(try parseOne("%1\r\n~1\r\n:1\r\n:1\r\n", maxDepth: 2) == .map([(.set([.integer(1)]), .integer(1))]))
        // Very deep input never overflows the stack: it just fails.
        let huge = String(repeating: "*1\r\n", count: 200_000)
        #expect(parseError(huge, maxDepth: 100_000) == "Protocol error: too many nested aggregates")
        #expect(try parseOne(huge, maxDepth: 300_000) == nil)
    }

    @Test func pipelinedRepliesParseInOrder() throws {
        var parser = RESPParser()
        var buf = ByteBuffer()
        var expected: [RESPValue] = []
        for i in 0..<1000 {
            let v: RESPValue = i % 3 == 0 ? .integer(Int64(i)) : i % 3 == 1 ? .bulk("v\(i)") : .array([.ok, .null])
            expected.append(v)
            RESPEncoder.encode(v, protocol: .v3, into: &buf)
        }
        buf.writeString("$5\r\nabc")
        #expect(try parser.parseAll(from: &buf) == expected)
        #expect(String(buffer: buf) == "$5\r\nabc")
    }

    @Test func responseDecoderWithProcessor() throws {
        let processor = NIOSingleStepByteToMessageProcessor(RESPResponseDecoder())
        var received: [RESPValue] = []
        let bytes = Array("+OK\r\n*2\r\n:1\r\n$3\r\nabc\r\n%1\r\n#t\r\n_\r\n".utf8)
        for byte in bytes {
            try processor.process(buffer: buffer([byte])) { received.append($0) }
        }
        try processor.finishProcessing(seenEOF: true) { received.append($0) }
        #expect(received == [.ok, .array([.integer(1), .bulk("abc")]), .map([(.boolean(true), .null)])])
    }

    @Test func equatableSemantics() {
        #expect(RESPValue.double(.nan) == .double(.nan))
        #expect(RESPValue.double(1) != .double(2))
        #expect(RESPValue.nullBulk != .null)
        #expect(RESPValue.nullArray != .nullBulk)
        #expect(RESPValue.array([]) != .set([]))
        #expect(RESPValue.map([(.integer(1), .integer(2))]) != .map([(.integer(2), .integer(1))]))
        #expect(RESPValue.map([(.integer(1), .integer(2))]) != .map([]))
        #expect(RESPValue.verbatimString(format: "txt", text: buffer("a")) != .verbatimString(format: "mkd", text: buffer("a")))
        #expect(RESPValue.bulk("a") == .bulk([97]))
    }
}
