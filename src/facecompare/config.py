"""Runtime settings, read from ``FACECOMPARE_*`` environment variables (flags override them)."""

from __future__ import annotations

import os
from dataclasses import dataclass, field, fields, replace
from pathlib import Path


def default_home() -> Path:
    return Path(os.environ.get("FACECOMPARE_HOME", Path.home() / ".facecompare"))


def default_keys_db() -> Path:
    env = os.environ.get("FACECOMPARE_KEYS_DB")
    return Path(env) if env else default_home() / "keys.db"


@dataclass(frozen=True)
class ImageLimits:
    min_area: int = 480 * 480
    max_side: int = 4096
    max_bytes: int = 10 * 1024 * 1024


@dataclass(frozen=True)
class Settings:
    limits: ImageLimits = field(default_factory=ImageLimits)
    # model pack (models/packs/<name>.json): vectron-mbf (InsightFace, non-commercial) or open
    # (YuNet + SFace, MIT / Apache-2.0); a pack may set its own defaults of the fields below
    pack: str = "vectron-mbf"
    min_face: int = 112  # shorter side of the detector box, pixels
    min_document_face: int = 40  # printed portrait on an ID document
    det_size: int = 480  # longer side of the detector input (docs/performance.md)
    # a first, cheaper detector pass at this input on images larger than it: a phone selfie's
    # face is large, so most photos are done there; the det_size pass runs only when nothing
    # qualifies (0: off). Images no larger than it (LFW, the calibration sets) are unaffected.
    det_first_size: int = 320
    det_threshold: float = 0.5
    # align on the 106-point landmark model's points (models/landmark106.py), else SCRFD's 5
    refine_landmarks: bool = True
    # flip test-time augmentation (embed.similarity): "uncertain" embeds the mirrored faces
    # too only when the plain cosine is in [flip_low, flip_high], around every threshold
    flip_tta: str = "uncertain"  # off | uncertain | always
    flip_low: float = 0.10
    flip_high: float = 0.50
    # speed levers (docs/performance.md): a second detector pass at det_retry_size only when
    # nothing qualifies at det_size; JPEGs decoded at reduced scale (never below det_size);
    # the face is aligned from the reduced image when its box is at least align_min_face there.
    det_retry_size: int = 640
    # when nothing qualifies: one more pass with a grey frame of this fraction of the longer
    # side on every side, for faces that fill the frame and touch its border (0: off)
    border_margin: float = 0.5
    reduced_decode: bool = True
    align_min_face: int = 80  # benchmarks/settings_ab.py: 112 → 80 is −9 % CPU, 0/100 decisions
    # PRelu rewritten as Relu/Mul/Add in memory (models/rewrite.py): same function, 2× faster
    fast_prelu: bool = True
    # inference backend (models/backend.py): auto | onnxruntime | openvino, and its precision
    # auto | f32 | bf16 | int8; auto picks from the CPU's features (docs/performance.md).
    # Default onnxruntime: the calibration was fitted on it, and a clean-checkout CI run saw
    # OpenVINO requests time out (60 s) under a one-worker server (docs/performance.md)
    backend: str = "onnxruntime"
    precision: str = "auto"
    # the document text detector's backend (models/ppocr.choose_backend): auto | onnxruntime |
    # openvino | openvino-bf16; no calibrated score depends on it
    ocr_backend: str = "auto"
    # 2: the two photos of a compare may run side by side, each on its own core, whenever no
    # other compare is running (docs/performance.md: threads); 1: always one after the other
    image_threads: int = field(default_factory=lambda: min(2, os.cpu_count() or 1))
    max_body_bytes: int = 25 * 1024 * 1024
    workers: int = 2  # inference threads
    intra_op_threads: int = 1  # onnxruntime threads per session run
    max_queue: int = 32  # requests waiting or running before 429
    request_timeout: float = 30.0  # seconds a request may wait for a worker
    keys_db: Path = field(default_factory=default_keys_db)
    calibration: Path | None = None  # None: the file shipped with the model pack
    auth: bool = True
    # -- reliability & security (docs/security.md) --
    rate_limit: int = 0  # requests per minute per API key; 0: off
    body_timeout: float = 15.0  # seconds to receive a body (it holds a queue slot meanwhile)
    cors_origins: str = ""  # comma-separated allowed origins; empty: CORS off
    debug_requests: bool = False  # log per-request metadata (never images, embeddings or keys)
    malloc_arenas: int = 2  # glibc malloc arenas (api/limits.return_big_buffers_to_os); 0: default

    @classmethod
    def parse(cls, name: str, raw: str) -> object:
        """A field's value from its text (an environment variable's), typed like its default."""
        current = getattr(cls(), name)
        if isinstance(current, bool):
            return raw.lower() in ("1", "true", "yes", "on")
        if isinstance(current, int):
            return int(raw)
        if isinstance(current, float):
            return float(raw)
        if isinstance(current, str):
            return raw
        return Path(raw)

    @classmethod
    def from_env(cls, **overrides: object) -> Settings:
        """Settings from FACECOMPARE_<FIELD> variables, then explicit overrides (not None)."""
        base = cls()
        values: dict[str, object] = {}
        for f in fields(cls):
            raw = os.environ.get(f"FACECOMPARE_{f.name.upper()}")
            if raw is None or f.name in ("limits", "keys_db"):
                continue
            values[f.name] = cls.parse(f.name, raw)
        limits = ImageLimits(
            min_area=int(os.environ.get("FACECOMPARE_MIN_AREA", base.limits.min_area)),
            max_side=int(os.environ.get("FACECOMPARE_MAX_SIDE", base.limits.max_side)),
            max_bytes=int(os.environ.get("FACECOMPARE_MAX_IMAGE_BYTES", base.limits.max_bytes)),
        )
        values["limits"] = limits
        values.update({k: v for k, v in overrides.items() if v is not None})
        return replace(base, **values)
