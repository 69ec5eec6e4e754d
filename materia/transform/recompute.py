"""What a transform recomputes, model by model: decided from facts a failed run cannot
corrupt, the compiled project, the landing (`materia.transform.batch`) and the newest publication.

- A model whose definition changed (SQLMesh's data fingerprint of it and its parents,
  which the publication records per model) is recomputed with everything downstream of
  it; an incremental one from its first month (all its published rows are replaced).
  A change to what only describes a model (SQLMesh's metadata: description, audits,
  owner) recomputes nothing.
- New or withdrawn archives of a source recompute every model that reads that source's
  input, and all below: an incremental model from the oldest release month that changed
  (a restatement). The run loads only the archives of the sources its models read.
- A model reading a source with nothing landed (no WASDE report yet) is not built: its
  tables would be empty. One never published before is computed from its first month.
- A model recomputed reads each parent that is not (in its query or in one of its
  audits) from the publication when the parent is published, else (a view) that parent
  is recomputed with it, up to the landing.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass, field
from datetime import date
from pathlib import Path

from materia.landing.manifest import Landed
from materia.sources import psd_archive, psd_format
from materia.sources.registry import of_input, of_key
from materia.transform import batch, inputs
from materia.transform.batch import Batch, Step
from materia.transform.compiled import READS_NEWEST, VIEW, Compiled, Model

# Bump when the way archives become model inputs, or published tables are laid out,
# changes: every model of every environment is then recomputed once.
TRANSFORM_VERSION = "3"
# The line format is part of the check. Hashed by content: a move of these files changes
# their imports, so every environment rebuilds once after one.
_LOADER = tuple(Path(m.__file__) for m in (inputs, psd_archive, batch, psd_format))


def runtime() -> str:
    """What turns landed archives into the models' input, and how tables are published:
    part of every model's fingerprint."""
    h = hashlib.sha256(TRANSFORM_VERSION.encode())
    for path in _LOADER:
        h.update(b"\0" + path.read_bytes())
    return h.hexdigest()


def fingerprints(compiled: Compiled, runtime: str) -> dict[str, str]:
    """Per model: SQLMesh's data fingerprint with what turns archives into its input."""
    return {
        m.name: hashlib.sha256(f"{runtime}\0{m.fingerprint}".encode()).hexdigest()[:32]
        for m in compiled.models
    }


@dataclass
class Work:
    build: list[Model]  # non-incremental models to build, parents first
    incremental: list[Model]  # incremental models to run batch by batch
    steps: list[Step] = field(default_factory=list)  # their release months, oldest first
    restate_from: date | None = None  # the first month they recompute
    replace_all: bool = False  # their published rows are all replaced (a rebuild)
    from_publication: list[Model] = field(default_factory=list)  # parents read as published
    newest: list[Landed] = field(default_factory=list)  # what the final step loads
    changed: list[str] = field(default_factory=list)  # models whose definition changed
    reason: str = ""
    skipped: list[str] = field(default_factory=list)  # models of a source with nothing landed

    @property
    def models(self) -> list[str]:
        """The models this run computes (the run's summary names them)."""
        return [m.name for m in self.build + self.incremental if m.kind != VIEW or m.published]


def changed_models(compiled: Compiled, now: dict[str, str], published: dict[str, str]) -> list[str]:
    return [m.name for m in compiled.models if published.get(m.name) != now[m.name]]


def metadata_only(
    compiled: Compiled, published_meta: dict[str, str], changed: list[str]
) -> list[str]:
    """Models whose description, audits or other metadata changed, and nothing else."""
    return [
        m.name
        for m in compiled.models
        if m.name not in changed and published_meta.get(m.name, m.metadata) != m.metadata
    ]


