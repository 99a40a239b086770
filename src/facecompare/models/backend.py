"""Inference backends for the verified model bytes: onnxruntime, or OpenVINO where it pays.

Chosen once at start-up (``Settings.backend`` / ``FACECOMPARE_BACKEND`` = auto | onnxruntime |
openvino, ``Settings.precision`` / ``FACECOMPARE_PRECISION`` = auto | f32 | bf16 | int8) from
what the CPU offers (``/proc/cpuinfo`` flags). Every session, whatever the backend, has
onnxruntime's surface: ``get_inputs()`` (objects with ``.name``) and
``run(output_names, feeds)`` returning a list of numpy arrays, so the model classes
(scrfd.py, yunet.py, landmark106.py, arcface.py, sface.py) do not know which backend runs them.

OpenVINO reads the model from the same verified bytes (``Core.read_model`` from memory), never
from a path, so the pinned-hash rule holds for it too. Measured in docs/performance.md
(``benchmarks/backends.py``): on a CPU with AMX-BF16 the recogniser runs ~2.5× faster in
OpenVINO bf16 than in onnxruntime fp32 (after the PRelu rewrite), and OpenVINO is faster on the
*original* graphs than on the rewritten ones, so the rewrite is applied for onnxruntime only.
"""

from __future__ import annotations

import logging
import os
import threading
from dataclasses import dataclass, field, fields
from functools import cache
from pathlib import Path
from typing import Any

import numpy as np

from ..config import Settings
from .rewrite import prelu_as_relu

log = logging.getLogger("facecompare.models")

BACKENDS = ("auto", "onnxruntime", "openvino")
PRECISIONS = ("auto", "f32", "bf16", "int8")
# CPU features that decide the default (names as in /proc/cpuinfo's "flags")
BF16_FLAGS = ("amx_bf16", "avx512_bf16")
INT8_FLAGS = ("amx_int8", "avx512_vnni", "avx_vnni")
REPORTED_FLAGS = ("avx2", "avx512f", *INT8_FLAGS, *BF16_FLAGS)


class BackendError(RuntimeError):
    """A backend or precision that cannot be served here (refused at start-up)."""


@cache
def cpu_flags(cpuinfo: Path = Path("/proc/cpuinfo")) -> frozenset[str]:
    """The CPU's feature flags (Linux); empty where /proc/cpuinfo is not readable."""
    try:
        text = cpuinfo.read_text()
    except OSError:
        return frozenset()
    for line in text.splitlines():
        if line.startswith("flags"):
            return frozenset(line.split(":", 1)[1].split())
    return frozenset()


def openvino_available() -> bool:
    try:
        import openvino  # noqa: F401
    except Exception:  # ImportError, or a broken install
        return False
    return True


@dataclass(frozen=True)
class Choice:
    """The backend and precision in use, and why (shown in /v1/info and the start-up log)."""

    backend: str  # onnxruntime | openvino
    precision: str  # f32 | bf16
    reason: str
    cpu: tuple[str, ...] = field(default_factory=tuple)  # the deciding flags this CPU has

    def info(self) -> dict[str, Any]:
        return {
            "backend": self.backend,
            "precision": self.precision,
            "reason": self.reason,
            "cpu_features": list(self.cpu),
        }


def origin(name: str, value: str) -> str:
    """Where the setting ``name`` (a ``Settings`` field) got ``value``: its environment
    variable, the default (the variable unset), or the caller's settings (a flag, a script)."""
    var = f"FACECOMPARE_{name.upper()}"
    raw = os.environ.get(var)
    if raw is not None and raw == value:
        return f"{var}={value}"
    default = {f.name: f.default for f in fields(Settings)}[name]
    if value == default and raw is None:
        return f"default ({var} unset)"
    return f"{name}={value} in the caller's settings"


