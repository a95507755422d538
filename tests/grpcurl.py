"""Driving the real grpcurl binary, and the shell blocks of README.md it appears in.

README code blocks fenced as ```` ```sh tested ```` (every command must succeed)
or ```` ```sh tested-error ```` (every grpcurl in it must fail with a status) are
run by tests/test_grpcurl.py, one command at a time, as a newcomer would paste
them into a terminal.
"""

from __future__ import annotations

import asyncio
import os
import re
import shlex
import sys
from dataclasses import dataclass
from pathlib import Path

GRPCURL = Path(sys.executable).parent / "grpcurl"
README = Path(__file__).resolve().parents[1] / "README.md"
# The address the README's examples use, replaced by the test server's.
README_ADDRESS = "localhost:50051"
# The HTTP address they use, likewise.
README_HTTP_ADDRESS = "localhost:8080"

_FENCE = re.compile(r"^```sh (tested|tested-error)\n(.*?)^```$", re.MULTILINE | re.DOTALL)
_HEREDOC = re.compile(r"<<-?\s*'?\"?([A-Za-z_]+)'?\"?")
_ASSIGNMENT = re.compile(r"^(?:export\s+)?[A-Za-z_][A-Za-z0-9_]*=")
_METHOD = re.compile(r"awooop\.channel_events\.v1\.(\w+)/(\w+)")


@dataclass(frozen=True)
class Command:
    text: str
    expect_error: bool

    @property
    def sets_variables(self) -> bool:
        return bool(_ASSIGNMENT.match(self.text))

    @property
    def method(self) -> str:
        """"Service/Method" the command calls, "list", "describe", or ""."""
        found = _METHOD.search(self.text)
        if found:
            return f"{found.group(1)}/{found.group(2)}"
        words = self.text.split()
        if words and words[0] == "grpcurl":
            return next((w for w in words if w in ("list", "describe")), "")
        return ""


@dataclass(frozen=True)
class Result:
    returncode: int
    stdout: str
    stderr: str


def _is_complete(shell_lines: list[str]) -> bool:
    """True when these lines (heredoc bodies left out) end a command."""
    last = shell_lines[-1].rstrip()
    if last.endswith(("\\", "|", "&&", "||")):
        return False
    try:
        shlex.split("\n".join(shell_lines), comments=True)
    except ValueError:  # an open quote: the command goes on
        return False
    return True


def split_commands(block: str, expect_error: bool = False) -> list[Command]:
    """The commands of a shell block: continued lines, open quotes and heredocs
    are kept with the command they belong to; comments and blank lines between
    commands are dropped."""
    commands: list[Command] = []
    lines: list[str] = []
    shell_lines: list[str] = []
    heredoc = ""
    for line in block.splitlines():
        if heredoc:
            lines.append(line)
            if line.strip() == heredoc:
                heredoc = ""
                if _is_complete(shell_lines):
                    commands.append(Command("\n".join(lines), expect_error))
                    lines, shell_lines = [], []
            continue
        if not lines and (not line.strip() or line.lstrip().startswith("#")):
            continue
        lines.append(line)
        shell_lines.append(line)
        opened = _HEREDOC.search(line)
        if opened:
            heredoc = opened.group(1)
            continue
        if _is_complete(shell_lines):
            commands.append(Command("\n".join(lines), expect_error))
            lines, shell_lines = [], []
    if lines:
        raise ValueError(f"unfinished command in README block: {lines[0]!r}")
    return commands


def readme_commands(text: str) -> list[Command]:
    """Every command of the README's tested blocks, in document order."""
    return [
        command
        for match in _FENCE.finditer(text)
        for command in split_commands(match.group(2), expect_error=match.group(1) == "tested-error")
    ]


async def run_shell(
    script: str, cwd: Path, env: dict[str, str] | None = None, timeout: float = 30.0
) -> Result:
    """Runs a bash script without blocking the event loop (the server under
    test runs on it)."""
    process = await asyncio.create_subprocess_exec(
        "bash", "-c", f"set -o pipefail\n{script}",
        cwd=cwd,
        env={**os.environ, **(env or {})},
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    try:
        stdout, stderr = await asyncio.wait_for(process.communicate(), timeout)
    except TimeoutError:
        process.kill()
        await process.wait()
        raise
    return Result(process.returncode or 0, stdout.decode(), stderr.decode())


async def grpcurl(*args: str, stdin: bytes | None = None, timeout: float = 30.0) -> Result:
    process = await asyncio.create_subprocess_exec(
        str(GRPCURL), *args,
        stdin=asyncio.subprocess.PIPE,
        stdout=asyncio.subprocess.PIPE,
        stderr=asyncio.subprocess.PIPE,
    )
    stdout, stderr = await asyncio.wait_for(process.communicate(stdin), timeout)
    return Result(process.returncode or 0, stdout.decode(), stderr.decode())
