"""facecompare: self-hosted face verification, compatible with the AIGEN Face Compare API."""

from .telemetry import third_party_telemetry_off

third_party_telemetry_off()  # before any module of the package loads onnxruntime or OpenVINO

__version__ = "0.1.0"