def choose(
    backend: str = "auto",
    precision: str = "auto",
    flags: frozenset[str] | None = None,
    have_openvino: bool | None = None,
) -> Choice:
    """The backend and precision for these settings on this CPU, and the true reason: the
    variable that asked for it, or the default, or what ``auto`` saw on the CPU
    (:func:`origin`; a variable that was not set is never named as the reason).

    auto: OpenVINO in bf16 when the CPU computes bf16 natively (AMX-BF16 or AVX512-BF16) and
    OpenVINO is installed; otherwise onnxruntime fp32 (without native bf16, OpenVINO f32 is
    no faster than onnxruntime on the rewritten graphs; measured in docs/performance.md).
    Explicit choices are honoured or refused (BackendError), never silently replaced."""
    if backend not in BACKENDS:
        raise BackendError(f"FACECOMPARE_BACKEND must be one of {BACKENDS}, not {backend!r}")
    if precision not in PRECISIONS:
        raise BackendError(f"FACECOMPARE_PRECISION must be one of {PRECISIONS}, not {precision!r}")
    flags = cpu_flags() if flags is None else flags
    cpu = tuple(f for f in REPORTED_FLAGS if f in flags)
    bf16_native = any(f in flags for f in BF16_FLAGS)
    why_backend = origin("backend", backend)
    if precision == "int8":
        raise BackendError(
            "precision int8 is not served: no int8 model of this pack passes the accuracy gate "
            "(docs/performance.md); use auto, f32 or bf16"
        )
    if backend == "onnxruntime":
        if precision == "bf16":
            raise BackendError("onnxruntime's CPU provider has no bf16 path; use openvino")
        return Choice("onnxruntime", "f32", f"{why_backend}: onnxruntime fp32", cpu)
    have_ov = openvino_available() if have_openvino is None else have_openvino
    if backend == "openvino" and not have_ov:
        raise BackendError("FACECOMPARE_BACKEND=openvino but the openvino package is missing")
    if backend == "openvino":
        if precision == "auto":
            precision = "bf16" if bf16_native else "f32"
            why = f"precision auto: the CPU {'has' if bf16_native else 'lacks'} native bf16"
        else:
            why = origin("precision", precision)
        if precision == "bf16" and not bf16_native:
            raise BackendError("bf16 needs a CPU with AMX-BF16 or AVX512-BF16 (none here)")
        return Choice("openvino", precision, f"{why_backend}, {why}", cpu)
    # backend == "auto"
    if precision == "f32":
        why = origin("precision", precision)
        return Choice("onnxruntime", "f32", f"{why_backend}, {why}: onnxruntime fp32", cpu)
    if bf16_native and have_ov:
        why = "the CPU has native bf16 (AMX/AVX512-BF16): OpenVINO bf16"
        return Choice("openvino", "bf16", f"{why_backend}: {why}", cpu)
    if precision == "bf16":
        why = "the openvino package is missing" if bf16_native else "the CPU has no native bf16"
        raise BackendError(f"precision bf16 cannot be served: {why}")
    why = "the CPU lacks native bf16" if not bf16_native else "openvino is not installed"
    return Choice("onnxruntime", "f32", f"{why_backend}: {why}: onnxruntime fp32", cpu)


# The first inference of an infer request at an input shape specialises it (memory, shape
# inference, kernel choice) inside OpenVINO's task arenas. Several of those at once on a host
# with few cores is a known way to deadlock the CPU plugin (a work-stealing pool whose tasks
# wait on each other); a clean-checkout test run on 2 vCPUs once saw every request of a fresh
# server time out. So first runs, of any session, go one at a time; once a request has run at a
# shape, its calls at that shape run in parallel with all others.
_FIRST_RUN = threading.Lock()


@dataclass(frozen=True)
class _Port:
    name: str
    shape: list[Any]


def _port(p: Any) -> _Port:
    return _Port(p.get_any_name(), [str(d) for d in p.get_partial_shape()])


