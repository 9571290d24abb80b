"""The real `vmr serve` in a subprocess, on a port the OS picks, for the server and browser tests."""

from __future__ import annotations

import re
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import IO

from conftest import VMR


@dataclass
class Server:
    link: str  # what `vmr serve` printed: http://HOST:PORT/, with ?token=… when it made one
    port: int
    stderr: IO[str]

    @property
    def url(self) -> str:
        return self.link.split("?", 1)[0]

    @property
    def token(self) -> str | None:
        found = re.search(r"[?&]token=([^&\s]+)", self.link)
        return found.group(1) if found else None

    def errors(self) -> str:
        """What it wrote on stderr so far."""
        self.stderr.flush()
        self.stderr.seek(0)
        return self.stderr.read()


@contextmanager
def serving(home: Path, *options: str, start_timeout: float = 180) -> Iterator[Server]:
    """`vmr serve --port 0 OPTIONS...` once it listens with its models loaded; on exit stops it
    with Ctrl+C, as a user would, and checks it exits cleanly."""
    with tempfile.TemporaryFile("w+") as stderr:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen([str(VMR), "--home", str(home), "serve", "--port", "0", *options],
                                   stdout=subprocess.PIPE, stderr=stderr, text=True)
        timer = threading.Timer(start_timeout, process.kill)  # a server that never says where it is
        timer.start()
        try:
            line = process.stdout.readline()
            timer.cancel()
            link = re.search(r"http://\S+:(\d+)/\S*", line)
            if link is None:
                process.kill()
                process.wait()
                stderr.seek(0)
                raise AssertionError(f"vmr serve did not start: {line!r}\n{stderr.read()}")
            yield Server(link.group(0), int(link.group(1)), stderr)
        finally:
            timer.cancel()
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=60)
        stderr.seek(0)
        assert code == 0, f"vmr serve exited {code} on Ctrl+C:\n{stderr.read()}"


@contextmanager
def served(home: Path, start_timeout: float = 180) -> Iterator[str]:
    """Yields the base URL (`http://127.0.0.1:PORT/`) of `vmr serve` on loopback."""
    with serving(home, start_timeout=start_timeout) as server:
        assert server.url.startswith("http://127.0.0.1:"), server.link
        yield server.url
