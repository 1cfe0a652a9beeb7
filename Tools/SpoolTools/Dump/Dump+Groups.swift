import SpoolFiles
import SpoolFormat

extension Dump {
    /// The consumer-group state of a stream, as the engine would hold it after open: the group
    /// checkpoint with its records replayed, from the store journal (or, format 1, its group
    /// journal), through `GroupFiles`, the engine's own reader.
    ///
    /// Text: one line per group, then its consumers and its pending entries, indented. JSON
    /// lines: one object per group (with its consumers), then one per pending entry. Times are
    /// ISO-8601 with milliseconds, followed by the epoch milliseconds.
    static func dumpGroups<Out: ToolOutput>(_ s: StoreLayout.StreamDirectory, journal: StoreJournalView, options: DumpOptions,
                                            to out: inout Out, stats: inout DumpStats) {
        let key = s.key
        let files = GroupFiles.read(directory: s.path, relativePath: s.relativePath,
                                    storeRecords: { journal.records(of: key, from: $0, part: .groups).items })
        let json = options.format == .jsonl
        let name = s.name ?? []
        let prefix = "{\"db\":\(s.database),\"stream\":\(Escaping.json(name)),\"group\":"
        if !json { out.write("stream \(Escaping.text(name)) db\(s.database) \(s.relativePath)\n") }
        switch files.checkpoint {
        case .absent:
            if !json { out.write("  no consumer groups\n") }
            return
        case .damaged(let e):
            stats.warnings.append("\(e.file) @ \(e.offset): group checkpoint damaged: \(e.reason); no group state shown (spool fsck --repair moves it to lost+found)")
            return
        case .unreadable(let e):
            stats.warnings.append("cannot read the group checkpoint: \(e)")
            return
        case .decoded:
            break
        }
        if let e = files.journalError { stats.warnings.append("cannot read the group journal: \(e); state as of the group checkpoint") }
        if let j = files.journal {
            if let h = j.headerError {
                stats.warnings.append("\(j.relativePath) @ \(h.offset): group journal header damaged: \(h.reason); its \(j.items.count) records are not applied (as the engine does)")
            } else if let t = j.tail {
                stats.warnings.append("\(j.relativePath) @ \(t.offset): \(t.reason); state as of the records before it (as the engine cuts it)")
            }
        }
        guard let state = files.state else { return }
        if !json && state.groups.isEmpty { out.write("  no consumer groups\n") }
        for g in state.groups {
            var counts = [Int](repeating: 0, count: g.consumers.count)
            for p in g.pending { counts[p.consumer] += 1 }
            let deadLetter = g.maxDeliveries > 0 || g.deadLettered > 0 || !g.deadLetterStream.isEmpty
            if json {
                var line = prefix + Escaping.json(g.name)
                line += ",\"last-delivered\":\"\(g.cursor.lastID)\",\"entries-read\":\(g.cursor.entriesRead.map { String($0) } ?? "null")"
                line += ",\"pending\":\(g.pending.count),\"dead-letter\":"
                line += deadLetter
                    ? "{\"max-deliveries\":\(g.maxDeliveries),\"stream\":\(Escaping.json(g.deadLetterStream)),\"dead-lettered\":\(g.deadLettered)}"
                    : "null"
                line += ",\"consumers\":["
                for (i, c) in g.consumers.enumerated() {
                    if i > 0 { line += "," }
                    line += "{\"name\":\(Escaping.json(c.name)),\"seen-time\":\"\(TimeParser.iso8601(milliseconds: c.seenTime))\",\"seen-ms\":\(c.seenTime)"
                    line += ",\"active-time\":" + (c.activeTime.map { "\"\(TimeParser.iso8601(milliseconds: $0))\"" } ?? "null")
                    line += ",\"active-ms\":" + (c.activeTime.map { String($0) } ?? "null")
                    line += ",\"pending\":\(counts[i])}"
                }
                out.write(line + "]}\n")
            } else {
                var line = "group \(Escaping.text(g.name)) last-delivered \(g.cursor.lastID) entries-read \(g.cursor.entriesRead.map { String($0) } ?? "unknown")"
                line += " pending \(g.pending.count) consumers \(g.consumers.count)"
                if deadLetter {
                    line += " dead-letter max-deliveries \(g.maxDeliveries) stream \(Escaping.text(g.deadLetterStream)) dead-lettered \(g.deadLettered)"
                }
                out.write(line + "\n")
                for (i, c) in g.consumers.enumerated() {
                    let active = c.activeTime.map { "\(TimeParser.iso8601(milliseconds: $0)) (\($0))" } ?? "never"
                    out.write("  consumer \(Escaping.text(c.name)) seen \(TimeParser.iso8601(milliseconds: c.seenTime)) (\(c.seenTime)) active \(active) pending \(counts[i])\n")
                }
            }
            stats.items += 1
            for p in g.pending {
                let consumer = g.consumers[p.consumer].name
                let time = TimeParser.iso8601(milliseconds: p.deliveryTime)
                if json {
                    out.write(prefix + Escaping.json(g.name) + ",\"id\":\"\(p.id)\",\"consumer\":\(Escaping.json(consumer)),"
                              + "\"delivery-count\":\(p.deliveryCount),\"delivery-time\":\"\(time)\",\"delivery-ms\":\(p.deliveryTime)}\n")
                } else {
                    out.write("  pending \(p.id) consumer \(Escaping.text(consumer)) deliveries \(p.deliveryCount) delivered \(time) (\(p.deliveryTime))\n")
                }
            }
        }
    }
}
