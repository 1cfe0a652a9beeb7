import NIOCore
import Testing

@testable import RESP

private let invalidMultibulk = "Protocol error: invalid multibulk length"
private let invalidBulk = "Protocol error: invalid bulk length"
private let unbalanced = "Protocol error: unbalanced quotes in request"
private let tooBigInline = "Protocol error: too big inline request"
private let tooBigMbulk = "Protocol error: too big mbulk count string"
private let tooBigBulk = "Protocol error: too big bulk count string"

/// Asserts that `input` produces `requests`, then `error` (if any), and leaves `leftover` unread bytes
/// (checked only when there is no error), identically when fed at once, byte by byte and in random chunks.
private func check(
    _ input: [UInt8],
    _ requests: [RESPRequest],
    error: String? = nil,
    leftover: Int = 0,
    limits: RESPLimits = RESPLimits(),
    authenticationRequired: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    var rng = SplitMix64(seed: UInt64(input.count) &* 31 &+ 17)
    var chunkings: [[Int]?] = [nil]
    if input.count <= 200_000 { chunkings.append(Array(repeating: 1, count: input.count)) }
    for _ in 0..<3 { chunkings.append(randomChunks(input.count, using: &rng, maxChunk: 40)) }
    for (i, chunks) in chunkings.enumerated() {
        let outcome = feedRequests(
            input,
            chunks: chunks,
            limits: limits,
            authenticationRequired: authenticationRequired,
            compact: i % 2 == 0
        )
        #expect(outcome.requests == requests, "chunking #\(i)", sourceLocation: sourceLocation)
        #expect(outcome.error?.message == error, "chunking #\(i)", sourceLocation: sourceLocation)
        if error == nil {
            #expect(outcome.leftover == leftover, "chunking #\(i)", sourceLocation: sourceLocation)
        }
    }
}

private func check(
    _ input: String,
    _ requests: [RESPRequest],
    error: String? = nil,
    leftover: Int = 0,
    limits: RESPLimits = RESPLimits(),
    authenticationRequired: Bool = false,
    sourceLocation: SourceLocation = #_sourceLocation
) {
    check(
        Array(input.utf8), requests, error: error, leftover: leftover, limits: limits,
        authenticationRequired: authenticationRequired, sourceLocation: sourceLocation
    )
}

/// Encodes arguments as a multibulk request.
private func multibulk(_ args: [[UInt8]]) -> [UInt8] {
    var out = Array("*\(args.count)\r\n".utf8)
    for a in args { out += Array("$\(a.count)\r\n".utf8) + a + [13, 10] }
    return out
}

private func multibulk(_ args: String...) -> String {
    String(decoding: multibulk(args.map { Array($0.utf8) }), as: UTF8.self)
}

@Suite("RESPRequestParser: multibulk")
struct MultibulkTests {
    @Test func simpleCommands() {
        check("*1\r\n$4\r\nPING\r\n", [req("PING")])
        check("*3\r\n$3\r\nSET\r\n$1\r\nk\r\n$5\r\nhello\r\n", [req("SET", "k", "hello")])
        check("*2\r\n$4\r\nECHO\r\n$0\r\n\r\n", [req("ECHO", "")])
        check("*2\r\n$4\r\nECHO\r\n$4\r\na\r\nb\r\n", [req("ECHO", "a\r\nb")])
    }

    @Test func binaryArguments() {
        let payload: [UInt8] = [0, 255, 13, 10, 42, 36, 0]
        let outcome = feedRequests(multibulk([Array("SET".utf8), payload]))
        #expect(outcome.requests.count == 1)
        #expect(outcome.requests.first?.arguments.map(\.bytes) == [Array("SET".utf8), payload])
        #expect(outcome.requests.first?.isInline == false)
    }

    @Test func emptyAndNegativeMultibulksAreIgnored() {
        check("*0\r\n", [])
        check("*-1\r\n", [])
        check("*-10\r\n*1\r\n$4\r\nPING\r\n", [req("PING")])
        check("*0\r\n*0\r\n*-1\r\n" + multibulk("GET", "a") + "*0\r\n", [req("GET", "a")])
    }