class OpenVINOSession:
    """An OpenVINO compiled model with onnxruntime's ``run``/``get_inputs`` surface.

    One infer request per calling thread (a request is not re-entrant; the compiled model is
    shared): the server's worker threads and the image thread each get their own. The model
    is compiled with ``streams`` CPU streams of ``threads`` threads each, so that ``streams``
    calls run in parallel (with one stream, concurrent requests queue behind each other)."""

    def __init__(
        self,
        compiled: Any | None,
        static: dict[tuple[int, ...], Any] | None = None,
        per_item: Any | None = None,
    ) -> None:
        # ``compiled``: the graph with its dynamic dimensions (None when ``per_item`` covers
        # every input); ``static``: the same graph compiled for fixed input shapes, faster than
        # the dynamic one (benchmarks/backends.py); ``per_item``: compiled for batch 1, a
        # batch of N runs as N calls (models whose only dynamic dimension is the batch)
        self.compiled = compiled
        self.static = static or {}
        self.per_item = per_item
        first = per_item if per_item is not None else compiled
        self._inputs = [_port(p) for p in first.inputs]
        self._outputs = [_port(p) for p in first.outputs]
        self._index = {p.name: i for i, p in enumerate(self._outputs)}
        self._local = threading.local()

    def get_inputs(self) -> list[_Port]:
        return self._inputs

    def get_outputs(self) -> list[_Port]:
        return self._outputs

    def _request(self, key: tuple[int, ...] | str) -> Any:
        requests = getattr(self._local, "requests", None)
        if requests is None:
            requests = self._local.requests = {}
        req = requests.get(key)
        if req is None:
            item = key == "item"
            compiled = self.per_item if item else self.static.get(key, self.compiled)  # type: ignore[arg-type]
            req = requests[key] = compiled.create_infer_request()
        return req

    def _infer(self, req: Any, feeds: dict[str, np.ndarray], index: Any) -> list[np.ndarray]:
        # inputs shared (the call is synchronous), outputs copied (the next call reuses them)
        inputs = {k: np.ascontiguousarray(v) for k, v in feeds.items()}
        seen = getattr(self._local, "seen", None)
        if seen is None:
            seen = self._local.seen = set()
        shape = (id(req), *(v.shape for v in inputs.values()))
        if shape in seen:
            req.infer(inputs, share_inputs=True)
        else:
            with _FIRST_RUN:  # this request's first run at this shape (see _FIRST_RUN)
                req.infer(inputs, share_inputs=True)
            seen.add(shape)
        return [req.get_output_tensor(i).data.copy() for i in index]

    def run(self, output_names: list[str] | None, feeds: dict[str, np.ndarray]) -> list[np.ndarray]:
        index = [self._index[n] for n in output_names] if output_names else range(len(self._index))
        if self.per_item is not None:
            req = self._request("item")
            (name, x), n = next(iter(feeds.items())), len(next(iter(feeds.values())))
            if n == 1:
                return self._infer(req, feeds, index)
            parts = [self._infer(req, {name: x[i : i + 1]}, index) for i in range(n)]
            return [np.concatenate(outs) for outs in zip(*parts, strict=True)]
        shape = next(iter(feeds.values())).shape if len(feeds) == 1 else ()
        return self._infer(self._request(shape if shape in self.static else ()), feeds, index)


@cache
def _core() -> Any:
    import openvino as ov

    return ov.Core()


def onnxruntime_session(model: bytes, intra_op_threads: int) -> Any:
    """An onnxruntime CPU session over model bytes: ``intra_op_threads`` threads, one call at a
    time inside it, all graph optimisations, warnings off."""
    import onnxruntime as ort

    opts = ort.SessionOptions()
    opts.intra_op_num_threads = intra_op_threads
    opts.inter_op_num_threads = 1
    opts.execution_mode = ort.ExecutionMode.ORT_SEQUENTIAL
    opts.graph_optimization_level = ort.GraphOptimizationLevel.ORT_ENABLE_ALL
    opts.log_severity_level = 3
    return ort.InferenceSession(model, sess_options=opts, providers=["CPUExecutionProvider"])


