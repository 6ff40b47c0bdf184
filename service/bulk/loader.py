"""The import itself: every resource through the write path /fhir uses (fhir.writes), so
an imported plan is the same plan a POST would make.

- A transaction Bundle (Synthea writes one per patient) is one database transaction
  through `bundles.transaction`: all of it or none of it. A rejected one goes to the
  rejects file whole, and the import goes on with the next.
- Everything else (NDJSON lines, entries of collection, batch, searchset Bundles, a file
  holding one resource) is loaded a resource at a time, each in its own savepoint,
  those a resource refers to first, whichever file they came from.
- Types Concord does not keep are skipped and counted. A reference to a skipped entry
  keeps only its `display` (or what the skipped resource says it is); see
  `service.bulk.references`.
- Idempotency: each source resource (its `Type/id`, else its fullUrl, else a hash of its
  content) is noted in the import ledger with what it became, in the same transaction;
  a Patient already here with the same identifier, or a resource its entry's
  `ifNoneExist` finds, is taken as it is. A re-run creates nothing and writes no
  version."""

from __future__ import annotations

import datetime as dt
import hashlib
import re
import uuid
from collections import Counter
from pathlib import Path
from typing import IO, Any
from urllib.parse import urlencode

import msgspec
from sqlalchemy.exc import DBAPIError
from sqlalchemy.ext.asyncio import AsyncEngine

from domain.actor import Actor
from domain.errors import DomainError
from fhir.writes import bundles
from fhir.writes import engine as writes
from fhir.writes.conditional import matches
from fhir.writes.errors import FhirError
from fhir.writes.validation import CHECKED_REFERENCES
from service.bulk import ledger, sources
from service.bulk.references import (
    KEEP,
    Blocked,
    Decision,
    DisplayOnly,
    Replace,
    display_of,
    logical,
    references,
    rewrite,
)
from service.bulk.report import Progress, Reject, Rejects, Summary
from service.db.uow import RequestContext, UnitOfWork, unit_of_work

_KEY_LIMIT = 600  # fhir_import_ledger.source_ref
_NOT_CARRIED_OUT = frozenset({"DELETE", "GET", "HEAD", "PATCH"})
# Loose resources are created each after those it refers to. That order is searched from
# the top of this ranking down (what refers to plans, plans, their parts, patients), so
# where two refer to each other (CarePlan.activity -> ServiceRequest, whose basedOn is the
# CarePlan) the part is created first, without its reference back to the plan, which
# Concord sets again when the plan takes the part in.
_RANK = {"Patient": 0, "Goal": 1, "CareTeam": 1, "ServiceRequest": 1,
         "MedicationStatement": 1, "Questionnaire": 1, "CarePlan": 2}
_OTHER_RANK = 3
_ENTRY_INDEX = re.compile(r"^Bundle\.entry\[(\d+)\]")


class Options(msgspec.Struct, kw_only=True, frozen=True):
    base: str
    """This server's FHIR base URL, as /fhir serves it."""
    rejects: Path
    source: str = "default"
    """Names where the files came from; ids are unique within a source."""
    lead: uuid.UUID | None = None
    """A staff member who joins, as its lead, every imported CareTeam that names none of
    the clinic's staff (an EHR's practitioners are not Concord staff), so the plans
    using it get a team."""
    chunk: int = 100
    """Loose resources committed together (each still in its own savepoint)."""


class _Rejected(Exception):
    def __init__(self, reason: str, expression: str | None = None) -> None:
        super().__init__(reason)
        self.reason = reason
        self.expression = expression


class _Item:
    """One entry of the import and what became of it."""

    def __init__(self, entry: sources.Entry) -> None:
        self.entry = entry
        resource = entry.resource
        kind = resource.get("resourceType") if isinstance(resource, dict) else None
        self.resource_type: str | None = kind if isinstance(kind, str) and kind else None
        self.key = _source_key(entry, self.resource_type)
        self.state = "pending"  # skipped, unchanged, created, rejected
        self.target: str | None = None
        """`Type/id` in Concord."""
        self.display: str | None = None
        self.urn: str | None = None
        """Its fullUrl in the transaction Bundle handed to the write path."""
        self.learned = False
        """Found here (by identifier or ifNoneExist) rather than in the ledger."""
        if self.resource_type is not None and self.resource_type not in writes.WRITABLE:
            self.state = "skipped"
            self.display = display_of(resource)

    @property
    def aliases(self) -> list[str]:
        names = [self.key]
        if self.entry.full_url:
            names += [self.entry.full_url, logical(self.entry.full_url) or ""]
        return [n for n in names if n]

    @property
    def kind(self) -> str:
        return self.resource_type or "(not a resource)"


