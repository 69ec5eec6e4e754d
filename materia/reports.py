"""Offline HTML reports: the commodities notebook, executed by marimo, as one static page.

`marimo export html` pages load marimo's frontend from a CDN (about 700 module chunks,
which Chromium also refuses to load from file://), so they are blank offline. Instead,
marimo itself runs `notebooks/commodities.py` once, as `marimo run` would (its kernel, a
thread here; `{"env": <env>}` as the notebook's CLI args, read by `mo.cli_args()` as the
environment picker's default) and the cells' outputs, serialized as `marimo export
session` does, become, in notebook order, ONE self-contained HTML file:

- text/html and markdown outputs are kept as they are;
- marimo's custom elements, which need its JS, become static HTML: vega-lite charts are
  drawn by vega-embed from a single inlined vl-convert bundle (cached under
  `$MATERIA_HOME/cache`), tables become <table>, pickers a caption of the chosen value,
  callouts a styled <div>; buttons and text inputs are dropped, anything else is dropped
  with a visible note.

Nothing is fetched when the page opens: no <script src>, no external CSS or fonts.
Tables show the rows marimo embeds (its first page; the caption says when more exist).
The runner uses marimo's private session API (pinned: marimo <0.26); the tests run it.
"""

from __future__ import annotations

import asyncio
import base64
import contextlib
import csv
import datetime as dt
import html
import io
import json
import os
import re
import time
from collections.abc import Iterator
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote_to_bytes

from materia.errors import MateriaError
from materia.settings import Settings

NOTEBOOK = Path(__file__).resolve().parents[1] / "notebooks" / "commodities.py"
RUN_TIMEOUT_S = 900  # a hung cell must not hold the nightly supervisor forever
VEGA_MIMES = re.compile(r"application/vnd\.vega(lite)?\.v\d+\+json")


# --- the vega bundle (built once per vl-convert version; about 0.9 MB) ----------------------
def _vega_bundle(cache_dir: Path) -> str:
    import vl_convert

    path = cache_dir / f"vega-bundle-{vl_convert.__version__}.js"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    bundle = vl_convert.javascript_bundle()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(bundle, encoding="utf-8")
    tmp.replace(path)
    return bundle


# --- running the notebook -------------------------------------------------------------------
@contextlib.contextmanager
def _environ(values: dict[str, str]) -> Iterator[None]:
    """os.environ with `values` while the notebook runs (its cells call settings.load())."""
    old = {k: os.environ.get(k) for k in values}
    os.environ.update(values)
    try:
        yield
    finally:
        for k, v in old.items():
            if v is None:
                os.environ.pop(k, None)
            else:
                os.environ[k] = v


async def _run_session(manager, env: str):  # marimo's AppFileManager -> SessionView
    """Run every cell once, like `marimo run` does: the kernel is a thread of this process.

    marimo's export runner (`marimo._export.file.run_notebook`) is the same code in edit
    mode, whose kernel is a spawned process: a second interpreter that re-imports marimo,
    polars and pyiceberg (measured: about 5 s more per report on this machine).
    """
    from marimo._config.manager import get_default_config_manager
    from marimo._messaging.notification import CompletedRunNotification
    from marimo._messaging.serde import deserialize_kernel_message
    from marimo._runtime.commands import AppMetadata
    from marimo._session.consumer import SessionConsumer
    from marimo._session.model import ConnectionState, SessionMode
    from marimo._session.requests import InstantiateNotebookRequest
    from marimo._session.session import SessionImpl
    from marimo._session.startup import SessionStartup
    from marimo._types.ids import ConsumerId

    done = asyncio.Event()
    loop = asyncio.get_running_loop()

    class Consumer(SessionConsumer):
        @property
        def consumer_id(self) -> ConsumerId:
            return ConsumerId("materia-report")

        def notify(self, notification) -> None:
            if isinstance(deserialize_kernel_message(notification), CompletedRunNotification):
                loop.call_soon_threadsafe(done.set)

        def on_attach(self, session, event_bus) -> None:
            return None

        def on_detach(self) -> None:
            return None

        def connection_state(self) -> ConnectionState:
            return ConnectionState.OPEN

    config = get_default_config_manager(current_path=manager.path).with_overrides(
        # show_tracebacks: run mode otherwise hides a failing cell's message behind an id.
        {
            "runtime": {
                "on_cell_change": "autorun",
                "auto_instantiate": True,
                "show_tracebacks": True,
            }
        }  # type: ignore[typeddict-item]
    )
    session = await SessionImpl.create(
        startup=SessionStartup(),
        initialization_id="_any_",
        session_consumer=Consumer(),
        mode=SessionMode.RUN,
        app_metadata=AppMetadata(
            query_params={},
            filename=manager.path,
            # `report` tells the notebook to leave out its interactive-only dev panel.
            cli_args={"env": env, "report": "1"},
            argv=["--env", env, "--report", "1"],
            app_config=manager.app.config,
        ),
        app_file_manager=manager,
        config_manager=config,
        virtual_file_storage=None,
        redirect_console_to_browser=False,
        ttl_seconds=None,
        auto_instantiate=True,
    )
    try:
        session.instantiate(InstantiateNotebookRequest(object_ids=[], values=[]), http_request=None)
        try:
            await asyncio.wait_for(done.wait(), RUN_TIMEOUT_S)
        except TimeoutError:
            raise MateriaError(
                f"{Path(manager.path or '').name}: did not finish within {RUN_TIMEOUT_S} s"
            ) from None
        await asyncio.sleep(0.1)  # let the session view take the last messages (as marimo does)
        return session.session_view
    finally:
        session.close()


