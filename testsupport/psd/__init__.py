"""USDA's sources on loopback: generated PSD releases in the real format (`fixtures`), a
PSD Online stand-in serving them over HTTP (`server`), and the SQLMesh project copied for
tests that change a model (`project`)."""
