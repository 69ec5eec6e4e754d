"""Environment names are matched whole: `prod\\n` is not a second prod."""

from __future__ import annotations

import pytest

from materia.core.errors import MateriaError
from materia.lakehouse import catalogs


@pytest.mark.parametrize("env", ["prod\n", "dev_x\n", " prod", "prod ", "dev_", "dev_X", "dev_a-b", "Prod"])  # fmt: skip
def test_a_name_that_only_starts_like_an_environment_is_refused(env):
    with pytest.raises(MateriaError, match="is not valid: use 'prod' or 'dev_<name>'"):
        catalogs.namespace_for(env)


def test_namespaces_map_back_to_whole_names_only():
    assert catalogs.namespace_for("prod") == "serving"
    assert catalogs.namespace_for("dev_ann_2") == "serving__dev_ann_2"
    assert catalogs.env_of("serving__dev_ann_2") == "dev_ann_2"
    assert catalogs.env_of("serving__prod\n") is None  # left by the old check: not listed
    assert catalogs.env_of("serving__dev_x\n") is None


def test_the_cli_refuses_a_newline_in_env(cli):
    done = cli("transform", "--env", "prod\n")
    assert done.returncode == 1
    assert done.stderr.strip().splitlines() == [
        "error: environment 'prod\\n' is not valid: use 'prod' or 'dev_<name>' "
        "(lowercase letters, digits and _)"
    ]