# mo.stop() and its consequences: intended, not failures.
INTENTIONAL = ("interruption", "ancestor-prevented", "ancestor-stopped")


def run_notebook(settings: Settings, env: str, notebook: Path = NOTEBOOK) -> list[dict]:
    """Execute the notebook with marimo; each cell's outputs (serialized), in notebook order."""
    if not notebook.is_file():
        raise MateriaError(f"notebook not found: {notebook}")
    from marimo._session.notebook import load_notebook
    from marimo._session.state.serialize import serialize_session_view

    manager = load_notebook(str(notebook))
    # The notebook reads its settings as it always does (settings.load()): point it at
    # this home, and keep marimo's interactive renderings (converted to static HTML below).
    with _environ({"MATERIA_HOME": str(settings.home), "MARIMO_NO_JS": "false"}):
        view = asyncio.run(_run_session(manager, env))
    # Keep outputs that reference marimo's virtual files (big chart data): dropping them
    # would lose a cell silently; `mime_html` notes what it cannot show offline.
    cells = list(manager.app.cell_manager.cell_ids())
    snapshot = serialize_session_view(view, cells, drop_virtual_file_outputs=False)
    for cell in snapshot["cells"]:
        for out in cell["outputs"]:
            if out.get("type") == "error" and out.get("ename") not in INTENTIONAL:
                what = out.get("evalue") or out.get("ename") or "error"
                raise MateriaError(f"{notebook.name}: cell {cell['id']} failed: {what}")
    return snapshot["cells"]


# --- static conversion of marimo's output HTML ---------------------------------------------
def _esc(value: object) -> str:
    return html.escape(str(value), quote=True)


def _text(fragment: str) -> str:
    """Plain text of an HTML fragment (labels are rendered markdown)."""
    return html.unescape(re.sub(r"<[^>]+>", "", fragment)).strip()


def _json_attr(attrs: dict[str, str | None], name: str, default: object = None) -> object:
    raw = attrs.get(name)
    if raw is None:
        return default
    try:
        return json.loads(raw)
    except ValueError:
        return raw


def _cell(value: object) -> str:
    if value is None:
        return "<td>—</td>"
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = str(value)
        text = text[:-9] if text.endswith("T00:00:00") else text  # dates sent as datetimes
        return f"<td>{_esc(text)}</td>"
    if isinstance(value, float) and not value.is_integer():
        text = f"{value:,.2f}" if abs(value) >= 1 else f"{value:.3f}"
    elif isinstance(value, int) and 1800 <= value <= 2200:
        text = str(value)  # a (market) year, not a quantity
    else:
        text = f"{value:,.0f}"
    return f'<td class="num">{text}</td>'


def _table_rows(data: object) -> list[dict] | None:
    """marimo-table's `data-data`: a JSON string of records, or a data: URL (JSON or CSV)."""
    if isinstance(data, list):
        return data
    if not isinstance(data, str):
        return None
    if data.startswith("data:"):
        head, _, payload = data.partition(",")
        raw = base64.b64decode(payload) if head.endswith(";base64") else unquote_to_bytes(payload)
        if "csv" in head:
            return list(csv.DictReader(io.StringIO(raw.decode("utf-8"))))
        data = raw.decode("utf-8")
    try:
        rows = json.loads(data)
    except ValueError:
        return None
    return rows if isinstance(rows, list) else None


def table_html(attrs: dict[str, str | None]) -> str:
    rows = _table_rows(_json_attr(attrs, "data-data"))
    if rows is None:
        return '<p class="dropped">(a table whose data is not embedded was left out)</p>'
    fields = _json_attr(attrs, "data-field-types", []) or []
    columns = [f[0] for f in fields] if fields else list(rows[0]) if rows else []
    label = _json_attr(attrs, "data-label")
    total = _json_attr(attrs, "data-total-rows")
    caption = _text(label) if isinstance(label, str) else ""
    if isinstance(total, int) and total > len(rows):
        caption = f"{caption} (first {len(rows)} of {total:,} rows)".strip()
    head = "".join(f"<th>{_esc(c)}</th>" for c in columns)
    body = "".join(
        "<tr>" + "".join(_cell(r.get(c)) for c in columns) + "</tr>"
        for r in rows
        if isinstance(r, dict)
    )
    cap = f"<caption>{_esc(caption)}</caption>" if caption else ""
    return f"<table>{cap}<thead><tr>{head}</tr></thead><tbody>{body}</tbody></table>"


