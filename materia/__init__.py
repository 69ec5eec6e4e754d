"""materia: USDA PSD commodity data, landed, transformed, published and explored."""

__version__ = "0.1.0"
