"""Real peers the tests start (Debian's prometheus-alertmanager and prometheus):
finding the binary, a free port, waiting until the peer is ready.

`.ci/run` installs the packages. Where a binary is absent the test is skipped
with a message naming the package, and fails instead when CI is set.
"""

from __future__ import annotations

import asyncio
import os
import shutil
import socket

import httpx
import pytest


def peer_binary(package: str, *names: str) -> str:
    """The path of the first of `names` on PATH (default: the package's name)."""
    for name in names or (package,):
        path = shutil.which(name)
        if path is not None:
            return path
    message = f"needs Debian's {package}: apt-get install -y {package}"
    if os.environ.get("CI"):
        pytest.fail(message)
    pytest.skip(message)


def free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


async def until_ready(
    client: httpx.AsyncClient, process: asyncio.subprocess.Process, timeout: float = 30
) -> None:
    """Waits until the peer's `/-/ready` answers 200 (both Prometheus and
    Alertmanager have it); fails at once if the peer exits."""
    async with asyncio.timeout(timeout):
        while True:
            try:
                if (await client.get("/-/ready")).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            assert process.returncode is None, "the peer exited"
            await asyncio.sleep(0.2)