    @Test func partialFramesWait() {
        let full = Array(multibulk("SET", "key", "value").utf8)
        for cut in 0..<full.count {
            check(Array(full[0..<cut]), [], leftover: cut)
        }
        check(full, [req("SET", "key", "value")])
        // The two bytes after a payload must be present, even though they are not checked.
        check("*1\r\n$4\r\nPING", [], leftover: 12)
        check("*1\r\n$4\r\nPING\r", [], leftover: 13)
        check("*1\r\n$4\r\nPING\r\n*1", [req("PING")], leftover: 2)
    }

    @Test func redisQuirksAreKept() {
        // The byte after '\r' in a count line is not checked.
        check("*1\rX$4\rYPING\r\n", [req("PING")])
        // Nor are the two bytes after a bulk payload.
        check("*2\r\n$4\r\nPINGXY$1\r\naZZ", [req("PING", "a")])
        // A lone '\r' at the end of a count line is not enough.
        check("*1\r", [], leftover: 3)
    }

    @Test func multibulkLengthErrors() {
        for bad in [
            "*abc\r\n", "*\r\n", "*01\r\n", "*+1\r\n", "*-0\r\n", "*1 \r\n", "* 1\r\n", "*1x\r\n",
            "*1048577\r\n", "*20000000\r\n", "*9223372036854775808\r\n", "*123456789012345678901\r\n",
        ] {
            check(bad, [], error: invalidMultibulk)
        }
        // At the limit the parser waits for the arguments.
        check("*1048576\r\n", [], leftover: 10)
        check("*1048577\r\n", [], error: invalidMultibulk)
        check(
            "*3\r\n", [], leftover: 4, limits: RESPLimits(maxMultibulkLength: 3)
        )
        check("*4\r\n", [], error: invalidMultibulk, limits: RESPLimits(maxMultibulkLength: 3))
        check("*-9223372036854775808\r\n" + multibulk("PING"), [req("PING")])
    }

    @Test func expectedDollar() {
        check("*3\r\n$3\r\nSET\r\n$1\r\nx\r\nfooz\r\n", [], error: "Protocol error: expected '$', got 'f'")
        check("*1\r\n:1\r\n", [], error: "Protocol error: expected '$', got ':'")
        check("*1\r\n*1\r\n", [], error: "Protocol error: expected '$', got '*'")
        // CR and LF are shown as spaces, as Redis sanitizes error replies.
        check("*1\r\n\r\n", [], error: "Protocol error: expected '$', got ' '")
        check("*1\r\n\n\r\n", [], error: "Protocol error: expected '$', got ' '")
        // The line must be complete before the type byte is checked.
        check("*1\r\nfoo", [], leftover: 7)
        check("*1\r\nfoo\r", [], leftover: 8)
    }

    @Test func expectedDollarKeepsRawByte() {
        let outcome = feedRequests(Array("*1\r\n".utf8) + [0xFF, 13, 10])
        let error = try! #require(outcome.error)
        #expect(error.messageBytes == Array("Protocol error: expected '$', got '".utf8) + [0xFF, UInt8(ascii: "'")])
        var reply = ByteBuffer()
        error.writeReply(into: &reply)
        #expect(reply.bytes == Array("-ERR Protocol error: expected '$', got '".utf8) + [0xFF] + Array("'\r\n".utf8))
        #expect(error.message == "Protocol error: expected '$', got '\u{FFFD}'")
    }

    @Test func bulkLengthErrors() {
        for bad in ["$-1", "$-0", "$abc", "$", "$01", "$+1", "$1 ", "$99999999999999999999999"] {
            check("*1\r\n\(bad)\r\n", [], error: invalidBulk)
        }
        check("*1\r\n$536870913\r\n", [], error: invalidBulk)
        check("*1\r\n$536870912\r\n", [], leftover: 16)
        let small = RESPLimits(maxBulkLength: 5)
        check("*1\r\n$5\r\nhello\r\n", [req("hello")], limits: small)
        check("*1\r\n$6\r\n", [], error: invalidBulk, limits: small)
        // Arguments parsed before the error are not returned.
        check("*2\r\n$1\r\na\r\n$-5\r\n", [], error: invalidBulk)
    }

