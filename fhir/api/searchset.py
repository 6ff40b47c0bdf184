"""What the read side answers with: searchset Bundles (matches, then what `_include`
added) and history Bundles (newest first), with `self` and `next` links and the exact
total; and a 400 OperationOutcome for a search it will not run as asked."""

from __future__ import annotations

import datetime as dt
import email.utils
import re
from typing import Any
from urllib.parse import urlencode

from litestar import Request, Response

from fhir.api.http import outcome as _outcome
from fhir.search.query import CURSOR, SearchError
from fhir.store.repository import Stored, Version

_RESPONSE = {"create": ("POST", "201 Created"), "update": ("PUT", "200 OK"),
             "delete": ("DELETE", "200 OK")}


def search_error(_: Request[Any, Any, Any], exc: SearchError) -> Response[dict[str, Any]]:
    return _outcome(400, exc.code, exc.diagnostics, exc.expression)


ERRORS: dict[Any, Any] = {SearchError: search_error}


def strict(request: Request[Any, Any, Any]) -> bool:
    """`Prefer: handling=strict`: refuse parameters this server would otherwise ignore."""
    prefer = request.headers.get("prefer", "")
    return any(part.strip() == "handling=strict" for part in re.split(r"[;,]", prefer))


def http_date(moment: dt.datetime) -> str:
    return email.utils.format_datetime(moment.astimezone(dt.UTC), usegmt=True)


def url(base: str, path: str, params: list[tuple[str, str]]) -> str:
    return f"{base}/{path}" + (f"?{urlencode(params)}" if params else "")


def links(
    base: str, path: str, applied: list[tuple[str, str]], cursor: str | None,
    next_cursor: str | None,
) -> list[dict[str, str]]:
    """`self` (this page: the parameters applied, and its cursor) and `next`."""
    here = applied + ([(CURSOR, cursor)] if cursor else [])
    found = [{"relation": "self", "url": url(base, path, here)}]
    if next_cursor is not None:
        following = [*applied, (CURSOR, next_cursor)]
        found.append({"relation": "next", "url": url(base, path, following)})
    return found


def searchset(
    base: str, total: int, link: list[dict[str, str]], matches: list[Stored],
    included: list[Stored], now: dt.datetime,
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "type": "searchset", "timestamp": now.isoformat(),
        "total": total, "link": link,
    }
    entries = [_entry(base, item, "match") for item in matches]
    entries += [_entry(base, item, "include") for item in included]
    if entries:  # FHIR JSON has no empty arrays
        bundle["entry"] = entries
    return bundle


def _entry(base: str, item: Stored, mode: str) -> dict[str, Any]:
    return {"fullUrl": f"{base}/{item.resource_type}/{item.id}", "resource": item.resource,
            "search": {"mode": mode}}


def history(
    base: str, total: int, link: list[dict[str, str]], versions: list[Version],
    now: dt.datetime,
) -> dict[str, Any]:
    bundle: dict[str, Any] = {
        "resourceType": "Bundle", "type": "history", "timestamp": now.isoformat(),
        "total": total, "link": link,
    }
    if versions:
        bundle["entry"] = [_history_entry(base, version) for version in versions]
    return bundle


def _history_entry(base: str, version: Version) -> dict[str, Any]:
    method, status = _RESPONSE.get(version.method, ("PUT", "200 OK"))
    path = f"{version.resource_type}/{version.id}"
    entry: dict[str, Any] = {"fullUrl": f"{base}/{path}"}
    if version.resource is not None:
        entry["resource"] = version.resource
    entry["request"] = {"method": method,
                        "url": version.resource_type if method == "POST" else path}
    entry["response"] = {"status": status, "etag": f'W/"{version.version_id}"',
                         "lastModified": version.last_updated.isoformat()}
    return entry
