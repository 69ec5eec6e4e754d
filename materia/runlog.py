"""The run log: one JSON line per run at `runs/runs.jsonl` in the landing store.

Every run appends one record when it ends: a pipeline step run in this process
(`source: in-process`), a run on a worker (`worker`, with its cost from a dated price
table, so old records keep the price that applied), and each supervisor job (`supervisor`).
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

from materia.errors import first_line
from materia.settings import Settings
from materia.storage import LandingStore

KEY = "runs/runs.jsonl"
RESULT = "materia-result: "  # the line a step on a worker ends with


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
    """Append a record (a dict, or anything with `to_dict()`); the row written."""
    row = record if isinstance(record, dict) else record.to_dict()
    LandingStore.from_settings(settings).append_jsonl(KEY, row)
    return row


def read(settings: Settings) -> list[dict]:
    return LandingStore.from_settings(settings).read_jsonl(KEY)


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
    from materia.secrets import redact

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
def _when(rec: dict) -> str:
    return str(rec.get("started") or rec.get("ended") or "")


def fold(records: list[dict]) -> list[dict]:
    """One row per top-level run (oldest first), with what its parts did rolled up.

    A record whose parent is in the log is a part of it: its rows published, new
    releases and cost add to the parent's, and its error stands in when the parent has
    none. A part whose parent never wrote a record (killed) is shown on its own.
    """
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


def _outcome(row: dict) -> str:
    if row.get("status") == "ok":
        return "ok"
    code = row.get("exit_code")
    return "failed" if code in (None, 0) else f"failed ({code})"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def table(rows: list[dict]) -> str:
    """The rows as an aligned text table, one run per line."""
    head = ("when (UTC)", "pipeline", "where", "outcome", "duration", "rows", "cost", "error")
    lines = [head]
    for r in rows:
        cost = r.get("cost_estimate")
        lines.append(
            (
                _when(r)[:16].replace("T", " "),
                str(r.get("pipeline", "?")),
                str(r.get("where") or r.get("source") or "?"),
                _outcome(r),
                _duration(r.get("duration_s")),
                "-" if r.get("rows_published") is None else f"{r['rows_published']:,}",
                "-" if cost is None else f"{cost:.2f} {r.get('currency') or ''}".strip(),
                str(r.get("error") or ""),
            )
        )
    widths = [max(len(line[i]) for line in lines) for i in range(len(head) - 1)]
    return (
        "\n".join(
            "  ".join(c.ljust(w) for c, w in zip(line[:-1], widths, strict=True)) + "  " + line[-1]
            for line in lines
        ).rstrip()
        + "\n"
    )


def select(rows: list[dict], last: int | None = None, failed: bool = False) -> list[dict]:
    if failed:
        rows = [r for r in rows if r.get("status") != "ok"]
    return rows[-last:] if last else rows


def health(settings: Settings, failures: int = 5) -> dict:
    """Plain data for the workbench: the last successful run per pipeline, the newest
    published release per dataset, and the most recent failed runs (newest first)."""
    rows = fold(read(settings))
    last_ok: dict[str, str] = {}
    newest: dict[str, str] = {}
    for r in rows:
        if r.get("status") == "ok":
            last_ok[str(r.get("pipeline"))] = _when(r)
        for release in r.get("new_releases") or []:
            dataset, _, month = release.rpartition(" ")
            if dataset and month > newest.get(dataset, ""):
                newest[dataset] = month
    failed = [r for r in rows if r.get("status") != "ok"][::-1][:failures]
    return {
        "last_success": dict(sorted(last_ok.items())),
        "newest_release": dict(sorted(newest.items())),
        "failures": [
            {k: r.get(k) for k in ("started", "pipeline", "where", "error")} for r in failed
        ],
    }


def health_table(settings: Settings) -> dict:
    """`health` as the workbench and the report show it: `rows` (what, when), the recent
    `failures`, and `error` when the log cannot be read (on R2 in prod: not fatal there)."""
    try:
        h = health(settings)
    except Exception as e:
        h = {"last_success": {}, "newest_release": {}, "failures": [], "error": first_line(e)}
    h["rows"] = [
        *(
            {"what": f"last successful {k}", "when": v[:16].replace("T", " ")}
            for k, v in h["last_success"].items()
        ),
        *({"what": f"newest release of {k}", "when": v} for k, v in h["newest_release"].items()),
    ]
    return h
