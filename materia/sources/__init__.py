"""What each source's files are and mean, as data and checks: PSD's codes, datasets,
commodity groups (market years, bases), exact line format and archive check; WASDE's
format, units and tables; the registry of sources and the check every landed file passes.
May import `materia.core` only: extract, transform and the workbench share these
definitions.
"""
