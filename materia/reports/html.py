"""marimo's cell outputs as ONE static, self-contained HTML page.

`marimo export html` pages load marimo's frontend from a CDN (about 700 module chunks,
which Chromium also refuses to load from file://), so they are blank offline. Here each
output, serialized as `marimo export session` does, becomes static HTML:

- text/html and markdown outputs are kept as they are;
- marimo's custom elements, which need its JS, become static HTML: vega-lite charts are
  drawn by vega-embed from a single inlined vl-convert bundle (cached under
  `$MATERIA_HOME/cache`), tables become <table>, downloads whose data is embedded become
  plain links, pickers a caption of the chosen value, callouts a styled <div>; buttons
  and text inputs are dropped, anything else is dropped with a visible note.

Nothing is fetched when the page opens: no <script src>, no external CSS or fonts.
Tables show the rows marimo embeds (its first page; the caption says when more exist).
"""

from __future__ import annotations

import base64
import csv
import html
import io
import json
import os
import re
from html.parser import HTMLParser
from pathlib import Path
from urllib.parse import unquote_to_bytes

VEGA_MIMES = re.compile(r"application/vnd\.vega(lite)?\.v\d+\+json")


def vega_bundle(cache_dir: Path) -> str:
    """vega + vega-lite + vega-embed as one script (built once per vl-convert version)."""
    from importlib import metadata

    path = cache_dir / f"vega-bundle-{metadata.version('vl-convert-python')}.js"
    if path.is_file():
        return path.read_text(encoding="utf-8")
    import vl_convert  # a large extension: only when the bundle is not cached yet

    bundle = vl_convert.javascript_bundle()
    cache_dir.mkdir(parents=True, exist_ok=True)
    tmp = path.with_suffix(f".{os.getpid()}.tmp")
    tmp.write_text(bundle, encoding="utf-8")
    tmp.replace(path)
    return bundle


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


NUMBER = re.compile(r"^[+-]?[\d,]+(\.\d+)?%?$")


def _cell(value: object) -> str:
    """A table cell: blank when missing, numbers right-aligned (years without separators)."""
    if value is None:
        return "<td></td>"
    if isinstance(value, bool) or not isinstance(value, int | float):
        text = str(value).strip()
        text = text[:-9] if text.endswith("T00:00:00") else text  # dates sent as datetimes
        css = ' class="num"' if NUMBER.match(text) else ""
        return f"<td{css}>{_esc(text)}</td>"
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


def _download(attrs: dict[str, str | None]) -> str:
    """A download button whose data is embedded (a data: URL): a plain link, offline."""
    url = _json_attr(attrs, "data-data")
    name = _json_attr(attrs, "data-filename") or "download"
    label = _text(str(_json_attr(attrs, "data-label") or "")) or "Download"
    if not isinstance(url, str) or not url.startswith("data:"):
        return '<p class="dropped">(a download whose data is not embedded was left out)</p>'
    return f'<a class="download" download="{_esc(name)}" href="{_esc(url)}">{_esc(label)}</a>'


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
        if tag == "marimo-download":
            return _download(attrs)
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
.chart{width:100%;min-height:200px;margin:.6rem 0}
a.download{display:inline-block;align-self:flex-start;margin:.2rem .6rem .6rem 0;padding:.15rem .6rem;
border:1px solid #d0d7de;border-radius:4px;color:#0969da;text-decoration:none;font-size:.85rem}
.pick{margin:.2rem 1rem .2rem 0;color:#57606a} .dropped{color:#8c959f;font-style:italic}
.callout{padding:.4rem .8rem;border-radius:4px;background:#f6f8fa}
.callout.success{background:#dafbe1} .callout.warn,.callout.danger{background:#fff8c5}
"""


def cells_html(cells: list[dict], charts: Charts) -> str:
    """Each cell's outputs (as `report_runner.run_notebook` returns them), static."""
    out = []
    for cell in cells:
        parts = [mime_html(m, d, charts) for o in cell["outputs"] for m, d in o["data"].items()]
        if body := "".join(parts).strip():
            out.append(f'<section class="cell" data-cell="{_esc(cell["id"])}">{body}</section>')
    return "".join(out)


def page(title: str, meta: str, body: str, charts: Charts, bundle: str) -> str:
    """The whole document: styles, the cells, the inlined vega bundle, the chart specs."""
    return f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{_esc(title)}</title>
<style>{CSS}</style></head>
<body>
<p class="meta">{meta}</p>
{body}
<script>{bundle}</script>
{charts.script()}
</body></html>
"""