def _picked(tag: str, attrs: dict[str, str | None]) -> str:
    """A picker's chosen value as a caption ("Countries: Argentina, Brazil")."""
    label = _json_attr(attrs, "data-label")
    value = _json_attr(attrs, "data-initial-value")
    if tag == "marimo-range-slider" and isinstance(value, list) and len(value) == 2:
        shown = f"{value[0]}–{value[1]}"
    elif isinstance(value, list):
        shown = ", ".join(map(str, value)) or "none"
    else:
        shown = str(value)
    name = _text(label) if isinstance(label, str) else ""
    return f'<p class="pick">{_esc(name + ": " if name else "")}<b>{_esc(shown)}</b></p>'


PICKERS = {
    "marimo-dropdown",
    "marimo-multiselect",
    "marimo-range-slider",
    "marimo-slider",
    "marimo-number",
    "marimo-radio",
    "marimo-checkbox",
    "marimo-switch",
    "marimo-date",
}
# Inputs that only trigger actions or take free text: meaningless in a static page.
DROPPED_QUIETLY = {"marimo-button", "marimo-text", "marimo-text-area", "marimo-file"}


class Charts:
    """Collects vega(-lite) specs; each becomes a <div> drawn by vegaEmbed at load time."""

    def __init__(self) -> None:
        self.specs: list[dict] = []

    def add(self, spec: object) -> str:
        if isinstance(spec, str):
            spec = json.loads(spec)
        if not isinstance(spec, dict):
            return '<p class="dropped">(a chart without a spec was left out)</p>'
        spec.pop("$schema", None)  # a URL; vega-embed would not fetch it, but keep it clean
        self.specs.append(spec)
        return f'<div class="chart" id="chart-{len(self.specs) - 1}"></div>'

    def script(self) -> str:
        # "</" cannot appear inside a <script> element; JSON allows escaping the slash.
        specs = json.dumps(self.specs).replace("</", "<\\/")
        return (
            "<script>const SPECS = "
            + specs
            + ";\nSPECS.forEach((s, i) => vegaEmbed('#chart-' + i, s,"
            " {actions: false, renderer: 'svg'}).catch(e => {"
            " document.getElementById('chart-' + i).textContent = 'chart failed: ' + e; }));"
            "</script>"
        )


class _Static(HTMLParser):
    """Re-serializes an output's HTML, replacing marimo's custom elements."""

    def __init__(self, charts: Charts) -> None:
        super().__init__(convert_charrefs=True)
        self.charts = charts
        self.out: list[str] = []
        self.skip: list[str] = []  # open elements whose content is replaced

    def handle_starttag(self, tag: str, attrs_list: list[tuple[str, str | None]]) -> None:
        if self.skip:
            self.skip.append(tag)
            return
        if tag in ("script", "iframe", "link") and any(k in ("src", "href") for k, _ in attrs_list):
            self.skip.append(tag)  # would fetch something: never in an offline page
            return
        if not tag.startswith("marimo-"):
            self.out.append(self.get_starttag_text() or "")
            return
        if tag == "marimo-ui-element":  # a wrapper: its child is the element
            return
        attrs = dict(attrs_list)
        self.skip.append(tag)
        self.out.append(self._replace(tag, attrs))

    def _replace(self, tag: str, attrs: dict[str, str | None]) -> str:
        if tag == "marimo-mime-renderer":
            mime = _json_attr(attrs, "data-mime", "")
            return mime_html(str(mime), _json_attr(attrs, "data-data"), self.charts)
        if tag == "marimo-vega":
            return self.charts.add(_json_attr(attrs, "data-spec"))
        if tag == "marimo-table":
            return table_html(attrs)
        if tag in PICKERS:
            return _picked(tag, attrs)
        if tag == "marimo-callout-output":
            kind = re.sub(r"[^a-z]", "", str(_json_attr(attrs, "data-kind", "neutral")))
            inner = to_static(str(_json_attr(attrs, "data-html", "")), self.charts)
            return f'<div class="callout {kind}">{inner}</div>'
        if tag in DROPPED_QUIETLY:
            return ""
        return f'<p class="dropped">(interactive {_esc(tag[7:])} not available offline)</p>'

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if not self.skip:
            self.out.append(self.get_starttag_text() or "")

    def handle_endtag(self, tag: str) -> None:
        if self.skip:
            self.skip.pop()
        elif tag != "marimo-ui-element":
            self.out.append(f"</{tag}>")

    def handle_data(self, data: str) -> None:
        if not self.skip:  # script/style text is raw, everything else is re-escaped
            self.out.append(data if self.cdata_elem else html.escape(data, quote=False))


