"""The `materia` command line, thin: one module per command group (`main` wires them;
`ops`, `dev`), `options` for what every command shares (its settings, the `--env`
target) and `runs_view` for how the run log prints. The top layer: it may import any
sub-package, and nothing imports it.
"""
