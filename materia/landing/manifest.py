"""What has landed: the manifest of every source's archives, the quarantine beside it,
and which archive of a release month is in use.

**Content is identity.** An archive lands at `<source>/<stem>/<YYYY>/<MM>/sha256-<h><suffix>`
(`psd/psd_coffee_csv/2022/06/sha256-<h>.zip`, `wasde/oce-wasde-report-data/2025/11/
sha256-<h>.csv`: `materia.sources.registry`), `h` the first 32 hex digits of the SHA-256 of
its bytes, and never changes. The same bytes
never land twice in a release month, whatever ETag the server sends (none, a new one on
every request): the ETag is only a hint that saves a download when it names an archive
already known (without an ETag, the Last-Modified time and size the server sent are that
hint). Its record `checked/<key>.json` (`materia.sources.check.record`) holds the full
hash, the ETag (and Last-Modified) it came with, its size and when it landed.

**Archives landed before content keys** keep their keys, `<etag>.zip`, so publications
that name them stay valid; their content hash is computed once, when first needed, and
written into their record (`content`). So a content already landed under an old key is
recognised and not landed again.

**Quarantine is by content.** An archive that must not be used (bad values USDA will
correct, a release withdrawn) is moved, not deleted, to `quarantine/<its key>` with a
`.reason.json` beside it: the transform then publishes exactly what it would have had the
archive never landed, the extractor never lands that content again (in any month, under
any key), a landed copy of it is held back too, and `restore` undoes it.

**A same-month correction supersedes.** When USDA re-issues a month's file, both stay
landed and the transform uses the newer download of each dataset and month
(`superseded`); quarantining the correction brings the earlier file back.
"""

from __future__ import annotations

import hashlib
import json
import posixpath
import re
import socket
from collections import defaultdict
from dataclasses import dataclass, field, replace
from datetime import UTC, date, datetime

from materia.core.errors import MateriaError
from materia.core.storage import LandingStore
from materia.sources.check import record_key
from materia.sources.registry import PSD, SOURCES

KEY_RE = re.compile(
    r"^(?P<source>[a-z]+)/(?P<stem>[A-Za-z0-9][A-Za-z0-9_.-]*)/(?P<y>[0-9]{4})/(?P<m>[0-9]{2})/"
    r"(?P<etag>[A-Za-z0-9_-][A-Za-z0-9_.-]*?)(?P<suffix>\.[a-z]+)$"
)
CONTENT_RE = re.compile(r"^sha256-[0-9a-f]{32}$")
QUARANTINE = "quarantine/"
REASON_SUFFIX = ".reason.json"


def safe_etag(etag: str) -> str:
    """An ETag as it appears in a key landed before content keys: no `W/`, no quotes,
    only [A-Za-z0-9._-]."""
    tag = etag.strip()
    tag = tag[2:] if tag.startswith("W/") else tag
    tag = re.sub(r"[^A-Za-z0-9._-]", "_", tag.strip('"')).strip("._")
    if not tag:
        raise ValueError(f"unusable ETag {etag!r}")
    return tag


def content_id(sha256_hex: str) -> str:
    """The content part of a landing key: `sha256-` and 32 hex digits (128 bits)."""
    return f"sha256-{sha256_hex[:32]}"


def content_key(stem: str, month: date, sha256_hex: str, source: str = PSD.name) -> str:
    suffix = SOURCES[source].suffix
    return f"{source}/{stem}/{month:%Y}/{month:%m}/{content_id(sha256_hex)}{suffix}"


@dataclass(frozen=True, order=True)
class Landed:
    """One landed archive, `<source>/<stem>/<YYYY>/<MM>/<etag><suffix>`: `etag` is the
    name in the key, `sha256-<h>` for content keys, the server's ETag for PSD archives
    landed before them."""

    release_month: date
    stem: str
    etag: str
    key: str
    content: str | None = field(default=None, compare=False)  # `sha256-<h>`, when known
    landed_at: str | None = field(default=None, compare=False)  # ISO 8601, when known

    @classmethod
    def parse(cls, key: str) -> Landed | None:
        m = KEY_RE.match(key)
        if not m or not 1 <= int(m["m"]) <= 12:
            return None
        source = SOURCES.get(m["source"])
        if source is None or m["suffix"] != source.suffix:
            return None
        content = m["etag"] if CONTENT_RE.match(m["etag"]) else None
        return cls(date(int(m["y"]), int(m["m"]), 1), m["stem"], m["etag"], key, content)

    @property
    def label(self) -> str:
        return f"{self.stem} {self.release_month:%Y-%m}"

    @property
    def source(self) -> str:
        """The source it belongs to (`materia.sources.registry`): psd, wasde."""
        return self.key.split("/", 1)[0]


def quarantine_key(key: str) -> str:
    return QUARANTINE + key


# --- records and content --------------------------------------------------------------------
def facts(store: LandingStore, key: str) -> dict:
    """The record of a landed archive (`checked/<key>.json`), {} when there is none."""
    try:
        data = json.loads(store.read_bytes(record_key(key)))
    except (FileNotFoundError, ValueError):
        return {}
    return data if isinstance(data, dict) else {}


