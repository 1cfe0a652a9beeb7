#if canImport(Glibc)
import Glibc
#endif
import RESP
import SpoolTools
import TestSupport

/// A `redis-server` child process for one test: 127.0.0.1, a random port in 31000–31999, no
/// persistence (`--save '' --appendonly no`), its own temporary directory. Use
/// ``withRedisServer(password:_:)``, which stops it on every path.
final class RedisServerProcess {
    let port: Int
    let password: String?
    private let pid: pid_t
    private let directory: TemporaryDirectory
    private var running = true

    /// The server binary on PATH. Tools/install-deps.sh installs Debian's redis-server, so its
    /// absence is a failure with the fix in the message, not a skipped test.
    static func executable() throws -> String {
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where access("\(dir)/redis-server", X_OK) == 0 {
            return "\(dir)/redis-server"
        }
        throw ToolError("redis-server is not on PATH (\(path)); run `bash Tools/install-deps.sh`, which installs Debian's redis-server")
    }

    /// Starts a server and waits until it answers PING; tries other ports when one is taken.
    init(password: String? = nil) throws {
        let binary = try Self.executable()
        var rng = SystemRandomNumberGenerator()
        var lastError = ""
        for _ in 0..<8 {
            let port = Int.random(in: 31000...31999, using: &rng)
            let dir = TemporaryDirectory("redis")
            var args = [binary, "--port", "\(port)", "--bind", "127.0.0.1", "--save", "", "--appendonly", "no",
                        "--dir", dir.path, "--logfile", dir.path + "/redis.log", "--daemonize", "no"]
            if let password { args += ["--requirepass", password] }
            let child = try Self.spawn(args)
            if Self.waitUntilReady(pid: child, port: port, password: password) {
                self.port = port
                self.password = password
                self.pid = child
                self.directory = dir
                return
            }
            Self.terminate(child)
            lastError = String(decoding: readAll(dir.path + "/redis.log").suffix(400), as: UTF8.self)
            dir.remove()
        }
        throw ToolError("redis-server did not start on 127.0.0.1; its log ends: \(lastError)")
    }

    deinit { stop() }

    /// SIGTERM (SIGKILL after 5 s), then reaps the child and removes its directory. Idempotent.
    func stop() {
        guard running else { return }
        running = false
        Self.terminate(pid)
        directory.remove()
    }

    private static func terminate(_ pid: pid_t) {
        kill(pid, SIGTERM)
        var status: Int32 = 0
        let deadline = monotonicSeconds() + 5
        while monotonicSeconds() < deadline {
            if waitpid(pid, &status, WNOHANG) == pid { return }
            usleep(10_000)
        }
        kill(pid, SIGKILL)
        waitpid(pid, &status, 0)
    }

    /// `redis://[:password@]127.0.0.1:port/db[/key]`.
    func url(database: Int = 0, key: String? = nil) -> RedisURL {
        RedisURL(host: "127.0.0.1", port: port, password: password, database: database, key: key.map { Array($0.utf8) })
    }

    /// A connection to `database`.
    func connect(database: Int = 0) throws -> RedisConnection {
        try RedisConnection(url(database: database), timeoutSeconds: 10)
    }

    private static func spawn(_ args: [String]) throws -> pid_t {
        var argv: [UnsafeMutablePointer<CChar>?] = args.map { strdup($0) }
        argv.append(nil)
        defer { for p in argv { free(p) } }
        // The test runner blocks some signals in its threads, and a child inherits the mask:
        // without resetting it, redis-server would never see the SIGTERM of `stop()`.
        var attributes = posix_spawnattr_t()
        posix_spawnattr_init(&attributes)
        defer { posix_spawnattr_destroy(&attributes) }
        var none = sigset_t()
        sigemptyset(&none)
        posix_spawnattr_setsigmask(&attributes, &none)
        var all = sigset_t()
        sigfillset(&all)
        posix_spawnattr_setsigdefault(&attributes, &all)
        posix_spawnattr_setflags(&attributes, Int16(POSIX_SPAWN_SETSIGMASK | POSIX_SPAWN_SETSIGDEF))
        var pid: pid_t = 0
        let environment: [UnsafeMutablePointer<CChar>?] = [nil]  // redis-server needs none
        let rc = posix_spawn(&pid, args[0], nil, &attributes, argv, environment)
        guard rc == 0 else { throw ToolError("cannot start \(args[0]): \(String(cString: strerror(rc)))") }
        return pid
    }

    private static func waitUntilReady(pid: pid_t, port: Int, password: String?) -> Bool {
        let deadline = monotonicSeconds() + 10
        while monotonicSeconds() < deadline {
            var status: Int32 = 0
            if waitpid(pid, &status, WNOHANG) == pid { return false }
            if let c = try? RedisConnection(RedisURL(host: "127.0.0.1", port: port, password: password), timeoutSeconds: 2) {
                defer { c.close() }
                if case .simpleString("PONG") = (try? c.call("PING")) ?? .null { return true }
            }
            usleep(20_000)
        }
        return false
    }
}

/// Runs `body` with a fresh redis-server, stopped afterwards whatever happens.
func withRedisServer<R>(password: String? = nil, _ body: (RedisServerProcess) throws -> R) throws -> R {
    let server = try RedisServerProcess(password: password)
    defer { server.stop() }
    return try body(server)
}

extension RedisConnection {
    /// Sends text arguments; an error reply is thrown.
    @discardableResult
    func run(_ arguments: String...) throws -> RESPValue {
        try checkedCall(arguments.map { Array($0.utf8) })
    }
}
