"""How `materia runs` shows the run log: one line per run, or one run with its parts and
its output (`materia runs show ID`)."""

from __future__ import annotations

from materia.core import runlog, runoutput
from materia.core.errors import MateriaError
from materia.core.settings import Settings


def _outcome(row: dict) -> str:
    if row.get("status") == "ok":
        return "ok"
    if row.get("status") == runlog.STARTED:
        return "started"  # no end recorded (yet): running, or killed
    code = row.get("exit_code")
    return "failed" if code in (None, 0) else f"failed ({code})"


def _duration(seconds: float | None) -> str:
    if seconds is None:
        return "-"
    s = int(round(seconds))
    return f"{s // 3600}h{s % 3600 // 60:02d}m" if s >= 3600 else f"{s // 60}m{s % 60:02d}s"


def _slot(row: dict) -> str:
    return f"{row['slot']} #{row.get('attempt') or 1}" if row.get("slot") else "-"


def _minute(value: object) -> str:
    return str(value)[:16].replace("T", " ") if value else "-"


def table(rows: list[dict]) -> str:
    """The rows as an aligned text table, one run per line."""
    head = (
        *("when (UTC)", "run", "pipeline", "where", "outcome", "slot"),
        *("duration", "rows", "cost", "next retry", "error"),
    )
    lines = [head]
    for r in rows:
        cost = r.get("cost_estimate")
        lines.append(
            (
                _minute(r.get("started") or r.get("ended")),
                str(r.get("run_id") or "-"),
                str(r.get("pipeline", "?")),
                str(r.get("where") or r.get("source") or "?"),
                _outcome(r),
                _slot(r),
                _duration(r.get("duration_s")),
                "-" if r.get("rows_published") is None else f"{r['rows_published']:,}",
                "-" if cost is None else f"{cost:.2f} {r.get('currency') or ''}".strip(),
                _minute(r.get("next_attempt")) if runlog.failed(r) else "-",
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
        rows = [r for r in rows if runlog.failed(r)]
    return rows[-last:] if last else rows


_SHOWN = (
    *("run_id", "pipeline", "source", "where", "status", "exit_code", "slot", "attempt"),
    *("started", "ended", "duration_s", "next_attempt", "rows_published", "new_releases"),
    *("cost_estimate", "currency", "error", "notes"),
)


def _fields(rec: dict, indent: str = "") -> list[str]:
    out = []
    for k in _SHOWN:
        v = rec.get(k)
        if v in (None, [], ""):
            continue
        v = "; ".join(map(str, v)) if isinstance(v, list) else v
        out.append(f"{indent}{k}: {v}")
    return out


def show(settings: Settings, run_id: str) -> str:
    """One run: its record (folded with its parts), each part, and every kept output."""
    records = runlog.merged(runlog.read(settings))
    by_id = {r["run_id"]: r for r in records if r.get("run_id")}
    if run_id not in by_id:
        raise MateriaError(f"no run {run_id!r} in the run log (`materia runs` lists them)")
    rows = {r["run_id"]: r for r in runlog.fold(records)}
    lines = _fields(rows.get(run_id, by_id[run_id]))
    family, todo = [], [run_id]
    while todo:  # the run and its parts, depth first
        rid = todo.pop(0)
        family.append(rid)
        todo[:0] = [r["run_id"] for r in records if r.get("parent") == rid and r.get("run_id")]
    for rid in family[1:]:
        lines += ["", f"part {rid}:", *_fields(by_id[rid], "  ")]
    for rid in family:
        text = runoutput.read(settings, rid)
        if text:
            lines += ["", f"--- output of {rid} ---", text.rstrip("\n")]
    return "\n".join(lines) + "\n"