def _add_facts(store: LandingStore, key: str, new: dict) -> dict:
    merged = {**facts(store, key), **new}
    store.write_bytes(record_key(key), json.dumps(merged, sort_keys=True).encode())
    return merged


def identify(store: LandingStore, item: Landed, where: str | None = None) -> Landed:
    """`item` with its content known: from its key, its record, or (an archive landed
    before content keys, the first time only) by hashing it, then recorded. `where`: the
    object to hash when it is not at its landing key (a quarantined one)."""
    if item.content:
        return item
    known = facts(store, item.key).get("sha256")
    if not isinstance(known, str) or not re.fullmatch(r"[0-9a-f]{64}", known):
        h = hashlib.sha256()
        with store.open(where or item.key) as f:
            while chunk := f.read(1 << 20):
                h.update(chunk)
        known = h.hexdigest()
        _add_facts(store, item.key, {"sha256": known})
    return replace(item, content=content_id(known))


def _landed_at(store: LandingStore, item: Landed) -> Landed:
    """`item` with when it landed: from its record, else the object's time."""
    when = facts(store, item.key).get("landed_at")
    if not isinstance(when, str):
        when = store.modified(item.key).isoformat()
    return replace(item, landed_at=when)


# --- the manifest ---------------------------------------------------------------------------
@dataclass
class Landing:
    """One listing of the landing area: `items` landed (not quarantined), `quarantined`
    keys, and `held`: landed keys whose content is quarantined (→ that quarantined key)."""

    items: list[Landed]
    quarantined: list[str]
    held: dict[str, str] = field(default_factory=dict)

    @property
    def usable(self) -> list[Landed]:
        """What a transform may read (a same-month correction decides further: `superseded`)."""
        return [i for i in self.items if i.key not in self.held]

    @property
    def withheld(self) -> set[str]:
        """Keys withheld on purpose: quarantined, or a landed copy of quarantined content."""
        return set(self.quarantined) | set(self.held)


def scan(store: LandingStore) -> Landing:
    """The landing area in one pass (two listings; records only where they decide).

    A key present in both places (a move interrupted between copy and delete) counts as
    quarantined: the quarantine is what the operator asked for.
    """
    qkeys = quarantined_keys(store)
    qset = set(qkeys)
    found = (Landed.parse(k) for s in SOURCES.values() for k in store.list(s.prefix))
    items = sorted(x for x in found if x is not None and x.key not in qset)
    held: dict[str, str] = {}
    if qkeys:  # only then can a landed archive carry quarantined content
        stems = defaultdict(dict)
        for q in filter(None, map(Landed.parse, qkeys)):
            q = identify(store, q, quarantine_key(q.key))
            stems[(q.source, q.stem)][q.content] = q.key
        for i, item in enumerate(items):
            if (item.source, item.stem) in stems:
                items[i] = item = identify(store, item)
                if item.content in stems[(item.source, item.stem)]:
                    held[item.key] = stems[(item.source, item.stem)][item.content]
    groups = defaultdict(list)
    for i, item in enumerate(items):
        groups[(item.source, item.stem, item.release_month)].append(i)
    for idx in groups.values():
        if len(idx) > 1:  # which is newer decides which is used
            for i in idx:
                items[i] = _landed_at(store, items[i])
    return Landing(items, qkeys, held)


def manifest(store: LandingStore) -> list[Landed]:
    """Every landed archive (of every source) the transform may read (not quarantined, nor a copy of
    quarantined content), oldest release first."""
    return scan(store).usable


def quarantined_keys(store: LandingStore) -> list[str]:
    keys = [
        k
        for s in SOURCES.values()
        for k in store.list(QUARANTINE + s.prefix)
        if k.endswith(s.suffix)
    ]
    return sorted(k[len(QUARANTINE) :] for k in keys)


def superseded(items: list[Landed]) -> dict[str, str]:
    """Archives a newer download of the same dataset and month replaces: key → the key
    that supersedes it. The newer landing wins (`landed_at`, as `scan` fills it)."""
    groups = defaultdict(list)
    for item in items:
        groups[(item.source, item.stem, item.release_month)].append(item)
    out = {}
    for group in groups.values():
        if len(group) > 1:
            winner = max(group, key=lambda i: (_when(i.landed_at), i.key))
            out |= {i.key: winner.key for i in group if i is not winner}
    return out


def _when(text: str | None) -> datetime:
    try:
        when = datetime.fromisoformat(text or "")
    except ValueError:
        return datetime.min.replace(tzinfo=UTC)
    return when if when.tzinfo else when.replace(tzinfo=UTC)