def to_static(fragment: str, charts: Charts) -> str:
    parser = _Static(charts)
    parser.feed(fragment)
    parser.close()
    return "".join(parser.out)


def mime_html(mime: str, data: object, charts: Charts) -> str:
    """One output (or mime-renderer payload) as static HTML."""
    if mime in ("text/html", "text/markdown"):  # marimo's markdown output is rendered HTML
        return to_static(str(data), charts)
    if VEGA_MIMES.fullmatch(mime):
        return charts.add(data)
    if mime.startswith("image/") and isinstance(data, str):
        src = data if data.startswith("data:") else f"data:{mime};base64,{data}"
        return f'<img alt="" src="{_esc(src)}">' if src.startswith("data:") else ""
    if mime == "text/plain":
        return f"<pre>{_esc(data)}</pre>" if str(data).strip() else ""
    return f'<p class="dropped">({_esc(mime)} output not available offline)</p>'


# --- the page -----------------------------------------------------------------------------
CSS = """
body{font-family:system-ui,-apple-system,'Segoe UI',sans-serif;max-width:1100px;margin:2rem auto;
padding:0 1rem;color:#1f2328;line-height:1.45}
.meta{color:#57606a;border-bottom:1px solid #d0d7de;padding-bottom:.6rem}
.cell{margin:1.2rem 0} .paragraph{display:block;margin:.4rem 0}
code{background:#f6f8fa;padding:0 .25rem;border-radius:3px}
table{border-collapse:collapse;margin:.6rem 0;font-size:.88rem}
caption{text-align:left;font-weight:600;padding:.3rem 0}
th,td{border-bottom:1px solid #d0d7de;padding:.2rem .6rem;text-align:left}
td.num{text-align:right;font-variant-numeric:tabular-nums}
.chart{width:100%;min-height:300px;margin:.6rem 0}
.pick{margin:.2rem 1rem .2rem 0;color:#57606a} .dropped{color:#8c959f;font-style:italic}
.callout{padding:.4rem .8rem;border-radius:4px;background:#f6f8fa}
.callout.success{background:#dafbe1} .callout.warn,.callout.danger{background:#fff8c5}
"""


def _release(settings: Settings, env: str) -> dt.date | None:
    """Newest release in the published OBT; a clear error when nothing is published."""
    from materia import lakehouse

    months = lakehouse.read_table("obt_commodity_metrics", env, settings, ["release_month"])
    if months.height == 0:
        raise MateriaError(f"environment {env!r} has no rows in obt_commodity_metrics")
    return months["release_month"].max()  # type: ignore[return-value]


def render(
    settings: Settings, env: str = "prod", notebook: Path = NOTEBOOK
) -> tuple[str, dt.date | None]:
    """The report's HTML (the notebook's outputs, static) and the release it shows."""
    from materia import lakehouse

    lakehouse.check_env(env)
    release = _release(settings, env)  # before the run: an empty lakehouse fails fast
    charts = Charts()
    cells = []
    for cell in run_notebook(settings, env, notebook):
        parts = [mime_html(m, d, charts) for o in cell["outputs"] for m, d in o["data"].items()]
        if body := "".join(parts).strip():
            cells.append(f'<section class="cell" data-cell="{_esc(cell["id"])}">{body}</section>')
    release_text = release.strftime("%Y-%m") if release else "unknown"
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>Commodities report, PSD release {_esc(release_text)}</title>
<style>{CSS}</style></head>
<body>
<p class="meta">materia report of <code>{_esc(notebook.name)}</code> · USDA PSD
release {_esc(release_text)} · environment {_esc(env)} ·
generated {dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC")}</p>
{"".join(cells)}
<script>{_vega_bundle(settings.home / "cache")}</script>
{charts.script()}
</body></html>
"""
    return page, release


def default_path(settings: Settings, release: dt.date | None) -> Path:
    stamp = release.strftime("%Y-%m") if release else "unknown"
    return settings.reports_dir / f"commodities-{stamp}.html"


def main(settings: Settings, env: str = "prod", out: Path | None = None) -> int:
    """Write the report (atomically) and print where; 0 on success."""
    started = time.monotonic()
    page, release = render(settings, env)
    path = Path(out) if out else default_path(settings, release)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        tmp.write_text(page, encoding="utf-8")
        tmp.replace(path)
    finally:
        tmp.unlink(missing_ok=True)
    print(f"report: {path} ({len(page) / 1e6:.1f} MB, {time.monotonic() - started:.1f} s)")
    return 0
