"""The environment a command targets, as one validated value: `prod`, or `dev_<name>`
(lowercase letters, digits and _). Made once where a name comes in (the CLI's `--env`, a
notebook's picker, a caller's string) and passed down as is: every layer below reads its
namespace from it instead of checking the string again."""

from __future__ import annotations

import re

from materia.core.errors import MateriaError

# Matched whole (`fullmatch`): `$` alone would let "prod\n" through as a second "prod".
_NAME = re.compile(r"prod|dev_[a-z0-9_]+")
SERVING = "serving"  # prod's Iceberg namespace (= SQLMesh's serving schema)


class Target(str):
    """An environment's name, checked when made; `Target(t)` of a Target is free."""

    __slots__ = ()

    def __new__(cls, name: object) -> Target:
        if type(name) is cls:
            return name  # type: ignore[return-value]
        if not isinstance(name, str) or not _NAME.fullmatch(name):
            raise MateriaError(
                f"environment {name!r} is not valid: use 'prod' or 'dev_<name>' "
                "(lowercase letters, digits and _)"
            )
        return super().__new__(cls, name)

    @property
    def is_prod(self) -> bool:
        return self == "prod"

    @property
    def namespace(self) -> str:
        """Its Iceberg namespace (= SQLMesh's serving schema of the environment)."""
        return SERVING if self.is_prod else f"{SERVING}__{self}"

    @classmethod
    def of_namespace(cls, namespace: str) -> Target | None:
        """The environment whose namespace this is, or None (another schema)."""
        if namespace == SERVING:
            return PROD
        prefix = f"{SERVING}__"
        if namespace.startswith(prefix) and _NAME.fullmatch(name := namespace[len(prefix) :]):
            return cls(name)
        return None


PROD = Target("prod")