# --- what the extractor knows of one release month ----------------------------------------
@dataclass
class Known:
    """The archives of one dataset's release month, landed and quarantined, and every
    quarantined archive of the dataset: what a new download is compared with."""

    store: LandingStore
    landed: list[Landed]
    quarantined: list[Landed]  # of every month
    month: date

    def by_etag(self, etag: str) -> tuple[str, str] | None:
        """("unchanged" | "quarantined", key) when an archive of this month came with
        this ETag (the hint that saves a download)."""
        try:
            name = safe_etag(etag)
        except ValueError:
            return None
        for status, item in self._here():
            if item.etag == name or facts(self.store, item.key).get("etag") == etag:
                return status, item.key
        return None

    def by_hint(
        self, etag: str, last_modified: str = "", size: int | None = None
    ) -> tuple[str, str] | None:
        """`by_etag`; without an ETag, an archive of this month that came with the same
        Last-Modified time and size (a weaker hint, so both must agree)."""
        if etag:
            return self.by_etag(etag)
        if not last_modified or size is None:
            return None
        for status, item in self._here():
            known = facts(self.store, item.key)
            if known.get("last_modified") == last_modified and known.get("size") == size:
                return status, item.key
        return None

    def _here(self) -> list[tuple[str, Landed]]:
        here = [("quarantined", q) for q in self.quarantined if q.release_month == self.month]
        return [*here, *(("unchanged", i) for i in self.landed)]

    def by_content(self, content: str) -> tuple[str, str] | None:
        """("quarantined", key) when this content is quarantined (in any month),
        ("unchanged", key) when it has landed in this month already."""
        for q in self.quarantined:
            if identify(self.store, q, quarantine_key(q.key)).content == content:
                return "quarantined", q.key
        for item in self.landed:
            if identify(self.store, item).content == content:
                return "unchanged", item.key
        return None


def known(store: LandingStore, stem: str, month: date, source: str = PSD.name) -> Known:
    here = store.list(f"{source}/{stem}/{month:%Y}/{month:%m}/")
    quarantined = [
        q
        for k in quarantined_keys(store)
        if (q := Landed.parse(k)) is not None and (q.source, q.stem) == (source, stem)
    ]
    qset = {q.key for q in quarantined}
    landed = [i for k in here if (i := Landed.parse(k)) is not None and i.key not in qset]
    return Known(store, landed, quarantined, month)


# --- quarantine --------------------------------------------------------------------------------
@dataclass(frozen=True)
class Quarantined:
    key: str
    reason: str
    at: str
    by: str


def quarantined(store: LandingStore) -> list[Quarantined]:
    out = []
    for key in quarantined_keys(store):
        meta_key = quarantine_key(key) + REASON_SUFFIX
        meta = json.loads(store.read_bytes(meta_key)) if store.exists(meta_key) else {}
        out.append(Quarantined(key, meta.get("reason", ""), meta.get("at", ""), meta.get("by", "")))
    return out


def landing_key(text: str) -> Landed:
    """A landing key as an operator types it (either spelling, `quarantine/` or not, a
    leading `/`), normalized; MateriaError unless it names an archive inside the landing
    area (no `..`, nothing outside a source's folder: `psd/`, `wasde/`)."""
    key = text.strip().lstrip("/")
    if not key or ".." in key.split("/") or "\\" in key or "\0" in key:
        raise MateriaError(
            f"{text!r} is not a landing key: keys are plain paths inside the landing area, "
            "like psd/<dataset>/<YYYY>/<MM>/<name>.zip (see `materia landing list`)"
        )
    item = Landed.parse(posixpath.normpath(key).removeprefix(QUARANTINE))
    if item is None:
        raise MateriaError(
            f"{text!r} is not a landing key: expected psd/<dataset>/<YYYY>/<MM>/<name>.zip "
            "or wasde/<dataset>/<YYYY>/<MM>/<name>.csv (see `materia landing list`)"
        )
    return item


def quarantine(store: LandingStore, key: str, reason: str = "") -> Landed:
    """Move a landed archive to `quarantine/<key>`, recording why, when and by whom."""
    item = landing_key(key)
    target = quarantine_key(item.key)
    if not store.exists(item.key):
        if store.exists(target):
            raise MateriaError(f"{item.key} is already quarantined")
        raise MateriaError(f"no landed archive {store.url(item.key)}")
    item = identify(store, _landed_at(store, item))  # its content is what stays out
    if "landed_at" not in facts(store, item.key):
        _add_facts(store, item.key, {"landed_at": item.landed_at})
    meta = {
        "reason": reason,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": socket.gethostname(),
        "content": item.content,
    }
    # Reason first, then the copy, then the delete: an interruption at any point leaves
    # the archive quarantined or still landed, never lost.
    store.write_bytes(target + REASON_SUFFIX, json.dumps(meta, sort_keys=True).encode())
    store.copy(item.key, target)
    store.delete(item.key)
    return item


def restore(store: LandingStore, key: str) -> Landed:
    """Undo `quarantine`: the archive is landed again under its original key."""
    item = landing_key(key)
    source = quarantine_key(item.key)
    if not store.exists(source):
        raise MateriaError(f"{item.key} is not quarantined (see `materia landing list`)")
    if not store.exists(item.key):
        store.copy(source, item.key)
    store.delete(source)
    if store.exists(source + REASON_SUFFIX):
        store.delete(source + REASON_SUFFIX)
    return item
