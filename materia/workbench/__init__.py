"""What analysts see, as plain functions pytest reaches (the notebooks are UI and
wiring): `data` opens one publication and reads one commodity at a time; `analysis`,
`balance`, `breakdowns`, `releases`, `psd_revisions` and the WASDE modules compute, `charts`,
`tables`, `units` and `excel` present, `envdiff` compares a dev environment with prod.
May import `materia.lakehouse`, `materia.landing`, `materia.sources` and `materia.core`.
"""
