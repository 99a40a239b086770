"""facecompare: self-hosted face verification, compatible with the AIGEN Face Compare API."""

__version__ = "0.1.0"
