"""Ephemeral workers: run one pipeline on a fresh machine that is always destroyed.

- `base`: the Provider Protocol and its dataclasses; `reap` of workers past their TTL.
- `providers/`: one module per cloud: `local` (a worker is a temporary directory here,
  the default), `hetzner`, `scaleway`, `ovh`, `oracle` (a server of that cloud, through
  the vendor's SDK); `cloud` holds what the last three share (errors, retries, waits).
- `prices`: the instance type per pipeline and its hourly price, one dated table per
  provider; `cheapest`: `--on cheapest` (lowest price, fallback on capacity errors).
- `registry`: the providers by name, and which are configured (have credentials).
- `ssh`: host keys generated here and injected by cloud-init, pinned known_hosts.
- `ship`: the exact code of this checkout as a tarball (+ commit id, dirty flag).
- `launcher`: runs on the worker; secrets arrive as a JSON document on stdin.
- `run`: the whole run; `manage`: the `materia worker …` commands.

On the worker, the shipped code builds its own environment with `uv sync --locked`
(uv installed by cloud-init) unless MATERIA_WORKER_PYTHON names an interpreter that
already has the locked dependencies (the local provider uses its own interpreter).
May import `materia.core` (settings, secrets, the run log) and the package root.
"""
