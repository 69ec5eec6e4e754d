"""Operations: `pipelines` (extract then transform, here or on a worker), the
supervisor's tick (`supervisor`), its log, state file and dead-man's switch, the
schedule, the check of a new commit before adoption (`selfcheck`, `ci_gate`) and
production's shape on loopback (`stack`). May import every layer below it (workers,
reports, transform, extract, ...), never the CLI.
"""
