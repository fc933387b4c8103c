"""A broker server of the test's own (redis-server, nats-server), to kill and restart.

The machine's shared Redis and NATS are never restarted by a test: a restart
test starts its own server on a free loopback port, with its data in the
test's temporary directory, kills it and starts it again on the same port.
"""

from __future__ import annotations

import shutil
import signal
import socket
import subprocess
import time
from typing import TYPE_CHECKING

import services

if TYPE_CHECKING:
    from pathlib import Path


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


class PrivateServer:
    """One server process, started with ``argv`` (``{port}`` and ``{dir}`` filled in)."""

    def __init__(self, program: str, argv: list[str], directory: Path) -> None:
        path = shutil.which(program)
        if path is None:
            services.unavailable(f"{program} is not installed: the restart test needs its own")
        self.port = free_port()
        self.directory = directory
        self.argv = [path, *(a.format(port=self.port, dir=directory) for a in argv)]
        self.process: subprocess.Popen[bytes] | None = None

    def start(self) -> None:
        with (self.directory / "server.log").open("ab") as log:  # the child keeps its own copy
            self.process = subprocess.Popen(self.argv, stdout=log, stderr=log)
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
            except OSError:
                time.sleep(0.02)
            else:
                return
        raise RuntimeError(f"{self.argv[0]} did not start on port {self.port}")

    def kill(self) -> None:
        """SIGKILL: no goodbye to the clients, only what is on disk survives."""
        if self.process is not None and self.process.poll() is None:
            self.process.send_signal(signal.SIGKILL)
            self.process.wait(timeout=10)

    def stop(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.terminate()
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.kill()
