"""A real loopback HTTP server that behaves like USDA's site for the WASDE report data:
`<base_url>/oce-wasde-report-data-YYYY-MM.csv` is `<root>/oce-wasde-report-data-YYYY-MM.csv`.

It is `testsupport.psd.server.PsdServer` (HEAD and GET, a strong ETag from the content,
304 on If-None-Match, 404 for a missing month, injected faults, every request recorded)
with `Last-Modified` on by default and If-Modified-Since answered with 304, as a real
web server does, and the faults of a CSV:

    with WasdeServer(root) as srv:
        wasde_fixtures.layout(srv.root, {"2025-11": rows})
        srv.inject("corrupt")            # a value that is no number
        srv.inject("wrong_header")       # a CSV that is not WASDE report data
        srv.etags = "none"               # Last-Modified (and the size) are the only hints
"""

from __future__ import annotations

import hashlib
from pathlib import Path

from testsupport.psd import wasde_fixtures
from testsupport.psd.server import Fault, PsdServer, _Body


class WasdeServer(PsdServer):
    def __init__(self, root: Path | str, **kw) -> None:
        super().__init__(root, **kw)
        self.last_modified = True

    def _body_for(self, file: Path, fault: Fault | None) -> _Body:
        kind = fault.kind if fault else None
        if kind == "corrupt":
            text = wasde_fixtures.bad_value_text(wasde_fixtures.read_rows(file))
        elif kind == "wrong_header":
            text = wasde_fixtures.wrong_header_text()
        else:
            return super()._body_for(file, fault)
        data = text.encode("ascii")
        return _Body(self.etag_format(hashlib.sha256(data).hexdigest()), len(data), data=data)


__all__ = ["WasdeServer"]