def _source_key(entry: sources.Entry, kind: str | None) -> str:
    resource = entry.resource
    ident = resource.get("id") if isinstance(resource, dict) else None
    if kind and isinstance(ident, str) and ident:
        key = f"{kind}/{ident}"
    elif entry.full_url:
        key = logical(entry.full_url) or entry.full_url
    else:
        key = "sha256:" + hashlib.sha256(msgspec.json.encode(resource, order="sorted")).hexdigest()
    if len(key) > _KEY_LIMIT:
        key = "sha256:" + hashlib.sha256(key.encode()).hexdigest()
    return key


def _alias_map(items: list[_Item]) -> dict[str, _Item]:
    found: dict[str, _Item] = {}
    for item in items:
        for name in item.aliases:
            found.setdefault(name, item)
    return found


def _lookup(aliases: dict[str, _Item], ref: str) -> _Item | None:
    name = logical(ref)
    return aliases.get(ref) or (aliases.get(name) if name else None)


def _dependency_order(items: list[_Item], aliases: dict[str, _Item]) -> list[_Item]:
    """Each item after the items it refers to; a cycle is cut where it closes (the item
    whose reference closes it comes first and goes without that reference)."""
    ranked = sorted(range(len(items)), key=lambda i: (
        -_RANK.get(items[i].resource_type or "", _OTHER_RANK), i))
    ordered: list[_Item] = []
    seen: set[int] = set()
    for start in ranked:
        root = items[start]
        if id(root) in seen:
            continue
        seen.add(id(root))
        stack = [(root, _targets(root, aliases))]
        while stack:
            item, todo = stack[-1]
            if todo:
                nxt = todo.pop(0)
                if id(nxt) not in seen:
                    seen.add(id(nxt))
                    stack.append((nxt, _targets(nxt, aliases)))
                continue
            stack.pop()
            ordered.append(item)
    return ordered


def _targets(item: _Item, aliases: dict[str, _Item]) -> list[_Item]:
    if item.state == "skipped" or item.resource_type is None:
        return []
    out = []
    for _, ref in references(item.entry.resource, item.resource_type):
        target = _lookup(aliases, ref)
        if target is not None and target is not item:
            out.append(target)
    first = aliases.get(item.key)
    if first is not None and first is not item:
        out.append(first)  # the same resource seen earlier: it decides for this one
    return out


