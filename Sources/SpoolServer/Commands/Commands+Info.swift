import NIOCore
import RESP
import Spool

#if canImport(Glibc)
import Glibc
#endif

extension CommandTable {
    static let defaultInfoSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "errorstats", "keyspace", "spool"]
    static let allInfoSections = ["server", "clients", "memory", "persistence", "stats", "replication", "cpu", "commandstats", "errorstats", "keyspace", "spool"]

    @Sendable static func info(_ ctx: CommandContext) throws(CommandError) -> CommandOutcome {
        var wanted: [String] = []
        if ctx.args.count == 1 {
            wanted = defaultInfoSections
        } else {
            for a in ctx.args.dropFirst() {
                let s = a.lowercasedText
                switch s {
                case "default": wanted += defaultInfoSections
                case "all", "everything": wanted += allInfoSections
                default: wanted.append(s)
                }
            }
        }
        var seen = Set<String>()
        var text = ""
        var first = true
        for section in wanted where !seen.contains(section) {
            seen.insert(section)
            guard let lines = infoSection(section, ctx.server) else { continue }
            if !first { text += "\r\n" }
            first = false
            text += "# " + section.prefix(1).uppercased() + section.dropFirst() + "\r\n"
            for line in lines { text += line + "\r\n" }
        }
        return .reply(.verbatimString(format: "txt", text: ByteBuffer(string: text)))
    }

    private static func human(_ bytes: Int64) -> String {
        let units = ["B", "K", "M", "G", "T"]
        var v = Double(bytes)
        var u = 0
        while v >= 1024 && u < units.count - 1 { v /= 1024; u += 1 }
        if u == 0 { return "\(bytes)B" }
        return String(format2: v) + units[u]
    }

    private static func residentBytes() -> Int64 {
        guard let f = fopen("/proc/self/statm", "r") else { return 0 }
        defer { fclose(f) }
        var size = 0, resident = 0
        let n = withUnsafeMutablePointer(to: &size) { sp in
            withUnsafeMutablePointer(to: &resident) { rp in
                withVaList([sp, rp]) { vfscanf(f, "%ld %ld", $0) }
            }
        }
        return n == 2 ? Int64(resident) * Int64(sysconf(Int32(_SC_PAGESIZE))) : 0
    }

    /// The lines of INFO section `name`, or nil for a section Spool does not know.
    static func infoSection(_ name: String, _ server: ServerState) -> [String]? {
        switch name {
        case "server": return serverInfo(server)
        case "clients": return clientsInfo(server)
        case "memory": return memoryInfo(server)
        case "persistence": return persistenceInfo(server)
        case "stats": return statsInfo(server)
        case "replication":
            return ["role:master", "connected_slaves:0"]
        case "cpu":
            var usage = rusage()
            getrusage(__rusage_who_t(RUSAGE_SELF.rawValue), &usage)
            func secs(_ t: timeval) -> String { String(format2: Double(t.tv_sec) + Double(t.tv_usec) / 1e6, digits: 6) }
            return ["used_cpu_sys:\(secs(usage.ru_stime))", "used_cpu_user:\(secs(usage.ru_utime))"]
        case "commandstats":
            return server.stats.commands.values.sorted { $0.name < $1.name }.map { name, c in
                let per = c.calls == 0 ? 0 : Double(c.microseconds) / Double(c.calls)
                return "cmdstat_\(name):calls=\(c.calls),usec=\(c.microseconds),usec_per_call=\(String(format2: per)),rejected_calls=\(c.rejected),failed_calls=\(c.failed)"
            }
        case "errorstats":
            return server.stats.errors.keys.sorted().map { "errorstat_\($0):count=\(server.stats.errors[$0]!)" }
        case "keyspace":
            return server.store.databases.enumerated().compactMap { i, db in
                let n = db.count
                return n == 0 ? nil : "db\(i):keys=\(n),expires=0,avg_ttl=0"
            }
        case "spool": return spoolInfo(server)
        default:
            return nil
        }
    }

    /// INFO's `server` section.
    static func serverInfo(_ server: ServerState) -> [String] {
        let s = server.settings
        let uptime = (NIODeadline.now() - server.startTime).nanoseconds / 1_000_000_000
        return [
            "redis_version:\(redisCompatibleVersion)",
            "spool_version:\(spoolVersion)",
            "redis_mode:standalone",
            "os:Linux",
            "arch_bits:64",
            "multiplexing_api:epoll",
            "process_id:\(getpid())",
            "tcp_port:\(server.boundPort)",
            "server_time_usec:\(StreamClock.nowMs() * 1000)",
            "uptime_in_seconds:\(uptime)",
            "uptime_in_days:\(uptime / 86400)",
            "executable:\(CommandLine.arguments.first ?? "")",
            "config_file:\(s.configFile)",
        ]
    }

    /// INFO's `clients` section.
    static func clientsInfo(_ server: ServerState) -> [String] {
        let s = server.settings
        let normal = server.clients.values.filter { !$0.closing }
        let peaks = server.recentBufferPeaks
        return [
            "connected_clients:\(normal.count)",
            "cluster_connections:0",
            "maxclients:\(s.maxClients)",
            "client_recent_max_input_buffer:\(peaks.input)",
            "client_recent_max_output_buffer:\(peaks.output)",
            "blocked_clients:\(server.blockedCount)",
            "tracking_clients:0",
            "clients_in_timeout_table:\(normal.filter { $0.blocked?.request.deadline != nil }.count)",
        ]
    }

    /// INFO's `memory` section.
    static func memoryInfo(_ server: ServerState) -> [String] {
        let rss = residentBytes()
        var index: Int64 = 0
        for db in server.store.databases {
            for n in db.names() {
                if let info = try? db.stream(n)?.info() { index += Int64(info.indexBytes) }
            }
        }
        return [
            "used_memory:\(rss)",
            "used_memory_human:\(human(rss))",
            "used_memory_rss:\(rss)",
            "used_memory_rss_human:\(human(rss))",
            "used_memory_dataset:\(index)",
            "maxmemory:0",
            "maxmemory_human:0B",
            "maxmemory_policy:noeviction",
            "mem_allocator:libc",
        ]
    }

    /// INFO's `persistence` section.
    static func persistenceInfo(_ server: ServerState) -> [String] {
        let s = server.settings
        return [
            "loading:0",
            "async_loading:0",
            "rdb_changes_since_last_save:0",
            "rdb_bgsave_in_progress:0",
            "rdb_last_save_time:\(server.startUnixSeconds)",
            "rdb_last_bgsave_status:ok",
            "aof_enabled:1",
            "aof_rewrite_in_progress:0",
            "aof_rewrite_scheduled:0",
            "aof_last_write_status:\(server.stats.lastFsyncError.isEmpty ? "ok" : "err")",
            "aof_fsync_policy:\(s.appendfsync.rawValue)",
        ]
    }

    /// INFO's `stats` section.
    static func statsInfo(_ server: ServerState) -> [String] {
        let st = server.stats
        return [
            "total_connections_received:\(st.connectionsReceived)",
            "total_commands_processed:\(st.commandsProcessed)",
            "instantaneous_ops_per_sec:0",
            "rejected_connections:\(server.rejectedConnections())",
            "expired_keys:0",
            "evicted_keys:0",
            "keyspace_hits:\(st.keyspaceHits)",
            "keyspace_misses:\(st.keyspaceMisses)",
            "pubsub_channels:0",
            "pubsub_patterns:0",
            "total_error_replies:\(st.totalErrorReplies)",
        ]
    }

    /// INFO's `spool` section.
    static func spoolInfo(_ server: ServerState) -> [String] {
        let s = server.settings
        var streams = 0, segments = 0
        var disk: Int64 = 0
        var index: Int64 = 0
        for db in server.store.databases {
            for n in db.names() {
                guard let info = try? db.stream(n)?.info() else { continue }
                streams += 1
                segments += info.segments
                disk += info.diskBytes
                index += Int64(info.indexBytes)
            }
        }
        return [
            "spool_version:\(spoolVersion)",
            "spool_dir:\(s.directory)",
            "spool_appendfsync:\(s.appendfsync.rawValue)",
            "spool_streams:\(streams)",
            "spool_segments:\(segments)",
            "spool_disk_bytes:\(disk)",
            "spool_disk_human:\(human(disk))",
            "spool_index_bytes:\(index)",
            "spool_group_commit_fsyncs:\(server.stats.fsyncs)",
            "spool_group_commit_fsync_usec:\(server.stats.fsyncMicroseconds)",
        ]
    }
}

extension String {
    /// `%.2f`-style formatting without Foundation.
    init(format2 value: Double, digits: Int = 2) {
        var scale = 1.0
        for _ in 0..<digits { scale *= 10 }
        let rounded = (value * scale).rounded() / scale
        let whole = Int64(rounded)
        var frac = Int64(((rounded - Double(whole)) * scale).rounded())
        if frac < 0 { frac = -frac }
        var f = String(frac)
        while f.count < digits { f = "0" + f }
        self = digits == 0 ? String(whole) : "\(whole).\(f)"
    }
}
