"""What an import tells its operator: progress on stderr, the rejects file, and the
summary. Only counts, resource types and positions in files: never names, birth dates or
any other content of a resource (the rejects file holds the resources themselves, and is
kept like the source files)."""

from __future__ import annotations

import time
from collections import Counter
from pathlib import Path
from typing import IO, Any

import msgspec

OUTCOMES = ("created", "unchanged", "skipped", "rejected")


class Summary(msgspec.Struct, kw_only=True):
    files: int = 0
    resources: int = 0
    created: dict[str, int] = msgspec.field(default_factory=dict)
    unchanged: dict[str, int] = msgspec.field(default_factory=dict)
    """Imported by an earlier run, or a Patient already here with the same identifier."""
    skipped: dict[str, int] = msgspec.field(default_factory=dict)
    """Types Concord does not keep."""
    rejected: dict[str, int] = msgspec.field(default_factory=dict)
    rejects_file: str | None = None

    def total(self, outcome: str) -> int:
        counts: dict[str, int] = getattr(self, outcome)
        return sum(counts.values())

    def lines(self) -> list[str]:
        out = [f"import-fhir: {self.files} file(s), {self.resources} resource(s)"]
        for outcome in OUTCOMES:
            counts: dict[str, int] = getattr(self, outcome)
            detail = ", ".join(f"{kind} {n}" for kind, n in sorted(counts.items()))
            line = f"  {outcome:<10}{self.total(outcome):>7}"
            out.append(f"{line}  ({detail})" if detail else line)
        if self.rejects_file:
            out.append(f"  rejects: {self.rejects_file}")
        return out


class Reject(msgspec.Struct, kw_only=True, omit_defaults=True):
    """One line of the rejects file: why, where, and the resource (or Bundle) itself."""

    reason: str
    expression: str | None = None
    file: str
    entry: str | None = None
    resource: Any = None


class Rejects:
    """The rejects file, created on the first reject."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._out: IO[bytes] | None = None

    def write(self, reject: Reject) -> None:
        if self._out is None:
            self._out = self.path.open("wb")
        self._out.write(msgspec.json.encode(reject) + b"\n")
        self._out.flush()

    @property
    def written(self) -> bool:
        return self._out is not None

    def close(self) -> None:
        if self._out is not None:
            self._out.close()


class Progress:
    """A bar (resources done / total, rate) when stderr is a terminal; else one line a
    file, as each file is done."""

    def __init__(self, stream: IO[str], files: int, total: int) -> None:
        self.stream = stream
        self.files = files
        self.expected = total
        self.total = max(total, 1)
        self.done = 0
        self.tty = stream.isatty()
        self.started = time.monotonic()
        self._drawn = 0.0

    def advance(self, count: int) -> None:
        self.done += count
        now = time.monotonic()
        if self.tty and (now - self._drawn > 0.1 or self.done >= self.total):
            self._drawn = now
            width = 30
            filled = min(width, width * self.done // self.total)
            rate = self.done / max(now - self.started, 1e-6)
            self.stream.write(f"\rimport-fhir [{'#' * filled}{'.' * (width - filled)}] "
                              f"{self.done}/{self.total} resources  {rate:,.0f}/s ")
            self.stream.flush()

    def file_done(self, index: int, counts: Counter[str]) -> None:
        if self.tty:
            return
        detail = ", ".join(f"{counts[o]} {o}" for o in OUTCOMES)
        self.stream.write(f"import-fhir: file {index + 1}/{self.files}: "
                          f"{sum(counts.values())} resource(s): {detail}\n")
        self.stream.flush()

    def close(self) -> None:
        if self.tty:
            self.stream.write("\n")
            self.stream.flush()
