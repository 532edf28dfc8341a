"""Local servers the measurements and the tests start for themselves: a free port, and a
`chroma run` server over a folder."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from knowledge.vector_index import IndexUnavailable, connect

CHROMA = str(Path(sys.executable).parent / "chroma")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


@contextmanager
def chroma_server(path: Path) -> Iterator[tuple[str, int]]:
    """A `chroma run` server on 127.0.0.1, a free port, over path; (url, pid). IndexUnavailable
    when it does not answer within 60 s."""
    port = free_port()
    command = [CHROMA, "run", "--path", str(path), "--host", "127.0.0.1", "--port", str(port)]
    proc = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    url = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                connect(url)
                break
            except IndexUnavailable:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.3)
        yield url, proc.pid
    finally:
        proc.terminate()
        proc.wait(timeout=60)
