"""Model packs: a manifest of ONNX files with their SHA-256 and licence, and their sessions."""

from .pack import ModelPack, load_pack

__all__ = ["ModelPack", "load_pack"]