def open_session(
    model: bytes,
    choice: Choice,
    intra_op_threads: int = 1,
    streams: int = 1,
    fast_prelu: bool = True,
    shapes: tuple[tuple[int, ...], ...] = (),
) -> Any:
    """A session of verified model bytes on the chosen backend.

    ``fast_prelu`` rewrites PRelu for onnxruntime only (OpenVINO runs the original graph faster,
    docs/performance.md). ``streams``: how many calls may run at the same time (OpenVINO; an
    onnxruntime session is re-entrant by itself). ``shapes``: input shapes that OpenVINO also
    compiles with fixed dimensions (single-input models), at start-up; a model whose only
    dynamic dimension is the batch is compiled for batch 1 only."""
    if choice.backend == "onnxruntime":
        if fast_prelu:
            model = prelu_as_relu(model)
        return onnxruntime_session(model, intra_op_threads)
    core = _core()
    graph = core.read_model(model, b"")  # from memory: the verified bytes, weights inside
    config = {
        "INFERENCE_PRECISION_HINT": choice.precision,
        "NUM_STREAMS": max(1, streams),
        "INFERENCE_NUM_THREADS": max(1, streams) * max(1, intra_op_threads),
        "ENABLE_CPU_PINNING": False,  # a shared host: let the OS place the threads
    }
    dims = list(graph.inputs[0].get_partial_shape()) if len(graph.inputs) == 1 else []
    if dims and dims[0].is_dynamic and all(d.is_static for d in dims[1:]):
        # only the batch is dynamic: compile for batch 1 alone (fixed shapes are faster, and
        # one compiled graph less is ~25 MB less resident memory)
        graph.reshape({0: [1, *(d.get_length() for d in dims[1:])]})
        return OpenVINOSession(None, per_item=core.compile_model(graph, "CPU", config))
    static = {}
    for shape in shapes:
        fixed = core.read_model(model, b"")
        fixed.reshape({0: list(shape)})
        static[tuple(shape)] = core.compile_model(fixed, "CPU", config)
    return OpenVINOSession(core.compile_model(graph, "CPU", config), static)


# -- drift of a backend's embeddings against onnxruntime fp32 ---------------------------------
# The calibration file's thresholds were fitted on onnxruntime fp32 embeddings, so a backend
# may serve them only while its pair scores stay close to those. Bounds (measured and argued in
# docs/performance.md, "Accuracy gate"): the photo-photo thresholds are 0.063 apart for each
# factor 10 of FAR, so a systematic score shift s moves the FAR by 10^(s/0.063): |mean shift|
# ≤ 0.01 keeps the 0.1 % target within ×1.45 (inside the 0.03-0.3 % band). Single faces and
# pairs may move more (rounding noise, not a shift of the impostor tail): the two other bounds
# hold for every face of a set of ordinary photos (tests/test_backend.py), and over all of LFW
# for 99.9 % of the embeddings and 99 % of the pairs (OpenVINO bf16: 0.1 % quantile of the
# cosine 0.9944, pair |shift| p99 0.008, the worst single image 0.967 and pair 0.042).
EMBEDDING_COS_MIN = 0.99  # each embedding against its onnxruntime fp32 twin
PAIR_SHIFT_MAX = 0.03  # largest |score change| of one pair
MEAN_SHIFT_MAX = 0.01  # |mean signed score change| over the pairs


@dataclass(frozen=True)
class Drift:
    min_cos: float  # lowest per-embedding cosine to the reference
    mean_cos: float
    max_pair_shift: float  # largest |Δ score| over all pairs of the set
    mean_pair_shift: float  # mean signed Δ score

    @property
    def within_bounds(self) -> bool:
        return (
            self.min_cos >= EMBEDDING_COS_MIN
            and self.max_pair_shift <= PAIR_SHIFT_MAX
            and abs(self.mean_pair_shift) <= MEAN_SHIFT_MAX
        )


def drift(ref: np.ndarray, got: np.ndarray) -> Drift:
    """How far unit embeddings ``got`` (N × D) are from ``ref`` (onnxruntime fp32, same faces):
    per embedding, and on the scores of all N(N-1)/2 pairs of the set."""
    cos = np.sum(ref * got, axis=1)
    iu = np.triu_indices(len(ref), 1)
    shift = (got @ got.T)[iu] - (ref @ ref.T)[iu]
    return Drift(
        float(cos.min()),
        float(cos.mean()),
        float(np.abs(shift).max()) if shift.size else 0.0,
        float(shift.mean()) if shift.size else 0.0,
    )
