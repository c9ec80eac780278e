"""JSON-lines files that survive a kill: each line appended and flushed to disk as it is written, a truncated
last line skipped on reading and followed by a fresh line on the next append (transcripts, compile progress,
build-tree steps)."""
from __future__ import annotations

import json
import os
from pathlib import Path


def append_line(path: Path, data: dict) -> None:
    """Append ``data`` as one JSON line and flush it to disk, starting a fresh line after a truncated one."""
    line = json.dumps(data, ensure_ascii=False) + "\n"
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "a+b") as handle:
        if handle.tell() > 0:
            handle.seek(-1, os.SEEK_END)
            if handle.read(1) != b"\n":
                handle.write(b"\n")
        # A lone surrogate (a remote LM's JSON may hold one) cannot be UTF-8: written as the JSON
        # escape it stands for (it only occurs inside JSON strings), it reads back unchanged.
        handle.write(line.encode("utf-8", "backslashreplace"))
        handle.flush()
        os.fsync(handle.fileno())


def read_lines(path: Path) -> list[dict]:
    """Every line of a file ``append_line`` wrote that parses as JSON (a truncated last one does not)."""
    if not path.is_file():
        return []
    parsed = []
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            parsed.append(json.loads(line))
        except ValueError:
            continue
    return parsed
