"""What has landed: the manifest of immutable, content-addressed files of every
source, their quarantine, and which file of a release month is in use (`manifest`). May
import `materia.sources` and `materia.core`.
"""
