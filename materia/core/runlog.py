"""The run log: JSON records in the landing store (`materia.core.jsonlog`: `runs/runs.jsonl`
in a local folder, one object per record under `runs/runs/` on R2).

Every run appends a `started` record when it starts and its full record when it ends
(same `run_id`; readers fold them): a pipeline step run in this process
(`source: in-process`), a run on a worker (`worker`, with its cost from a dated price
table, so old records keep the price that applied), and each supervisor job (`supervisor`,
with its slot, attempt and next retry). Every string is redacted before it is written.
Records carry `run_id` and, when they ran inside another run, its id as `parent` (a tick
job → its worker run), so `materia runs` can show one row per run with what its parts
did (rows published, new releases, cost, the error).

A step run on a worker does not write to the log itself: it ends with one
`materia-result: {…}` line that its parent (`materia.workers.run`) folds into the
worker's record. One writer per run, and it is the side that knows every secret to
redact (a worker never receives HCLOUD_TOKEN, for one).
"""

from __future__ import annotations

import contextlib
import json
import secrets
import sys
from collections.abc import Iterator
from datetime import UTC, datetime

from materia.core import jsonlog
from materia.core.errors import first_line
from materia.core.settings import Settings
from materia.core.storage import LandingStore

NAME = "runs/runs"
KEY = f"{NAME}.jsonl"  # the local file (and R2's log before it held one object per record)
RESULT = "materia-result: "  # the line a step on a worker ends with
STARTED = "started"  # the status of a run that has not ended (yet)


def new_run_id() -> str:
    """Sortable and unique enough: `20261126-020000-a1b2c3` (also a valid label value)."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{secrets.token_hex(3)}"


def times(started: datetime, ended: datetime) -> dict:
    return {
        "started": started.isoformat(),
        "ended": ended.isoformat(),
        "duration_s": round((ended - started).total_seconds(), 3),
    }


def append(settings: Settings, record) -> dict:
    """Append a record (a dict, or anything with `to_dict()`), every string in it
    redacted; the row written."""
    from materia.core.secrets import redact_doc, redactor

    row = record if isinstance(record, dict) else record.to_dict()
    row = redact_doc(row, redactor(settings))
    jsonlog.append(LandingStore.from_settings(settings), NAME, row)  # type: ignore[arg-type]
    return row  # type: ignore[return-value]


def read_checked(settings: Settings) -> jsonlog.Records:
    """Every readable record, and what was skipped as unreadable (`problems`)."""
    return jsonlog.read(LandingStore.from_settings(settings), NAME)


_reported: set[str] = set()


def read(settings: Settings) -> list[dict]:
    """Every readable record; a skipped one is reported once on stderr, never fatal."""
    found = read_checked(settings)
    for problem in found.problems:
        if problem not in _reported:
            _reported.add(problem)
            print(f"run log: {problem}", file=sys.stderr, flush=True)
    return found.records


def started_record(rec: dict, started: datetime) -> dict:
    """What a run appends when it starts: its identity, where, and `status: started`."""
    keep = ("source", "run_id", "parent", "pipeline", "where", "provider", "server_type")
    return {
        **{k: rec[k] for k in keep if k in rec},
        **{k: v for k, v in rec.items() if k in ("slot", "attempt", "worker")},
        "started": started.isoformat(),
        "status": STARTED,
    }


@contextlib.contextmanager
def recording(
    settings: Settings,
    pipeline: str,
    source: str = "in-process",
    where: str = "here",
    run_id: str | None = None,
    **fields: object,
) -> Iterator[dict]:
    """Append one record for the block, whatever happens in it (on a worker, that is
    `settings.parent_run` set: print the result line for the parent instead).

    The block fills in `exit_code` (and may set `error`, `rows_published`,
    `new_releases`); an exception leaves `exit_code` None with its one-line message.
    """
    from materia.core.secrets import redact

    started = datetime.now(UTC)
    rec: dict = {
        "source": source,
        "run_id": run_id or new_run_id(),
        "parent": settings.parent_run,
        "pipeline": pipeline,
        "where": where,
        "exit_code": None,
        "error": None,
        **fields,
    }
    if not settings.parent_run:  # on a worker, the worker run records the start instead
        with contextlib.suppress(Exception):  # a log that cannot take it must not stop the run
            append(settings, started_record(rec, started))
    try:
        yield rec
    except BaseException as e:
        text = str(e).strip().splitlines()
        rec["error"] = redact(text[0] if text else type(e).__name__)
        raise
    finally:
        rec |= times(started, datetime.now(UTC))
        rec["status"] = "ok" if rec["exit_code"] == 0 and not rec["error"] else "failed"
        if settings.parent_run:
            keep = ("exit_code", "error", "rows_published", "new_releases")
            print(RESULT + json.dumps({k: rec.get(k) for k in keep}), flush=True)
        else:
            try:
                append(settings, rec)
            except Exception as e:  # the run's outcome matters more than its log line
                print(f"run log: could not append to {KEY}: {redact(str(e))}", file=sys.stderr)


def _unprefixed(line: str) -> str:
    """A worker's line without the `[worker name] ` that its run puts in front."""
    text = line.strip()
    return text.split("] ", 1)[1] if text.startswith("[") and "] " in text else text


