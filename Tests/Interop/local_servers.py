"""Helpers the interop scripts share for the servers they start on 127.0.0.1."""
import socket, time


def free_port():
    """A TCP port on 127.0.0.1 that was free a moment ago."""
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def wait_port(port, proc, what="server"):
    """Returns once `port` accepts connections (up to 10 s); raises if `proc` exits first."""
    for _ in range(200):
        if proc.poll() is not None:
            raise RuntimeError(f"{what} on port {port} exited with {proc.returncode}")
        try:
            socket.create_connection(("127.0.0.1", port), timeout=0.1).close()
            return
        except OSError:
            time.sleep(0.05)
    raise RuntimeError(f"{what} on port {port} did not start")