    @Test func tooBigCountStrings() {
        let large = "*" + String(repeating: "0", count: 65535)
        check(large, [], leftover: 65536)
        check(large + "0", [], error: tooBigMbulk)
        check(large + "\r", [], leftover: 65537)
        check(large + "\r\n", [], error: invalidMultibulk)

        let bulkPrefix = "*1\r\n$" + String(repeating: "0", count: 65535)
        check(bulkPrefix, [], leftover: bulkPrefix.utf8.count)
        check(bulkPrefix + "0", [], error: tooBigBulk)
        check(bulkPrefix + "\r", [], leftover: bulkPrefix.utf8.count + 1)
        check(bulkPrefix + "\r\n", [], error: invalidBulk)

        // Not checked for '$' before the line is complete or too long.
        check("*1\r\n" + String(repeating: "x", count: 65537), [], error: tooBigBulk)

        // The limit counts from the start of the current line, after earlier arguments.
        let afterArgument = "*2\r\n$1\r\na\r\n" + String(repeating: "1", count: 65536)
        check(afterArgument, [], leftover: afterArgument.utf8.count)
        check(afterArgument + "1", [], error: tooBigBulk)

        let custom = RESPLimits(maxInlineLength: 8)
        check("*1234567", [], leftover: 8, limits: custom)
        check("*12345678", [], error: tooBigMbulk, limits: custom)
    }

    @Test func nulStopsTheLineSearchLikeStrchr() {
        // Redis searches for '\r' with strchr, which stops at NUL: such a line never completes…
        check(Array("*1".utf8) + [0] + Array("\r\n".utf8), [], leftover: 5)
        check(Array("*1\r\n$1".utf8) + [0] + Array("\r\na\r\n".utf8), [], leftover: 12)
        // …until more than 64 KiB are buffered.
        let stuck = Array("*1".utf8) + [0] + Array(repeating: UInt8(ascii: "\r"), count: 65533)
        check(stuck, [], leftover: 65536)
        check(stuck + [10], [], error: tooBigMbulk)
        // NUL inside a bulk payload is fine.
        check(Array("*1\r\n$1\r\n".utf8) + [0, 13, 10], [RESPRequest(arguments: [buffer([0])])])
    }

    @Test func authenticationLimits() {
        let elevenArgs = multibulk(Array(repeating: [UInt8(ascii: "a")], count: 11))
        check(elevenArgs, [], error: "Protocol error: unauthenticated multibulk length", authenticationRequired: true)
        let tenArgs = multibulk(Array(repeating: [UInt8(ascii: "a")], count: 10))
        check(tenArgs, [RESPRequest(Array(repeating: "a", count: 10))], authenticationRequired: true)
        check("*1\r\n$16385\r\n", [], error: "Protocol error: unauthenticated bulk length", authenticationRequired: true)
        check("*1\r\n$16384\r\n", [], leftover: 12, authenticationRequired: true)
        check("*1\r\n$16385\r\n", [], leftover: 12)
        // Invalid lengths are reported as such even when unauthenticated.
        check("*1\r\n$-1\r\n", [], error: invalidBulk, authenticationRequired: true)
    }

    @Test func errorIsSticky() {
        var parser = RESPRequestParser()
        var buf = buffer("*x\r\n*1\r\n$4\r\nPING\r\n")
        #expect(throws: RESPProtocolError(message: invalidMultibulk)) { try parser.next(&buf) }
        #expect(throws: RESPProtocolError(message: invalidMultibulk)) { try parser.next(&buf) }
    }

    @Test func requestsBeforeAnErrorAreDelivered() {
        check(multibulk("PING") + "PING\r\n" + "*1\r\n$x\r\n", [req("PING"), req("PING", inline: true)], error: invalidBulk)
    }