def result_of(line: str) -> dict | None:
    """The result a step printed (see RESULT), from one line of a worker's output."""
    text = _unprefixed(line)
    if not text.startswith(RESULT):
        return None
    try:
        doc = json.loads(text[len(RESULT) :])
    except ValueError:
        return None
    return doc if isinstance(doc, dict) else None


def error_line(line: str) -> str | None:
    """The message of a materia `error: …` line (also behind a `[worker] ` prefix)."""
    text = _unprefixed(line)
    return text[len("error: ") :].strip() or None if text.startswith("error: ") else None


class ErrorTap:
    """While active, remembers the last `error: …` line written to sys.stderr."""

    def __init__(self) -> None:
        self.last: str | None = None
        self._inner = None

    def write(self, s: str) -> int:
        for line in s.splitlines():
            self.last = error_line(line) or self.last
        return self._inner.write(s)

    def __getattr__(self, name: str):
        return getattr(self._inner, name)

    def __enter__(self) -> ErrorTap:
        self._inner, sys.stderr = sys.stderr, self
        return self

    def __exit__(self, *exc: object) -> None:
        sys.stderr = self._inner


# --- reading it back -------------------------------------------------------------------
def merged(records: list[dict]) -> list[dict]:
    """One record per run: its `started` record updated by the later ones (in order)."""
    out: dict[str, dict] = {}
    anonymous = []
    for r in records:
        rid = r.get("run_id")
        if not rid:
            anonymous.append(r)
        elif rid in out:
            out[rid] = {**out[rid], **r}
        else:
            out[rid] = dict(r)
    return [*out.values(), *anonymous]


def _when(rec: dict) -> str:
    return str(rec.get("started") or rec.get("ended") or "")


def fold(records: list[dict]) -> list[dict]:
    """One row per top-level run (oldest first), with what its parts did rolled up.

    A record whose parent is in the log is a part of it: its rows published, new
    releases and cost add to the parent's, and its error stands in when the parent has
    none. A part whose parent never wrote a record (killed) is shown on its own.
    """
    records = merged(records)
    by_id = {r["run_id"]: r for r in records if r.get("run_id")}
    children: dict[str, list[dict]] = {}
    for r in records:
        if r.get("parent") in by_id:
            children.setdefault(r["parent"], []).append(r)

    def rolled(rec: dict, seen: frozenset = frozenset()) -> dict:
        row = dict(rec)
        parts = [
            rolled(c, seen | {rec.get("run_id")})
            for c in children.get(rec.get("run_id") or "", [])
            if c.get("run_id") not in seen
        ]
        for name in ("rows_published", "cost_estimate"):
            values = [x[name] for x in [rec, *parts] if x.get(name) is not None]
            row[name] = (
                rec[name] if rec.get(name) is not None else (sum(values) if values else None)
            )
        releases = [x for p in [rec, *parts] for x in p.get("new_releases") or []]
        row["new_releases"] = sorted(set(releases))
        if not row.get("error"):
            row["error"] = next((p["error"] for p in parts if p.get("error")), None)
        if parts and row.get("source") == "supervisor":
            row["where"] = f"supervisor/{parts[0].get('where', '?')}"
        row["currency"] = rec.get("currency") or next(
            (p["currency"] for p in parts if p.get("currency")), None
        )
        return row

    top = [r for r in records if r.get("parent") not in by_id]
    return sorted((rolled(r) for r in top), key=_when)


def failed(row: dict) -> bool:
    """A run that ended without success (one still `started` has not ended)."""
    return row.get("status") not in ("ok", STARTED)


def health(settings: Settings, failures: int = 5) -> dict:
    """Plain data for the workbench: the last successful run per pipeline, the newest
    published release per dataset, the most recent failed runs (newest first), and the
    records that could not be read (`skipped`)."""
    from materia.core.secrets import redactor

    redact = redactor(settings)
    found = read_checked(settings)
    rows = fold(found.records)
    last_ok: dict[str, str] = {}
    newest: dict[str, str] = {}
    for r in rows:
        if r.get("status") == "ok":
            last_ok[str(r.get("pipeline"))] = _when(r)
        for release in r.get("new_releases") or []:
            dataset, _, month = release.rpartition(" ")
            if dataset and month > newest.get(dataset, ""):
                newest[dataset] = month
    bad = [r for r in rows if failed(r)][::-1][:failures]
    return {
        "last_success": dict(sorted(last_ok.items())),
        "newest_release": dict(sorted(newest.items())),
        # Redacted again on the way out: a record written before redaction at write time.
        "failures": [
            {
                **{k: r.get(k) for k in ("started", "pipeline", "where")},
                "error": redact(str(r["error"])) if r.get("error") else None,
            }
            for r in bad
        ],
        "skipped": found.problems,
    }


def health_table(settings: Settings) -> dict:
    """`health` as the workbench and the report show it: `rows` (what, when), the recent
    `failures`, and `error` when the log cannot be read (on R2 in prod: not fatal there)."""
    try:
        h = health(settings)
    except Exception as e:
        h = {"last_success": {}, "newest_release": {}, "failures": [], "error": first_line(e)}
    if h.get("skipped"):
        first = h["skipped"][0]
        h["error"] = f"{len(h['skipped'])} unreadable record(s) skipped ({first})"
    h["rows"] = [
        *(
            {"what": f"last successful {k}", "when": v[:16].replace("T", " ")}
            for k, v in h["last_success"].items()
        ),
        *({"what": f"newest release of {k}", "when": v} for k, v in h["newest_release"].items()),
    ]
    return h
