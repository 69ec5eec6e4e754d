"""Land each source's releases as immutable files: `materia extract psd|wasde`.

Every source comes through the same door (`materia.extract.door`: probe months, hints,
content identity, quarantine, the source's check, bounded downloads from
`materia.extract.download`); a source's own module only says where its files are and what
its datasets are (`psd`, `wasde`). `main` lands the sources a pipeline's extract step
runs (`MATERIA_EXTRACT_SOURCES`: PSD every night, WASDE on WASDE days). May import
`materia.landing`, `materia.sources` and `materia.core`.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from materia.core.settings import Settings


def main(settings: Settings) -> int:
    """Land the latest release of every source in `settings.extract_sources`; 0, or the
    first failure's exit code once every source was tried."""
    code = 0
    for name in settings.extract_sources:
        done = import_module(f"materia.extract.{name}").main(settings)
        code = code or done
    return code