    @Test func argumentsAreSlicesOfTheInput() throws {
        var parser = RESPRequestParser()
        var buf = buffer(multibulk("SET", "k", "v"))
        let request = try #require(try parser.next(&buf))
        #expect(request.arguments.map { String(buffer: $0) } == ["SET", "k", "v"])
        #expect(buf.readableBytes == 0)
        // Mutating the source afterwards does not change the request (value semantics).
        buf.clear()
        buf.writeString("garbage garbage garbage")
        #expect(request.arguments.map { String(buffer: $0) } == ["SET", "k", "v"])
    }

    @Test func largePayload() {
        let big = [UInt8](repeating: 0x61, count: 3 * 1024 * 1024 + 7)
        let input = multibulk([Array("SET".utf8), Array("k".utf8), big])
        var rng = SplitMix64(seed: 5)
        let outcome = feedRequests(input, chunks: randomChunks(input.count, using: &rng, maxChunk: 65536), compact: true)
        #expect(outcome.error == nil)
        #expect(outcome.requests.count == 1)
        #expect(outcome.requests.first?.arguments.last?.readableBytes == big.count)
    }
}

@Suite("RESPRequestParser: inline")
struct InlineTests {
    @Test func lineEndings() {
        for input in ["PING\n", "PING\r\n", " PING\t\r\n", "PING\r\r\n", "  PING  \n"] {
            check(input, [req("PING", inline: true)])
        }
        check("SET  k\tv\r\n", [req("SET", "k", "v", inline: true)])
        check("GET a\rb\n", [req("GET", "a", "b", inline: true)])
    }

    @Test func emptyLinesAreIgnored() {
        for input in ["\n", "\r\n", " \t\n", "\r\n\r\n\n", "   \u{0B}\u{0C} \r\n"] {
            check(input, [])
        }
        check("\r\n\nPING\n\n", [req("PING", inline: true)])
    }

    @Test func incompleteLineWaits() {
        check("PING", [], leftover: 4)
        check("PING\r", [], leftover: 5)
        check("PING\nECHO", [req("PING", inline: true)], leftover: 4)
    }

    @Test func doubleQuotes() {
        check("SET key \"hello world\"\r\n", [req("SET", "key", "hello world", inline: true)])
        check("ECHO \"\"\n", [req("ECHO", "", inline: true)])
        check("ECHO \"a\\n\\r\\t\\b\\a\\\\\\\"\\q\"\n", [req("ECHO", "a\n\r\t\u{8}\u{7}\\\"q", inline: true)])
        check("ECHO \"\\x41\\x7a\\x4A\"\n", [req("ECHO", "AzJ", inline: true)])
        // Not a valid hex escape: '\x' is just 'x'.
        check("ECHO \"\\xZZ\\x4\"\n", [req("ECHO", "xZZx4", inline: true)])
        check("ECHO \"a\"\t\"b\"\n", [req("ECHO", "a", "b", inline: true)])
        // A quote may start in the middle of a token.
        check("ECHO foo\"bar baz\"\n", [req("ECHO", "foobar baz", inline: true)])
        // Any C isspace character may follow a closing quote.
        check("ECHO \"a\"\u{0B}b\n", [req("ECHO", "a", "b", inline: true)])
        // '\v' does not end an unquoted token.
        check("ECHO a\u{0B}b\n", [req("ECHO", "a\u{0B}b", inline: true)])
    }

    @Test func hexEscapeProducesRawBytes() {
        let outcome = feedRequests("ECHO \"\\xff\\x00\\x0d\"\n")
        #expect(outcome.requests.first?.arguments.last?.bytes == [0xFF, 0x00, 0x0D])
        #expect(outcome.requests.first?.isInline == true)
    }

    @Test func singleQuotes() {
        check("ECHO 'it\\'s'\n", [req("ECHO", "it's", inline: true)])
        check("ECHO 'a\\nb \"c\"'\n", [req("ECHO", "a\\nb \"c\"", inline: true)])
        check("ECHO ''\n", [req("ECHO", "", inline: true)])
        check("ECHO 'a\\\\b'\n", [req("ECHO", "a\\\\b", inline: true)])
    }

