import NIOCore
import TestSupport

@testable import RESP

/// The shared seeded generator (TestSupport), under the name these tests use.
typealias SplitMix64 = SeededRNG

extension ByteBuffer {
    var bytes: [UInt8] { Array(readableBytesView) }
}

func buffer(_ s: String) -> ByteBuffer { ByteBuffer(string: s) }
func buffer(_ b: [UInt8]) -> ByteBuffer { ByteBuffer(bytes: b) }

/// The wire bytes of `value` as a string (binary-safe for the ASCII tests that use it).
func wire(_ value: RESPValue, _ version: RESPProtocolVersion) -> String {
    String(decoding: RESPEncoder.encode(value, protocol: version).readableBytesView, as: UTF8.self)
}

/// Splits `count` bytes into random chunk lengths (each at least 1).
func randomChunks(_ count: Int, using rng: inout SplitMix64, maxChunk: Int = 17) -> [Int] {
    var chunks: [Int] = []
    var left = count
    while left > 0 {
        let n = Int.random(in: 1...max(1, min(left, maxChunk)), using: &rng)
        chunks.append(n)
        left -= n
    }
    return chunks
}

/// The outcome of feeding bytes to a request parser.
struct RequestOutcome: Equatable, CustomStringConvertible {
    var requests: [RESPRequest]
    var error: RESPProtocolError?
    /// Unconsumed bytes at the end.
    var leftover: Int

    var description: String {
        let reqs = requests.map { r in
            "[" + r.arguments.map { String(decoding: $0.readableBytesView, as: UTF8.self).debugDescription }
                .joined(separator: ",") + (r.isInline ? "]i" : "]")
        }
        return "requests=\(reqs) error=\(error?.message ?? "nil") leftover=\(leftover)"
    }
}

/// Feeds `input` to a fresh `RESPRequestParser` in the given chunks (all at once when `chunks` is nil),
/// draining requests after every chunk. When `compact` is set, read bytes are discarded between
/// chunks as `ByteToMessageHandler` may do.
func feedRequests(
    _ input: [UInt8],
    chunks: [Int]? = nil,
    limits: RESPLimits = RESPLimits(),
    authenticationRequired: Bool = false,
    compact: Bool = false
) -> RequestOutcome {
    var parser = RESPRequestParser(limits: limits)
    parser.authenticationRequired = authenticationRequired
    var cumulation = ByteBuffer()
    var outcome = RequestOutcome(requests: [], error: nil, leftover: 0)
    var offset = 0
    for size in chunks ?? [input.count] {
        cumulation.writeBytes(input[offset..<(offset + size)])
        offset += size
        do {
            while let request = try parser.next(&cumulation) {
                outcome.requests.append(request)
            }
        } catch {
            outcome.error = error
            outcome.leftover = cumulation.readableBytes
            return outcome
        }
        if compact { cumulation.discardReadBytes() }
    }
    outcome.leftover = cumulation.readableBytes
    return outcome
}

func feedRequests(_ input: String, limits: RESPLimits = RESPLimits()) -> RequestOutcome {
    feedRequests(Array(input.utf8), limits: limits)
}

func req(_ args: String..., inline: Bool = false) -> RESPRequest {
    RESPRequest(args, isInline: inline)
}
