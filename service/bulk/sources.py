"""The files an import reads: JSON (a Bundle, or one resource) and NDJSON (one resource
a line, as FHIR Bulk Data export writes them), found in the paths given, directories
searched recursively."""

from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import Any

import msgspec

SUFFIXES = (".json", ".ndjson")
REJECTS_SUFFIX = ".rejects.ndjson"


class Entry(msgspec.Struct, kw_only=True):
    """One resource to load, and where it was found."""

    file: int
    where: str
    """`Bundle.entry[3]`, `line 12`, or `` for a file holding one resource."""
    resource: Any
    full_url: str | None = None
    method: str | None = None
    if_none_exist: str | None = None


class Transaction(msgspec.Struct, kw_only=True):
    """A transaction Bundle: loaded all or nothing."""

    file: int
    bundle: dict[str, Any]
    entries: list[Entry]


class Unreadable(msgspec.Struct, kw_only=True):
    file: int
    where: str
    reason: str


class Read(msgspec.Struct, kw_only=True):
    transactions: list[Transaction] = msgspec.field(default_factory=list)
    loose: list[Entry] = msgspec.field(default_factory=list)
    unreadable: list[Unreadable] = msgspec.field(default_factory=list)


class _Shape(msgspec.Struct):
    entry: list[msgspec.Raw] | None = None


def discover(paths: Iterable[Path]) -> list[Path]:
    """The files to read, in a stable order; a rejects file from an earlier run is never
    read back in. Raises FileNotFoundError for a path that does not exist."""
    found: list[Path] = []
    for path in paths:
        if path.is_dir():
            found += sorted(p for p in path.rglob("*") if p.is_file() and _wanted(p))
        elif path.is_file():
            found.append(path)
        else:
            raise FileNotFoundError(str(path))
    unique: dict[Path, None] = dict.fromkeys(p.resolve() for p in found)
    return list(unique)


def _wanted(path: Path) -> bool:
    return path.name.endswith(SUFFIXES) and not path.name.endswith(REJECTS_SUFFIX)


def count(path: Path) -> int:
    """How many resources the file holds, read cheaply for the progress total."""
    try:
        data = path.read_bytes()
    except OSError:
        return 1
    if path.name.endswith(".ndjson"):
        return sum(1 for line in data.splitlines() if line.strip())
    try:
        shape = msgspec.json.decode(data, type=_Shape)
    except (msgspec.DecodeError, msgspec.ValidationError):
        return 1
    return len(shape.entry) if shape.entry is not None else 1


def read(path: Path, file: int) -> Read:
    out = Read()
    try:
        data = path.read_bytes()
    except OSError as exc:
        out.unreadable.append(Unreadable(file=file, where="",
                                         reason=f"cannot read: {exc.strerror}"))
        return out
    if path.name.endswith(".ndjson"):
        for number, line in enumerate(data.splitlines(), start=1):
            if not line.strip():
                continue
            try:
                resource = msgspec.json.decode(line)
            except msgspec.DecodeError as exc:
                out.unreadable.append(Unreadable(file=file, where=f"line {number}",
                                                 reason=f"not JSON: {exc}"))
                continue
            out.loose.append(Entry(file=file, where=f"line {number}", resource=resource))
        return out
    try:
        document = msgspec.json.decode(data)
    except msgspec.DecodeError as exc:
        out.unreadable.append(Unreadable(file=file, where="", reason=f"not JSON: {exc}"))
        return out
    if not isinstance(document, dict) or document.get("resourceType") != "Bundle":
        out.loose.append(Entry(file=file, where="", resource=document))
        return out
    raw = document.get("entry") or []
    if not isinstance(raw, list):
        out.unreadable.append(Unreadable(file=file, where="Bundle.entry",
                                         reason="Bundle.entry must be a list"))
        return out
    entries = [_entry(file, index, item) for index, item in enumerate(raw)]
    if document.get("type") == "transaction":
        out.transactions.append(Transaction(file=file, bundle=document, entries=entries))
    else:
        out.loose += entries
    return out


def _entry(file: int, index: int, item: Any) -> Entry:
    where = f"Bundle.entry[{index}]"
    if not isinstance(item, dict):
        return Entry(file=file, where=where, resource=None, method="(not an entry)")
    raw = item.get("request")
    request: dict[str, Any] = raw if isinstance(raw, dict) else {}
    full_url = item.get("fullUrl")
    if_none_exist = request.get("ifNoneExist")
    return Entry(
        file=file, where=where, resource=item.get("resource"),
        full_url=full_url if isinstance(full_url, str) else None,
        method=str(request["method"]) if request.get("method") else None,
        if_none_exist=if_none_exist if isinstance(if_none_exist, str) else None,
    )