    @Test func unbalancedQuotes() {
        for input in [
            "ECHO \"a\n", "ECHO 'a\r\n", "ECHO \"a\"x\n", "ECHO 'a'x\n", "ECHO \"a\\\"\n", "ECHO 'a\\'\n",
            "\"\n", "'\n", "ECHO \"abc\"\"\n", "ECHO \"a\\\n",
        ] {
            check(input, [], error: unbalanced)
        }
        check("PING\nECHO \"x\n", [req("PING", inline: true)], error: unbalanced)
    }

    @Test func tooBigInlineRequest() {
        check(String(repeating: "x", count: 65536), [], leftover: 65536)
        check(String(repeating: "x", count: 65537), [], error: tooBigInline)
        let longLine = "ECHO " + String(repeating: "y", count: 65530) + "\n"
        check(longLine, [req("ECHO", String(repeating: "y", count: 65530), inline: true)])
        check("PING\n" + String(repeating: "x", count: 65537), [req("PING", inline: true)], error: tooBigInline)
        check("abcdefgh", [], leftover: 8, limits: RESPLimits(maxInlineLength: 8))
        check("abcdefghi", [], error: tooBigInline, limits: RESPLimits(maxInlineLength: 8))
    }

    @Test func nulInInlineLineWaitsLikeStrchr() {
        check(Array("PING".utf8) + [0] + Array("\n".utf8), [], leftover: 6)
        let stuck = Array("PING".utf8) + [0] + Array(repeating: UInt8(ascii: "\n"), count: 65531)
        check(stuck, [], leftover: 65536)
        check(stuck + [10], [], error: tooBigInline)
    }

    @Test func firstByteDecidesTheFormat() {
        // Anything but '*' is inline, even '$'.
        check("$3\r\n", [req("$3", inline: true)])
        check(" *1\r\n", [req("*1", inline: true)])
        check("PING\n" + multibulk("PING") + "PING\n", [req("PING", inline: true), req("PING"), req("PING", inline: true)])
    }
}

