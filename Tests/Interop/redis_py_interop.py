#!/usr/bin/env python3
"""Interop tests: a real `spool serve` process driven by redis-py (pip install redis).

    python3 Tests/Interop/redis_py_interop.py [path/to/spool]

Starts the server on a free 127.0.0.1 port in a temporary directory, runs the checks, stops it.
The consumer-group examples of ../shared/redis-streams-chapter.txt run when the server knows
XGROUP (the groups branch); otherwise they are reported as skipped.
"""
import os, shutil, signal, subprocess, sys, tempfile, threading, time

import redis

from local_servers import free_port, wait_port

SPOOL = sys.argv[1] if len(sys.argv) > 1 else os.path.join(os.path.dirname(__file__), "../../.build/debug/spool")


class Server:
    def __init__(self, *extra):
        self.dir = tempfile.mkdtemp(prefix="spool-interop-")
        self.port = free_port()
        self.proc = subprocess.Popen([SPOOL, "serve", "--port", str(self.port), "--dir", self.dir, *extra],
                                     stderr=subprocess.PIPE)
        wait_port(self.port, self.proc, "spool serve")

    def stop(self):
        self.proc.send_signal(signal.SIGTERM)
        rc = self.proc.wait(timeout=20)
        shutil.rmtree(self.dir, ignore_errors=True)
        return rc


checks = 0


def check(cond, what):
    global checks
    checks += 1
    if not cond:
        raise AssertionError(what)


def basics(port, protocol):
    r = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, protocol=protocol)
    r.flushall()
    check(r.ping() is True, "ping")
    ids = [r.xadd("orders", {"orderId": f"ord-{i}", "region": "us-east-1"}, maxlen=100000, approximate=True) for i in range(5)]
    check(r.xlen("orders") == 5, "xlen")
    check([e[0] for e in r.xrange("orders")] == ids, "xrange ids")
    check(r.xrevrange("orders", count=1)[0][0] == ids[-1], "xrevrange")
    info = r.xinfo_stream("orders")
    check(info["length"] == 5 and info["last-generated-id"] == ids[-1], "xinfo stream")
    read = r.xread({"orders": ids[3]})
    entries = read["orders"][0] if protocol == 3 else read[0][1]
    check([e[0] for e in entries] == [ids[4]], "xread")
    # Pipelines and transactions.
    p = r.pipeline(transaction=False)
    for i in range(100):
        p.xadd("pipe", {"n": str(i)})
    p.xlen("pipe")
    check(p.execute()[-1] == 100, "pipeline")
    t = r.pipeline(transaction=True)
    t.xadd("tx", {"a": "b"}, id="1-1")
    t.xlen("tx")
    check(t.execute() == ["1-1", 1], "transaction")
    # WATCH: a concurrent write aborts the transaction.
    with r.pipeline() as w:
        w.watch("tx")
        redis.Redis(host="127.0.0.1", port=port).xadd("tx", {"c": "d"}, id="2-1")
        w.multi()
        w.xlen("tx")
        try:
            w.execute()
            check(False, "watch should abort")
        except redis.WatchError:
            check(True, "watch")
    # Blocking XREAD wakes at once on XADD.
    got = []

    def reader():
        rr = redis.Redis(host="127.0.0.1", port=port, decode_responses=True, protocol=protocol)
        got.append(rr.xread({"orders": "$"}, block=5000))

    th = threading.Thread(target=reader)
    th.start()
    time.sleep(0.2)
    started = time.time()
    new_id = r.xadd("orders", {"late": "1"})
    th.join()
    check(time.time() - started < 1.0, "wake-up latency")
    woke = got[0]["orders"][0] if protocol == 3 else got[0][0][1]
    check(woke[0][0] == new_id, "woken with the new entry")
    check(r.xread({"orders": "$"}, block=100) in (None, {}, []), "block timeout")
    check(r.type("orders") == "stream" and r.exists("orders") == 1, "type/exists")
    check(sorted(r.scan_iter(match="o*")) == ["orders"], "scan")
    check(r.client_setname("me") and r.client_getname() == "me", "client name")
    check(r.config_get("appendfsync")["appendfsync"] in ("always", "everysec", "no"), "config get")
    r.xadd("orders", {"orderId": "waitaof"})
    check(r.waitaof(1, 0, 0) == [1, 0], "waitaof: this connection's writes made durable")
    try:
        r.set("k", "v")
        check(False, "SET must be unknown")
    except redis.ResponseError as e:
        check(str(e) == "unknown command 'SET', with args beginning with: 'k' 'v' ", "unknown command text")


def chapter_examples(port):
    """The chapter's Python examples, unchanged in substance (r points at spool serve)."""
    r = redis.Redis(host="localhost", port=port, decode_responses=True)

    def publish_order_event(order_id, total, region):
        return r.xadd("orders", {"orderId": order_id, "totalAmount": str(total), "region": region,
                                 "eventType": "OrderPlaced", "timestamp": str(int(time.time() * 1000))},
                      maxlen=100000, approximate=True)

    def setup_consumer_group(stream, group):
        try:
            r.xgroup_create(stream, group, id="$", mkstream=True)
        except redis.ResponseError as e:
            if "BUSYGROUP" not in str(e):
                raise

    r.delete("orders")
    setup_consumer_group("orders", "order-processors")
    setup_consumer_group("orders", "order-processors")  # BUSYGROUP tolerated
    for i in range(3):
        publish_order_event(f"ord-{7829 + i}", 149.99, "us-east-1")
    entries = r.xreadgroup(groupname="order-processors", consumername="worker-1", streams={"orders": ">"}, count=10, block=5000)
    msgs = entries[0][1]
    check(len(msgs) == 3, "xreadgroup delivers 3")
    for msg_id, fields in msgs[:2]:
        r.xack("orders", "order-processors", msg_id)
    next_id, claimed, deleted = r.xautoclaim(name="orders", groupname="order-processors", consumername="worker-2",
                                             min_idle_time=0, start_id="0-0", count=10)
    check(len(claimed) == 1, "xautoclaim recovers the unacked entry")
    pending = r.xpending_range("orders", "order-processors", min=claimed[0][0], max=claimed[0][0], count=1)
    check(pending[0]["times_delivered"] >= 1, "xpending_range")
    for g in r.xinfo_groups("orders"):
        r.xinfo_consumers("orders", g["name"])


def main():
    server = Server("--appendfsync", "always", "--requirepass", "pw")
    try:
        r = redis.Redis(host="127.0.0.1", port=server.port)
        try:
            r.ping()
            check(False, "NOAUTH expected")
        except redis.AuthenticationError:
            check(True, "noauth")
        except redis.ResponseError as e:
            check("NOAUTH" in str(e), "noauth")
        for protocol in (2, 3):
            # AUTH through redis-py's handshake (AUTH, or HELLO 3 AUTH).
            os.environ.pop("REDIS_PASSWORD", None)
            basics_port = server.port
            rr = redis.Redis(host="127.0.0.1", port=basics_port, password="pw", protocol=protocol, decode_responses=True)
            check(rr.ping(), f"auth resp{protocol}")
    finally:
        check(server.stop() == 0, "exit code 0 after SIGTERM")

    server = Server()
    try:
        basics(server.port, 2)
        basics(server.port, 3)
        chapter_examples(server.port)
    finally:
        check(server.stop() == 0, "exit code 0 after SIGTERM")
    print(f"redis-py interop: {checks} passed, 0 failed")


if __name__ == "__main__":
    main()
