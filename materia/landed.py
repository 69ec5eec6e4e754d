"""What has landed: the manifest of PSD archives, and the quarantine beside it.

Landed archives live at `psd/<stem>/<YYYY>/<MM>/<etag>.zip` and never change. An archive
that must not be used (bad values USDA will correct, a release withdrawn) is moved, not
deleted, to `quarantine/<its key>` with a `.reason.json` beside it: the transform then
publishes exactly what it would have had the archive never landed, the extractor never
lands it again, and `restore` undoes it.
"""

from __future__ import annotations

import json
import re
import socket
from dataclasses import dataclass
from datetime import UTC, date, datetime

from materia.errors import MateriaError
from materia.storage import LandingStore

KEY_RE = re.compile(
    r"^psd/(?P<stem>[A-Za-z0-9_.-]+)/(?P<y>\d{4})/(?P<m>\d{2})/(?P<etag>[^/]+)\.zip$"
)
QUARANTINE = "quarantine/"
REASON_SUFFIX = ".reason.json"


@dataclass(frozen=True, order=True)
class Landed:
    """One landed archive: `psd/<stem>/<YYYY>/<MM>/<etag>.zip`."""

    release_month: date
    stem: str
    etag: str
    key: str

    @classmethod
    def parse(cls, key: str) -> Landed | None:
        m = KEY_RE.match(key)
        if not m or not 1 <= int(m["m"]) <= 12:
            return None
        return cls(date(int(m["y"]), int(m["m"]), 1), m["stem"], m["etag"], key)

    @property
    def label(self) -> str:
        return f"{self.stem} {self.release_month:%Y-%m}"


def quarantine_key(key: str) -> str:
    return QUARANTINE + key


def manifest(store: LandingStore) -> list[Landed]:
    """Every landed, non-quarantined PSD archive, oldest release first.

    A key present in both places (a move interrupted between copy and delete) counts as
    quarantined: the quarantine is what the operator asked for.
    """
    held = set(quarantined_keys(store))
    found = (Landed.parse(k) for k in store.list("psd/"))
    return sorted(x for x in found if x is not None and x.key not in held)


def quarantined_keys(store: LandingStore) -> list[str]:
    keys = store.list(QUARANTINE + "psd/")
    return sorted(k[len(QUARANTINE) :] for k in keys if k.endswith(".zip"))


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


def _landed_key(key: str) -> Landed:
    key = key.strip().lstrip("/")
    key = key.removeprefix(QUARANTINE)
    item = Landed.parse(key)
    if item is None:
        raise MateriaError(
            f"{key!r} is not a landing key: expected psd/<dataset>/<YYYY>/<MM>/<etag>.zip "
            "(see `materia landing list`)"
        )
    return item


def quarantine(store: LandingStore, key: str, reason: str = "") -> Landed:
    """Move a landed archive to `quarantine/<key>`, recording why, when and by whom."""
    item = _landed_key(key)
    target = quarantine_key(item.key)
    if not store.exists(item.key):
        if store.exists(target):
            raise MateriaError(f"{item.key} is already quarantined")
        raise MateriaError(f"no landed archive {store.url(item.key)}")
    meta = {
        "reason": reason,
        "at": datetime.now(UTC).isoformat(timespec="seconds"),
        "by": socket.gethostname(),
    }
    # Reason first, then the copy, then the delete: an interruption at any point leaves
    # the archive quarantined or still landed, never lost.
    store.write_bytes(target + REASON_SUFFIX, json.dumps(meta, sort_keys=True).encode())
    store.copy(item.key, target)
    store.delete(item.key)
    return item


def restore(store: LandingStore, key: str) -> Landed:
    """Undo `quarantine`: the archive is landed again under its original key."""
    item = _landed_key(key)
    source = quarantine_key(item.key)
    if not store.exists(source):
        raise MateriaError(f"{item.key} is not quarantined (see `materia landing list`)")
    if not store.exists(item.key):
        store.copy(source, item.key)
    store.delete(source)
    if store.exists(source + REASON_SUFFIX):
        store.delete(source + REASON_SUFFIX)
    return item