@Suite("RESPRequestParser: pipelines and chunking")
struct PipelineTests {
    /// Renders `arg` for the inline protocol so that sdssplitargs gives it back.
    private func inlineQuoted(_ arg: [UInt8], _ rng: inout SplitMix64) -> String {
        let plain = !arg.isEmpty && arg.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x7A) }
        if plain && Bool.random(using: &rng) { return String(decoding: arg, as: UTF8.self) }
        if !arg.contains(UInt8(ascii: "'")) && arg.allSatisfy({ $0 >= 0x20 && $0 < 0x7F && $0 != 0x5C })
            && Bool.random(using: &rng)
        {
            return "'" + String(decoding: arg, as: UTF8.self) + "'"
        }
        var out = "\""
        for b in arg {
            switch b {
            case UInt8(ascii: "\""): out += "\\\""
            case UInt8(ascii: "\\"): out += "\\\\"
            case 10: out += "\\n"
            case 0x20..<0x7F: out.unicodeScalars.append(Unicode.Scalar(b))
            default:
                let hex = String(b, radix: 16)
                out += "\\x" + (hex.count == 1 ? "0" + hex : hex)
            }
        }
        return out + "\""
    }

    @Test("1000 pipelined requests", arguments: [UInt64(1), 2, 3])
    func pipeline(seed: UInt64) {
        var rng = SplitMix64(seed: seed)
        var input: [UInt8] = []
        var expected: [RESPRequest] = []
        for i in 0..<1000 {
            let argc = Int.random(in: 1...6, using: &rng)
            let args: [[UInt8]] = (0..<argc).map { _ in
                let n = Int.random(in: 0...20, using: &rng)
                return (0..<n).map { _ in UInt8.random(in: 0...255, using: &rng) }
            }
            if i % 4 == 3 {
                let line = args.map { inlineQuoted($0, &rng) }.joined(separator: Bool.random(using: &rng) ? " " : " \t ")
                input += Array(line.utf8) + (Bool.random(using: &rng) ? [13, 10] : [10])
                expected.append(RESPRequest(arguments: args.map { buffer($0) }, isInline: true))
            } else {
                input += multibulk(args)
                expected.append(RESPRequest(arguments: args.map { buffer($0) }, isInline: false))
            }
            if i % 50 == 0 { input += Array("*0\r\n\r\n".utf8) }
        }
        // At once, byte by byte, and in random chunks (with and without compaction).
        check(input, expected)
    }

    @Test func manySmallRequestsInOneBuffer() throws {
        var parser = RESPRequestParser()
        var buf = ByteBuffer()
        for i in 0..<1000 { buf.writeString(multibulk("INCR", "counter\(i)")) }
        var count = 0
        while let request = try parser.next(&buf) {
            #expect(String(buffer: request.arguments[1]) == "counter\(count)")
            count += 1
        }
        #expect(count == 1000)
        #expect(buf.readableBytes == 0)
    }

    /// A corpus of valid and invalid inputs: whatever the chunking, the outcome is the same.
    @Test func chunkingNeverChangesTheOutcome() {
        let corpus: [[UInt8]] = [
            Array((multibulk("SET", "a", "b") + "GET a\n" + multibulk("DEL", "a")).utf8),
            Array("*2\r\n$3\r\nGET\r\n$1\r\nk\r\n*1\r\n$x\r\n".utf8),
            Array("PING\r\nECHO \"unterminated\r\n".utf8),
            Array("*1\r\n$3\r\nabc\r\n*3\r\n$1\r\na\r\n".utf8),
            Array(("*1\r\n$1\r\nz\r\n" + String(repeating: "9", count: 70000)).utf8),
            Array(("*1\r\n$" + String(repeating: "9", count: 70000)).utf8),
            Array(("GET x\n" + String(repeating: "q", count: 70000)).utf8),
            Array("*1\r\n$3\r\nabc\r\nfoo\r\n".utf8),
        ]
        var rng = SplitMix64(seed: 2024)
        for input in corpus {
            let reference = feedRequests(input)
            for _ in 0..<5 {
                let chunks = randomChunks(input.count, using: &rng, maxChunk: Int.random(in: 1...5000, using: &rng))
                let outcome = feedRequests(input, chunks: chunks, compact: Bool.random(using: &rng))
                #expect(outcome.requests == reference.requests)
                #expect(outcome.error == reference.error)
                if reference.error == nil { #expect(outcome.leftover == reference.leftover) }
            }
        }
    }

    @Test func requestDecoderWithProcessor() throws {
        let processor = NIOSingleStepByteToMessageProcessor(RESPRequestDecoder())
        var received: [RESPRequest] = []
        let bytes = Array((multibulk("SET", "k", "v") + "PING\r\n\r\n*0\r\n" + multibulk("GET", "k")).utf8)
        for byte in bytes {
            try processor.process(buffer: buffer([byte])) { received.append($0) }
        }
        try processor.finishProcessing(seenEOF: true) { received.append($0) }
        #expect(received == [req("SET", "k", "v"), req("PING", inline: true), req("GET", "k")])
    }

    @Test func requestDecoderReportsProtocolErrors() throws {
        let processor = NIOSingleStepByteToMessageProcessor(RESPRequestDecoder(limits: RESPLimits(maxBulkLength: 3)))
        var received: [RESPRequest] = []
        #expect(throws: RESPProtocolError(message: invalidBulk)) {
            try processor.process(buffer: buffer(multibulk("GET", "k") + "*1\r\n$4\r\n")) { received.append($0) }
        }
        #expect(received == [req("GET", "k")])
    }

    @Test func requestDecoderConsultsAuthenticationState() throws {
        final class Flag { var value = true }
        let flag = Flag()
        let processor = NIOSingleStepByteToMessageProcessor(
            RESPRequestDecoder(authenticationRequired: { flag.value })
        )
        var received: [RESPRequest] = []
        try processor.process(buffer: buffer(multibulk("AUTH", "pw"))) { _ in flag.value = false }
        let eleven = String(decoding: multibulk(Array(repeating: [UInt8(ascii: "x")], count: 11)), as: UTF8.self)
        try processor.process(buffer: buffer(eleven)) { received.append($0) }
        #expect(received.count == 1)
        flag.value = true
        #expect(throws: RESPProtocolError(message: "Protocol error: unauthenticated multibulk length")) {
            try processor.process(buffer: buffer(eleven)) { received.append($0) }
        }
    }
}
