"""The real `vmr serve` in a subprocess, on a port the OS picks, for the server and browser tests."""

from __future__ import annotations

import re
import signal
import subprocess
import tempfile
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from conftest import VMR


@contextmanager
def served(home: Path, start_timeout: float = 180) -> Iterator[str]:
    """Yields the base URL (`http://127.0.0.1:PORT/`) once the server listens with its models
    loaded; on exit stops it with Ctrl+C, as a user would, and checks it exits cleanly."""
    with tempfile.TemporaryFile("w+") as stderr:  # a file, not a pipe: a full pipe would block the server
        process = subprocess.Popen([str(VMR), "--home", str(home), "serve", "--port", "0"],
                                   stdout=subprocess.PIPE, stderr=stderr, text=True)
        timer = threading.Timer(start_timeout, process.kill)  # a server that never says where it is
        timer.start()
        try:
            line = process.stdout.readline()
            timer.cancel()
            url = re.search(r"http://127\.0\.0\.1:\d+/", line)
            if url is None:
                process.kill()
                process.wait()
                stderr.seek(0)
                raise AssertionError(f"vmr serve did not start: {line!r}\n{stderr.read()}")
            yield url.group(0)
        finally:
            timer.cancel()
            process.send_signal(signal.SIGINT)
            code = process.wait(timeout=60)
        stderr.seek(0)
        assert code == 0, f"vmr serve exited {code} on Ctrl+C:\n{stderr.read()}"
