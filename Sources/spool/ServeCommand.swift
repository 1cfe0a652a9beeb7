import ArgumentParser
import Dispatch
import Logging
import Spool
import SpoolServer

#if canImport(Glibc)
import Glibc
#endif

/// `spool serve`: the Redis protocol over a Spool data directory.
struct ServeCommand: AsyncParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "serve",
        abstract: "Serve the Redis protocol (RESP2/RESP3) so redis-cli, redis-py and redis-benchmark work unchanged."
    )

    @Option(help: "Addresses to listen on, space-separated as in redis.conf (default 127.0.0.1).")
    var bind: String?

    @Option(help: "TCP port (default 6379; 0 picks a free port).")
    var port: Int?

    @Option(help: "Data directory (default ./spool-data).")
    var dir: String?

    @Option(help: "Durability: always, everysec or no (default everysec).")
    var appendfsync: String?

    @Option(help: "Password clients must send with AUTH or HELLO.")
    var requirepass: String?

    @Option(help: "Maximum number of connected clients (default 10000).")
    var maxclients: Int?

    @Option(help: "Network threads reading requests and writing replies (default: cores - 1, 1 to 4).")
    var ioThreads: Int?

    @Flag(help: "Allow the DEBUG command (DEBUG RELOAD).")
    var enableDebugCommand = false

    @Option(help: "Listen on non-loopback addresses without a password: yes or no (default yes = refuse).")
    var protectedMode: String?

    @Option(help: "A redis.conf-style file; command-line options override it.")
    var config: String?

    func validate() throws {
        if let appendfsync, FsyncPolicy(rawValue: appendfsync.lowercased()) == nil {
            throw ValidationError("--appendfsync must be always, everysec or no")
        }
    }

    func run() async throws {
        LoggingSystem.bootstrap { label in
            var handler = StreamLogHandler.standardError(label: label)
            handler.logLevel = .info
            return handler
        }
        let logger = Logger(label: "spool")
        var settings = ServerConfiguration()
        do throws(ConfigurationError) {
            if let config { try settings.apply(configFileContents: try readFileOrFail(config), path: config) }
            if let bind { try settings.set("bind", ServerConfiguration.splitWords(bind)) }
            if let port { try settings.set("port", [String(port)]) }
            if let dir { settings.directory = dir }
            if let appendfsync { try settings.set("appendfsync", [appendfsync]) }
            if let requirepass { settings.requirePass = requirepass }
            if let maxclients { try settings.set("maxclients", [String(maxclients)]) }
            if let ioThreads { try settings.set("io-threads", [String(ioThreads)]) }
            if enableDebugCommand { settings.enableDebugCommand = true }
            if let protectedMode { try settings.set("protected-mode", [protectedMode]) }
        } catch {
            throw ValidationError(error.description)
        }

        let server: SpoolServer
        let boundPort: Int
        do {
            server = try SpoolServer(configuration: settings, logger: logger)
            boundPort = try await server.start()
        } catch {
            logger.critical("cannot start: \(error)")
            throw ExitCode.failure
        }
        logger.notice(
            "Spool \(spoolVersion) ready: dir=\(settings.directory) appendfsync=\(settings.appendfsync.rawValue) listening on \(settings.bind.map { "\($0):\(boundPort)" }.joined(separator: ", "))")

        let signals = [SIGINT, SIGTERM].map { sig -> any DispatchSourceSignal in
            signal(sig, SIG_IGN)
            let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
            source.setEventHandler {
                logger.notice("received \(sig == SIGINT ? "SIGINT" : "SIGTERM"), shutting down")
                Task { await server.shutdown() }
            }
            source.resume()
            return source
        }
        await server.waitUntilShutdown()
        for s in signals { s.cancel() }
        if let failure = server.durabilityFailure {
            // As Redis does under appendfsync always: a write that could not be made durable
            // stops the server; the next start recovers every acknowledged write.
            logger.critical("stopped after a failed journal write or sync: \(failure)")
            throw ExitCode.failure
        }
    }

    private func readFileOrFail(_ path: String) throws(ConfigurationError) -> String {
        guard let f = fopen(path, "r") else { throw ConfigurationError("cannot open config file \(path)") }
        defer { fclose(f) }
        var bytes: [UInt8] = []
        var chunk = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = fread(&chunk, 1, chunk.count, f)
            if n <= 0 { break }
            bytes.append(contentsOf: chunk[0..<n])
        }
        return String(decoding: bytes, as: UTF8.self)
    }
}