def decide(
    compiled: Compiled,
    changed: list[str],
    landing: Batch | None,
    every_month: Batch,
    published: set[str],
) -> Work | None:
    """The work of this run (None: nothing to recompute). `landing`: what the landing
    changed since the publication (None: nothing); `every_month`: the whole landing, for
    a rebuild; `published`: the models the current publication holds."""
    inputs = {m.name: inputs_of(compiled, m.name) for m in compiled.models}
    landed = {s.input_table for s in map(of_key, _keys(every_month)) if s}
    skipped = {n for n, used in inputs.items() if used - landed}
    dirty = compiled.downstream(set(changed))
    if landing is not None:
        touched = {s.input_table for s in map(of_key, landing.added + landing.removed) if s}
        readers = {m.name for m in compiled.models if m.reads and inputs[m.name] & touched}
        dirty |= compiled.downstream(readers)
    dirty -= skipped
    if not dirty:
        return None
    incremental = [m for m in compiled.models if m.name in dirty and m.incremental]
    needed = set(dirty)
    for m in reversed(compiled.models):  # children first, so a view pulls in its parents
        if m.name in needed:
            for p in m.parents + m.audit_parents:
                parent = _model(compiled, p)
                if parent is not None and p not in needed and not _readable(parent, published):
                    needed.add(p)
    build = [m for m in compiled.models if m.name in needed and not m.incremental]
    read = {p for m in build + incremental for p in m.parents + m.audit_parents}
    from_publication = [_model(compiled, p) for p in sorted(read - needed) if _model(compiled, p)]
    work = Work(build, incremental, from_publication=from_publication, changed=list(changed))
    work.skipped = sorted(skipped)
    # a changed model, or one never published (its source had nothing landed): all months
    rebuild = any(m.name in changed or m.name not in published for m in incremental)
    source = every_month if rebuild or landing is None else landing
    loaded = _loaded_inputs(compiled, build + incremental, needed)
    if incremental:
        work.steps, work.restate_from = _only(source.steps, loaded), source.vintages_from
        work.replace_all = rebuild
    if any(m.reads == READS_NEWEST and _reads_landing(compiled, m, needed) for m in build):
        months = {a.release_month for a in every_month.newest}
        work.newest = sorted(
            a
            for s in _only(every_month.steps, loaded)
            for a in s.archives
            if a.release_month in months
        )
    work.reason = _reason(changed, landing)
    return work


def inputs_of(compiled: Compiled, name: str) -> set[str]:
    """The inputs (materia_input.*) a model reads, directly or through its parents (its
    audits' parents included)."""
    model = _model(compiled, name)
    if model is None:
        return {name} if name in compiled.inputs else set()
    out: set[str] = set()
    for p in model.parents + model.audit_parents:
        if p != name:
            out |= inputs_of(compiled, p)
    return out


def _keys(batch: Batch) -> list[str]:
    return [a.key for a in batch.archives]


def _loaded_inputs(compiled: Compiled, models: list[Model], needed: set[str]) -> set[str]:
    """The inputs this run reads archives of: through the models that read the landing
    in this run (an input, or a view over it built here)."""
    out: set[str] = set()

    def walk(m: Model) -> None:
        for p in m.parents:
            parent = _model(compiled, p)
            if parent is None:
                out.add(p)
            elif p in needed and parent.kind == VIEW and parent.reads:
                walk(parent)

    for m in models:
        if m.reads:
            walk(m)
    return out


def _only(steps: list[Step], loaded: set[str]) -> list[Step]:
    """The steps with the archives of the loaded inputs' sources only (none: dropped)."""
    out = []
    for s in steps:
        keep = tuple(a for a in s.archives if (src := of_key(a.key)) and src.input_table in loaded)
        if keep:
            out.append(Step(s.month, keep))
    return out


def _reads_landing(compiled: Compiled, m: Model, needed: set[str]) -> bool:
    """Does `m` read the landing in this run: an input, or a view over it built here (a
    published parent read as published needs no archive)."""
    for p in m.parents:
        parent = _model(compiled, p)
        if parent is None or (p in needed and parent.kind == VIEW and parent.reads):
            return True
    return False


def _model(compiled: Compiled, name: str) -> Model | None:
    try:
        return compiled.model(name)
    except KeyError:
        return None  # an input


def _readable(model: Model, published: set[str]) -> bool:
    """A parent not recomputed can be read as published (else, a view: recompute it)."""
    return model.published and model.name in published


def _reason(changed: list[str], landing: Batch | None) -> str:
    parts = [landing.reason] if landing is not None else []
    if changed:
        shown = ", ".join(changed[:3]) + (
            f" and {len(changed) - 3} more" if len(changed) > 3 else ""
        )
        parts.append(f"changed model(s): {shown}")
    return "; ".join(parts)


def withdrawn_by_table(compiled: Compiled, landing: Batch | None) -> dict[str, set[date]]:
    """Per published table, the release months its sources have no archive left for (a
    vintages table may lose them; `materia.lakehouse.guard`)."""
    if landing is None:
        return {}
    out = {}
    for m in compiled.published():
        sources = {s.name for i in inputs_of(compiled, m.name) if (s := of_input(i))}
        out[m.published_name] = set().union(*(landing.withdrawn.get(s, set()) for s in sources))
    return out
