// group-load: the consumer-group loop of the redis-streams chapter, measured over the network.
// Each of CLIENTS connections runs XREADGROUP GROUP g c<i> COUNT <batch> STREAMS <key> > and then
// XACKs exactly the IDs it got, until the group has delivered every entry; it prints the entries
// read and acknowledged per second. redis-benchmark cannot chain a command to the previous reply,
// hence this client: one thread, poll(2) over every connection (as redis-benchmark does), RESP2.
//
//   swiftc -O Benchmarks/Scripts/group-load.swift -o /tmp/group-load
//   /tmp/group-load PORT KEY GROUP CLIENTS BATCH [KEYS]
//
// The stream and group must exist (XGROUP CREATE key group 0). With KEYS > 1, connection i
// reads the stream KEY<i mod KEYS> (a queue per job type: many streams, each with its group).
// Used by redis-benchmark-compare.sh and many-streams.sh.
#if canImport(Glibc)
import Glibc
#endif

/// A RESP2 reply, only as much as this loop needs.
indirect enum Reply {
    case bulk([UInt8])
    case array([Reply])
    case null
    case integer(Int)
    case error(String)
}

/// Parses one reply at `i`; nil when `bytes` does not hold all of it yet.
func parse(_ bytes: [UInt8], _ i: inout Int) -> Reply? {
    func line(_ i: inout Int) -> [UInt8]? {
        var j = i
        while j + 1 < bytes.count {
            if bytes[j] == 13 && bytes[j + 1] == 10 {
                let l = Array(bytes[i..<j])
                i = j + 2
                return l
            }
            j += 1
        }
        return nil
    }
    guard i < bytes.count else { return nil }
    let type = bytes[i]
    var j = i + 1
    guard let header = line(&j) else { return nil }
    let number = Int(String(decoding: header, as: UTF8.self)) ?? 0
    switch type {
    case UInt8(ascii: "$"):
        if number < 0 { i = j; return .null }
        guard j + number + 2 <= bytes.count else { return nil }
        i = j + number + 2
        return .bulk(Array(bytes[j..<(j + number)]))
    case UInt8(ascii: "*"):
        if number < 0 { i = j; return .null }
        var items: [Reply] = []
        items.reserveCapacity(number)
        for _ in 0..<number {
            guard let item = parse(bytes, &j) else { return nil }
            items.append(item)
        }
        i = j
        return .array(items)
    case UInt8(ascii: ":"):
        i = j
        return .integer(number)
    case UInt8(ascii: "-"):
        i = j
        return .error(String(decoding: header, as: UTF8.self))
    default:
        i = j
        return .bulk(header)
    }
}

func encode(_ args: [[UInt8]]) -> [UInt8] {
    var out = Array("*\(args.count)\r\n".utf8)
    for a in args {
        out += Array("$\(a.count)\r\n".utf8)
        out += a
        out += [13, 10]
    }
    return out
}

func fail(_ message: String) -> Never {
    fputs("group-load: \(message)\n", stderr)
    exit(1)
}

let argv = CommandLine.arguments
guard argv.count == 6 || argv.count == 7, let port = UInt16(argv[1]), let clients = Int(argv[4]), let batch = Int(argv[5]),
      let keys = argv.count == 7 ? Int(argv[6]) : 1, keys >= 1 else {
    fail("usage: group-load PORT KEY GROUP CLIENTS BATCH [KEYS]")
}
let group = Array(argv[3].utf8)
func key(_ c: Int) -> [UInt8] { keys == 1 ? Array(argv[2].utf8) : Array("\(argv[2])\(c % keys)".utf8) }

final class Connection {
    let fd: Int32
    let key: [UInt8]
    let read: [UInt8]
    var input: [UInt8] = []
    var acking = false
    var done = false
    init(fd: Int32, key: [UInt8], read: [UInt8]) {
        self.fd = fd
        self.key = key
        self.read = read
    }

    func send(_ bytes: [UInt8]) {
        var off = 0
        while off < bytes.count {
            let n = bytes[off...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL)) }
            if n < 0 && errno == EAGAIN { var p = pollfd(fd: fd, events: Int16(POLLOUT), revents: 0); poll(&p, 1, 100); continue }
            if n <= 0 { fail("send: errno \(errno)") }
            off += n
        }
    }
}

var connections: [Connection] = []
for c in 0..<clients {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    var addr = sockaddr_in()
    addr.sin_family = sa_family_t(AF_INET)
    addr.sin_port = port.bigEndian
    addr.sin_addr.s_addr = inet_addr("127.0.0.1")
    let rc = withUnsafePointer(to: &addr) {
        $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size)) }
    }
    if rc != 0 { fail("connect to port \(port): errno \(errno)") }
    var one: Int32 = 1
    setsockopt(fd, Int32(IPPROTO_TCP), TCP_NODELAY, &one, socklen_t(MemoryLayout<Int32>.size))
    _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
    let read = encode([Array("XREADGROUP".utf8), Array("GROUP".utf8), group, Array("c\(c)".utf8),
                       Array("COUNT".utf8), Array(String(batch).utf8), Array("STREAMS".utf8), key(c), [UInt8(ascii: ">")]])
    connections.append(Connection(fd: fd, key: key(c), read: read))
}

var acked = 0
var calls = 0
var start = timespec()
clock_gettime(CLOCK_MONOTONIC, &start)
for c in connections { c.send(c.read) }
var open = connections.count
var fds = connections.map { pollfd(fd: $0.fd, events: Int16(POLLIN), revents: 0) }
var chunk = [UInt8](repeating: 0, count: 1 << 16)
while open > 0 {
    if poll(&fds, nfds_t(fds.count), 10_000) <= 0 { fail("no reply for 10 s") }
    for (index, c) in connections.enumerated() where !c.done && fds[index].revents != 0 {
        let n = chunk.withUnsafeMutableBytes { recv(c.fd, $0.baseAddress, $0.count, 0) }
        if n <= 0 { if errno == EAGAIN { continue }; fail("connection closed") }
        c.input += chunk[0..<n]
        var at = 0
        guard let reply = parse(c.input, &at) else { continue }
        c.input.removeFirst(at)
        if case .error(let e) = reply { fail(e) }
        calls += 1
        if c.acking {
            guard case .integer(let n) = reply else { fail("XACK did not return an integer") }
            acked += n
            c.acking = false
            c.send(c.read)
            continue
        }
        // [[key, [[id, fields], ...]]] or null when the group has delivered everything.
        guard case .array(let streams) = reply, case .array(let pair)? = streams.first, pair.count == 2,
              case .array(let entries) = pair[1], !entries.isEmpty
        else {
            c.done = true
            fds[index].events = 0
            open -= 1
            continue
        }
        var ack: [[UInt8]] = [Array("XACK".utf8), c.key, group]
        for e in entries {
            guard case .array(let idAndFields) = e, case .bulk(let id)? = idAndFields.first else { fail("bad entry") }
            ack.append(id)
        }
        c.acking = true
        c.send(encode(ack))
    }
}
var end = timespec()
clock_gettime(CLOCK_MONOTONIC, &end)
let seconds = Double(end.tv_sec - start.tv_sec) + Double(end.tv_nsec - start.tv_nsec) / 1e9
print("entries=\(acked) calls=\(calls) seconds=\(seconds) entries_per_sec=\(Int(Double(acked) / seconds))")
