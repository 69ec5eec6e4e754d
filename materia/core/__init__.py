"""What every other part stands on: settings (and the clouds' and sources' settings),
secrets and their redaction, the exception hierarchy (`errors`), the environment target
(`target`), the landing store (`storage`), scratch folders, locks, the run log and its
output, alerts (`notify`) and failpoints. Imports nothing of materia outside `core`;
inside it, `redact` imports nothing, `errors` only `redact`.
"""
