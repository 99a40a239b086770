"""The models: one class per model file (``scrfd``, ``yunet``, ``landmark106``, ``arcface``,
``sface``, ``ppocr``), composed by packs (a manifest of files with their SHA-256 and licence)."""

from .pack import ModelPack, load_pack

__all__ = ["ModelPack", "load_pack"]