class Importer:
    def __init__(self, engine: AsyncEngine, actor: Actor, options: Options,
                 progress: Progress, files: list[Path]) -> None:
        self.engine = engine
        self.actor = actor
        self.options = options
        self.progress = progress
        self.files = files
        self.summary = Summary(files=len(files), resources=progress.expected)
        self.rejects = Rejects(options.rejects)
        self.per_file: list[Counter[str]] = [Counter() for _ in files]
        self.context = RequestContext(request_id=f"import-fhir:{uuid.uuid4()}")
        self.known: dict[str, str] = {}
        """source ref -> `Type/id`: what the ledger holds, as far as this run has seen."""
        self.conditionals: dict[str, Decision] = {}

    # -- outcomes ------------------------------------------------------------------------

    def _count(self, file: int, outcome: str, kind: str, resources: int = 1) -> None:
        counts: dict[str, int] = getattr(self.summary, outcome)
        counts[kind] = counts.get(kind, 0) + 1
        self.per_file[file][outcome] += 1
        self.progress.advance(resources)

    def _reject(self, file: int, where: str | None, kind: str, reason: str,
                expression: str | None, resource: Any, resources: int = 1) -> None:
        self.rejects.write(Reject(reason=reason, expression=expression,
                                  file=str(self.files[file]), entry=where or None,
                                  resource=resource))
        self._count(file, "rejected", kind, resources)

    def _settle(self, items: list[_Item]) -> None:
        for item in items:
            if item.state == "rejected":
                continue  # counted when it was written to the rejects file
            if item.state in ("created", "unchanged") and item.target:
                self.known[item.key] = item.target
            self._count(item.entry.file, item.state, item.kind)

    # -- the run -------------------------------------------------------------------------

    async def run(self) -> Summary:
        pool: list[sources.Entry] = []
        waiting: set[int] = set()
        try:
            for index, path in enumerate(self.files):
                read = sources.read(path, index)
                for failure in read.unreadable:
                    self._reject(index, failure.where, "(unreadable)", failure.reason,
                                 None, None)
                for unit in read.transactions:
                    await self._transaction(unit)
                pool += read.loose
                if read.loose:
                    waiting.add(index)
                else:
                    self.progress.file_done(index, self.per_file[index])
            await self._pool(pool)
            for index in sorted(waiting):
                self.progress.file_done(index, self.per_file[index])
        finally:
            self.rejects.close()
            self.progress.close()
        if self.rejects.written:
            self.summary.rejects_file = str(self.options.rejects)
        return self.summary

    async def _transaction(self, unit: sources.Transaction) -> None:
        items = [_Item(entry) for entry in unit.entries]
        try:
            async with unit_of_work(self.engine, self.context) as uow:
                await ledger.lock(uow.conn, self.actor.clinic_id, self.options.source)
                await self._load_transaction(uow, items)
        except _Rejected as exc:
            self._reject_bundle(unit, exc.reason, exc.expression)
            return
        except (FhirError, DomainError) as exc:
            self._reject_bundle(unit, *_why(exc, items))
            return
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise
            self._reject_bundle(unit, _refused(exc), None)
            return
        self._settle(items)

    async def _load_transaction(self, uow: UnitOfWork, items: list[_Item]) -> None:
        for item in items:
            try:
                await self._classify(uow, item, {})
            except _Rejected as exc:
                raise _Rejected(exc.reason, _at(item.entry.where, exc.expression)) from None
        aliases = _alias_map(items)
        pending = [i for i in items if i.state == "pending"]
        for item in pending:
            item.urn = f"urn:uuid:{uuid.uuid4()}"
        entries = []
        for item in pending:
            try:
                resource = await self._prepared(uow, item, aliases)
            except _Rejected as exc:
                raise _Rejected(exc.reason, _at(item.entry.where, exc.expression)) from None
            entries.append({"fullUrl": item.urn, "resource": resource,
                            "request": {"method": "POST", "url": item.resource_type}})
        if entries:
            bundle = {"resourceType": "Bundle", "type": "transaction", "entry": entries}
            response = await bundles.transaction(uow, self.actor, bundle, _now(),
                                                 self.options.base)
            for item, answer in zip(pending, response["entry"], strict=True):
                written = answer["resource"]
                item.target = f"{written['resourceType']}/{written['id']}"
                item.state = "created"
        await self._record(uow, items)

    def _reject_bundle(self, unit: sources.Transaction, reason: str,
                       expression: str | None) -> None:
        self._reject(unit.file, None, "Bundle", reason, expression, unit.bundle,
                     resources=len(unit.entries))

    async def _pool(self, entries: list[sources.Entry]) -> None:
        items = [_Item(entry) for entry in entries]
        aliases = _alias_map(items)
        ordered = _dependency_order(items, aliases)
        size = max(self.options.chunk, 1)
        for start in range(0, len(ordered), size):
            batch = ordered[start:start + size]
            async with unit_of_work(self.engine, self.context) as uow:
                await ledger.lock(uow.conn, self.actor.clinic_id, self.options.source)
                for item in batch:
                    await self._one(uow, item, aliases)
            self._settle(batch)

    async def _one(self, uow: UnitOfWork, item: _Item, aliases: dict[str, _Item]) -> None:
        if item.state == "skipped":
            return
        try:
            async with uow.savepoint():
                await self._classify(uow, item, aliases)
                if item.state == "pending":
                    resource = await self._prepared(uow, item, aliases)
                    written = await writes.create(
                        uow, self.actor, resource, _now(), self.options.base,
                        resource_type=item.kind)
                    item.target = f"{item.kind}/{written.stored.id}"
                    item.state = "created"
                await self._record(uow, [item])
        except _Rejected as exc:
            self._reject_item(item, exc.reason, exc.expression)
        except (FhirError, DomainError) as exc:
            self._reject_item(item, exc.detail, _expression(exc))
        except DBAPIError as exc:
            if exc.connection_invalidated:
                raise
            self._reject_item(item, _refused(exc), None)

    def _reject_item(self, item: _Item, reason: str, expression: str | None) -> None:
        item.state = "rejected"
        self._reject(item.entry.file, item.entry.where, item.kind, reason, expression,
                     item.entry.resource)

    # -- one resource --------------------------------------------------------------------

    async def _classify(self, uow: UnitOfWork, item: _Item, aliases: dict[str, _Item]) -> None:
        """Skipped, already here (unchanged, with its target), or pending a create."""
        if item.state == "skipped":
            return
        entry = item.entry
        if entry.method in _NOT_CARRIED_OUT:
            raise _Rejected(f"a {entry.method} entry is not carried out: an import loads "
                            "resources", "request.method")
        if item.resource_type is None:
            raise _Rejected("not a FHIR resource: no resourceType", "resourceType")
        first = aliases.get(item.key)
        if first is not None and first is not item:
            if first.state == "rejected":
                raise _Rejected(f"{item.key} appears earlier in the import and was rejected")
            if first.target is not None:
                item.state, item.target = "unchanged", first.target
                return
        target = await self._imported(uow, item.key)
        if target is not None:
            item.state, item.target = "unchanged", target
            return
        found: str | None = None
        if entry.if_none_exist:
            found = await self._if_none_exist(uow, item.kind, entry.if_none_exist)
        elif item.resource_type == "Patient":
            found = await self._same_patient(uow, entry.resource)
        if found is not None:
            item.state, item.target, item.learned = "unchanged", found, True

    async def _imported(self, uow: UnitOfWork, ref: str) -> str | None:
        if ref in self.known:
            return self.known[ref]
        found = await ledger.find(uow.conn, self.actor.clinic_id, self.options.source, [ref])
        if ref in found:
            self.known[ref] = found[ref]
        return found.get(ref)

    async def _if_none_exist(self, uow: UnitOfWork, kind: str, query: str) -> str | None:
        try:
            found = await matches(uow, self.actor, kind, query, self.options.base)
        except FhirError as exc:
            raise _Rejected(f"ifNoneExist: {exc.detail}", "request.ifNoneExist") from None
        if len(found) > 1:
            raise _Rejected(f"ifNoneExist matches {len(found)} resources here",
                            "request.ifNoneExist")
        return f"{kind}/{found[0].id}" if found else None

    async def _same_patient(self, uow: UnitOfWork, resource: dict[str, Any]) -> str | None:
        """The patient already here with one of this Patient's identifiers."""
        for index, identifier in enumerate(resource.get("identifier") or []):
            if not isinstance(identifier, dict):
                continue
            system, value = identifier.get("system"), identifier.get("value")
            if not (isinstance(system, str) and isinstance(value, str) and system and value):
                continue
            query = urlencode({"identifier": f"{system}|{value}"})
            try:
                found = await matches(uow, self.actor, "Patient", query, self.options.base)
            except FhirError:
                continue
            if len(found) > 1:
                raise _Rejected(f"{len(found)} patients here have this identifier "
                                f"({system}); merge them first",
                                f"Patient.identifier[{index}]")
            if found:
                return f"Patient/{found[0].id}"
        return None

    async def _prepared(
        self, uow: UnitOfWork, item: _Item, aliases: dict[str, _Item]
    ) -> dict[str, Any]:
        """The resource with its references decided, as the write path will take it."""
        resource: dict[str, Any] = item.entry.resource
        decisions: dict[str, Decision] = {}
        for path, ref in references(resource, item.kind):
            if ref in decisions:
                continue
            decision = await self._decide(uow, ref, aliases)
            if isinstance(decision, Blocked):
                raise _Rejected(decision.reason, f"{path}.reference")
            decisions[ref] = decision
        prepared: dict[str, Any] = rewrite(resource, decisions)
        if item.resource_type == "CareTeam" and self.options.lead is not None \
                and not _names_staff(prepared):
            prepared["participant"] = [*prepared.get("participant", []), {
                "role": [{"text": "lead"}],
                "member": {"reference": f"Practitioner/{self.options.lead}"},
            }]
        return prepared

    async def _decide(self, uow: UnitOfWork, ref: str, aliases: dict[str, _Item]) -> Decision:
        if ref.startswith("#"):
            return KEEP
        target = _lookup(aliases, ref)
        if target is not None:
            if target.state == "skipped":
                return DisplayOnly(target.display)
            if target.state == "rejected":
                return Blocked(f"{ref} names a resource of this import that was rejected")
            if target.target is not None:
                return Replace(target.target)
            if target.urn is not None:
                return Replace(target.urn)
            return DisplayOnly(None)  # it closes a cycle: see _RANK
        if "?" in ref and not ref.startswith("urn:"):
            return await self._conditional(uow, ref)
        name = logical(ref)
        if name is None:
            found = await self._imported(uow, ref) if ref.startswith("urn:") else None
            return Replace(found) if found else KEEP
        kind, _, ident = name.partition("/")
        if kind in writes.WRITABLE:
            found = await self._imported(uow, name)
            return Replace(found) if found else KEEP
        if kind in CHECKED_REFERENCES and ref.removeprefix(f"{self.options.base}/") == name:
            # A type Concord serves but does not import (Practitioner: its staff): a
            # reference to one it does not have names the source's, by display only.
            stored = await uow.store.current(self.actor.clinic_id, kind, ident)
            return KEEP if stored is not None and not stored.deleted else DisplayOnly(None)
        return KEEP

    async def _conditional(self, uow: UnitOfWork, ref: str) -> Decision:
        kind, _, query = ref.partition("?")
        stable = kind not in writes.WRITABLE
        if stable and ref in self.conditionals:
            return self.conditionals[ref]
        try:
            found = await matches(uow, self.actor, kind, query, self.options.base)
        except (FhirError, DomainError):
            found = []
        decision: Decision
        if len(found) == 1:
            decision = Replace(f"{kind}/{found[0].id}")
        elif kind in writes.WRITABLE:
            decision = Blocked(f"the conditional reference to a {kind} matches {len(found)} "
                               "resources here; it must match exactly one")
        else:
            decision = DisplayOnly(None)
        if stable:
            self.conditionals[ref] = decision
        return decision

    async def _record(self, uow: UnitOfWork, items: list[_Item]) -> None:
        learned = {i.key: i.target for i in items if i.target is not None
                   and (i.state == "created" or (i.state == "unchanged" and i.learned))}
        await ledger.record(uow.conn, self.actor.clinic_id, self.options.source, learned)


