"""HTML reports: `notebook` (the report itself, a marimo notebook inside the package so an
installed wheel can make one), `runner` runs it once as `marimo run` would, `html` turns
its outputs into one self-contained page, `build` is `materia report commodities`, and
`publish` puts reports where people are. May import `materia.workbench`,
`materia.lakehouse` and `materia.core`.
"""
