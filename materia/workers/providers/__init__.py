"""One module per place a worker can run, each a `materia.workers.base.Provider`:
`local` (this machine), `hetzner`, `scaleway`, `ovh` and `oracle` (through each vendor's
SDK), and `cloud`, what the last three share. May import `materia.workers.base` and
`materia.core` only.
"""
