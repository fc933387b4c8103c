"""The loopback HTTP/1.1 server of the ``sse_http`` workloads.

A minimal server on blocking sockets (``text/event-stream``, keep-alive,
chunked encoding) that answers ``GET /<stream>/<events>/<chunking>`` with
that stream, writing each chunk of the chunking with one ``sendall``, as one
chunked-encoding frame, as a streaming server that flushes per write does.
It runs in a thread of the benchmark, or in a process of its own:
``python benchmarks/sse_server.py serve`` prints its port and serves until
its stdin closes (what ``run.py --sse-server process``, the default, starts).
"""

from __future__ import annotations

import atexit
import functools
import socket
import subprocess
import sys
import threading
from pathlib import Path
from typing import Literal

from sse_streams import Chunking, Kind, get_chunks

ServerMode = Literal["thread", "process"]

_RESPONSE_HEAD = (
    b"HTTP/1.1 200 OK\r\n"
    b"content-type: text/event-stream; charset=utf-8\r\n"
    b"cache-control: no-cache\r\n"
    b"transfer-encoding: chunked\r\n"
    b"\r\n"
)
_NOT_FOUND = b"HTTP/1.1 404 Not Found\r\ncontent-length: 0\r\n\r\n"


@functools.cache
def framed(kind: Kind, n: int, chunking: Chunking) -> list[bytes]:
    """The chunks as HTTP/1.1 chunked-encoding frames, one ``sendall`` each."""
    return [b"%x\r\n%b\r\n" % (len(c), c) for c in get_chunks(kind, n, chunking)]


def parse_path(path: str) -> tuple[Kind, int, Chunking] | None:
    """``/token/150000/random`` -> ("token", 150000, "random")."""
    try:
        _, kind, n, chunking = path.split("/")
        if kind in ("token", "mixed") and chunking in ("64k", "random"):
            return kind, int(n), chunking  # type: ignore[return-value]
    except ValueError:
        pass
    return None


def _handle(conn: socket.socket) -> None:
    """Serve GET requests on one keep-alive connection until the client closes it."""
    with conn:
        buf = b""
        while True:
            while b"\r\n\r\n" not in buf:
                part = conn.recv(65536)
                if not part:
                    return
                buf += part
            head, _, buf = buf.partition(b"\r\n\r\n")
            target = parse_path(head.split(b" ", 2)[1].decode("latin-1"))
            if target is None:
                conn.sendall(_NOT_FOUND)
                continue
            frames = framed(*target)
            conn.sendall(_RESPONSE_HEAD)
            for frame in frames:  # exactly one write per chunk
                conn.sendall(frame)
            conn.sendall(b"0\r\n\r\n")


def _serve_forever(listener: socket.socket) -> None:
    while True:
        try:
            conn, _ = listener.accept()
        except OSError:
            return
        threading.Thread(target=_handle, args=(conn,), daemon=True).start()


def _listen() -> socket.socket:
    listener = socket.create_server(("127.0.0.1", 0))
    listener.listen(16)
    return listener


class Server:
    """The loopback server: in a process of its own, or in a thread of this one."""

    def __init__(self, mode: ServerMode) -> None:
        self.mode = mode
        self._process: subprocess.Popen[str] | None = None
        if mode == "thread":
            listener = _listen()
            self.port = listener.getsockname()[1]
            threading.Thread(target=_serve_forever, args=(listener,), daemon=True).start()
        else:
            # The child exits when its stdin closes: when this process ends, however it ends.
            self._process = subprocess.Popen(
                [sys.executable, str(Path(__file__).resolve()), "serve"],
                stdin=subprocess.PIPE,
                stdout=subprocess.PIPE,
                text=True,
            )
            assert self._process.stdout is not None
            self.port = int(self._process.stdout.readline())
            atexit.register(self.close)

    def url(self, kind: Kind, n: int, chunking: Chunking) -> str:
        return f"http://127.0.0.1:{self.port}/{kind}/{n}/{chunking}"

    def close(self) -> None:
        process = self._process
        if process is not None and process.poll() is None:
            assert process.stdin is not None
            process.stdin.close()
            try:
                process.wait(5)
            except subprocess.TimeoutExpired:
                process.terminate()
                process.wait(5)


def _main(argv: list[str]) -> None:
    if argv != ["serve"]:
        sys.exit("usage: sse_server.py serve  (the loopback server run.py starts)")
    listener = _listen()
    threading.Thread(target=_serve_forever, args=(listener,), daemon=True).start()
    print(listener.getsockname()[1], flush=True)
    sys.stdin.read()  # until the benchmark closes our stdin or ends


if __name__ == "__main__":
    _main(sys.argv[1:])
