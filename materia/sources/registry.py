"""The sources materia lands, as data: one `Source` each, and nothing else knows a list.

A source is a kind of file USDA publishes once per release month. Everything the layers
above need to take a source without a fork of another is here: its landing prefix and
file suffix (`<name>/<dataset>/<YYYY>/<MM>/sha256-<h><suffix>`, `materia.landing.manifest`), the
table its rows feed in the SQLMesh project (`materia_input.<name>_rows`, prepared by
`materia.transform.inputs`), the module that checks a file of it (`materia.sources.check`) and the
command that lands it. PSD Online (zipped CSVs, `materia.sources.psd_archive`) and the WASDE
report data (plain CSVs, `materia.sources.wasde_archive`) are its two instances.
"""

from __future__ import annotations

from dataclasses import dataclass

from materia.core.errors import MateriaError


@dataclass(frozen=True)
class Source:
    name: str  # the landing prefix and the input table's stem
    title: str
    suffix: str  # of a landed file: ".zip", ".csv"
    checker: str  # the module that checks one file (materia.sources.check.for_source)

    @property
    def prefix(self) -> str:
        return f"{self.name}/"

    @property
    def input_table(self) -> str:
        """The SQLMesh project's external table its landed rows feed."""
        return f"materia_input.{self.name}_rows"

    @property
    def command(self) -> str:
        return f"materia extract {self.name}"


PSD = Source("psd", "USDA PSD Online", ".zip", "materia.sources.psd_archive")
WASDE = Source("wasde", "USDA WASDE report data", ".csv", "materia.sources.wasde_archive")
SOURCES: dict[str, Source] = {s.name: s for s in (PSD, WASDE)}


def source(name: str) -> Source:
    """The registered source `name`; MateriaError naming the known ones otherwise."""
    found = SOURCES.get(name.strip().lower())
    if found is None:
        raise MateriaError(f"{name!r} is not a source materia lands (known: {', '.join(SOURCES)})")
    return found


def of_key(key: str) -> Source | None:
    """The source a landing key belongs to (its first segment), None when none does."""
    return SOURCES.get(key.lstrip("/").split("/", 1)[0])


def of_input(table: str) -> Source | None:
    """The source whose rows an input table holds (`materia_input.psd_rows` → PSD)."""
    return next((s for s in SOURCES.values() if s.input_table == table), None)