def _names_staff(care_team: dict[str, Any]) -> bool:
    """Whether a participant is one of the clinic's staff (after rewriting, the only
    relative Practitioner references left are to staff)."""
    for participant in care_team.get("participant") or []:
        member = participant.get("member") if isinstance(participant, dict) else None
        ref = member.get("reference") if isinstance(member, dict) else None
        if isinstance(ref, str) and ref.startswith("Practitioner/"):
            return True
    return False


def _now() -> dt.datetime:
    return dt.datetime.now(dt.UTC)


def _at(where: str, expression: str | None) -> str:
    """An entry's own FHIRPath inside its Bundle."""
    if expression is None:
        return where
    if expression.startswith("request."):
        return f"{where}.{expression}"
    return f"{where}.resource.{expression.split('.', 1)[1]}" if "." in expression \
        else f"{where}.resource"


def _expression(exc: FhirError | DomainError) -> str | None:
    return exc.expression if isinstance(exc, FhirError) else exc.field


def _why(exc: FhirError | DomainError, items: list[_Item]) -> tuple[str, str | None]:
    """The reason, and the expression in the source Bundle's terms: the write path saw
    only the entries to create, so its entry numbers are put back to the source's."""
    expression = _expression(exc)
    if expression is not None:
        pending = [i for i in items if i.urn is not None]
        found = _ENTRY_INDEX.match(expression)
        if found and int(found.group(1)) < len(pending):
            source = pending[int(found.group(1))].entry.where
            expression = source + expression[found.end():]
    return exc.detail, expression


def _refused(exc: DBAPIError) -> str:
    # The driver's message may quote values from the resource: only its class and
    # SQLSTATE are reported.
    code = getattr(exc.orig, "sqlstate", None) or getattr(exc.orig, "pgcode", None)
    return f"the database refused it ({type(exc.orig).__name__}{f', {code}' if code else ''})"


async def import_files(
    engine: AsyncEngine, actor: Actor, paths: list[Path], options: Options,
    stream: IO[str],
) -> Summary:
    """Import `paths` (files, or directories searched for *.json and *.ndjson) into the
    actor's clinic. Raises FileNotFoundError for a path that does not exist."""
    files = sources.discover(paths)
    progress = Progress(stream, len(files), sum(sources.count(p) for p in files))
    return await Importer(engine, actor, options, progress, files).run()
