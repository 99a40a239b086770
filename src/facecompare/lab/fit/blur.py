"""``facecompare calibrate-blur``: a blur flag calibrated against verification failure.

LFW faces are degraded (Gaussian, motion and defocus blur, downscale-then-upscale, heavy JPEG)
at increasing strength, always at the photo's native scale, then upscaled 2× to 500×500 (the
API's minimum area) and sent through the server's pipeline (JPEG q95 → detection → alignment →
embedding). For each degraded face we record, against clean photos of the same person, whether
the genuine pair still reaches ``err_01``, plus every candidate quality score of
:mod:`facecompare.quality`.

The people are split in two disjoint halves by a hash of their name: the threshold is fitted on
the ``fit`` half and every reported figure comes from the ``report`` half.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ... import quality
from ...align import align
from ...calibration import PHOTO_PHOTO
from ...compare import Engine
from ..data.datasets import identity, lfw_images
from ..measure.evaluate import PIPELINE_SOURCES, cache_dir, choose, source_hash

DEGRADATION_VERSION = 1
UPSCALED_SIDE = 500  # natural LFW photo (250 px) upscaled to the API's 480×480 minimum and more
SEND_QUALITY = 95  # every image reaches the pipeline as a JPEG, as a client would send it

# family → strengths, in pixels of the native 250 px LFW photo (eye distance ≈ 40 px);
# jpeg: encoder quality (lower is stronger)
LEVELS: dict[str, list[float]] = {
    "gaussian": [1.0, 1.5, 2.0, 2.5, 3.0, 4.0, 5.0, 6.0],  # sigma
    "motion": [4, 6, 9, 12, 16, 20, 25],  # kernel length, random direction
    "defocus": [1.5, 2.0, 3.0, 4.0, 5.0, 6.0, 8.0, 10.0, 12.0],  # disk radius
    "downup": [2, 3, 4, 5, 6, 8, 10, 12, 16],  # downscale factor, then back up
    "jpeg": [20, 10, 6, 3],  # quality
}
BLUR_FAMILIES = ("gaussian", "motion", "defocus", "downup")
LEVEL_UNITS = {
    "gaussian": "sigma, px",
    "motion": "length, px",
    "defocus": "radius, px",
    "downup": "downscale factor",
    "jpeg": "JPEG quality",
}
NATURAL_FLAG_TARGET = 0.01  # at most 1 % of natural (upscaled) LFW photos flagged
RECALL_TARGET = 0.95  # at least 95 % of the faces whose blur breaks their genuine pair flagged
RECALL_AIM = 0.99  # no need to flag more than this share of the fit half's failing faces
CLEAN = ("clean", 0.0)


# -- degradations (pure functions of the native image) ------------------------------------------
def motion_kernel(length: float, angle_deg: float) -> np.ndarray:
    size = int(np.ceil(length)) | 1
    k = np.zeros((size, size), np.float32)
    c = size // 2
    dx, dy = np.cos(np.radians(angle_deg)), np.sin(np.radians(angle_deg))
    for t in np.linspace(-(length - 1) / 2, (length - 1) / 2, 4 * size):
        k[int(round(c + t * dy)), int(round(c + t * dx))] = 1.0
    return k / k.sum()


def disk_kernel(radius: float) -> np.ndarray:
    r = int(np.ceil(radius))
    y, x = np.mgrid[-r : r + 1, -r : r + 1]
    k = (np.hypot(x, y) <= radius).astype(np.float32)
    return k / k.sum()


def degrade(img: np.ndarray, family: str, level: float, seed: int = 0) -> np.ndarray:
    """One degradation at the photo's native scale (``clean`` returns the image)."""
    if family == "clean":
        return img
    if family == "gaussian":
        return cv2.GaussianBlur(img, (0, 0), level)
    if family == "motion":
        angle = np.random.default_rng(seed).uniform(0, 180)
        return cv2.filter2D(img, -1, motion_kernel(level, angle), borderType=cv2.BORDER_REFLECT)
    if family == "defocus":
        return cv2.filter2D(img, -1, disk_kernel(level), borderType=cv2.BORDER_REFLECT)
    if family == "downup":
        h, w = img.shape[:2]
        small = cv2.resize(
            img, (max(1, round(w / level)), max(1, round(h / level))), interpolation=cv2.INTER_AREA
        )
        return cv2.resize(small, (w, h), interpolation=cv2.INTER_CUBIC)
    if family == "jpeg":
        ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(level)])
        assert ok
        return cv2.imdecode(buf, cv2.IMREAD_COLOR)
    raise ValueError(f"unknown degradation {family!r}")


def as_sent(img: np.ndarray, side: int = UPSCALED_SIDE) -> np.ndarray:
    """Upscale to ``side``×``side`` and round-trip through JPEG q95, as a client sends it."""
    up = cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", up, [cv2.IMWRITE_JPEG_QUALITY, SEND_QUALITY])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


# -- the sample --------------------------------------------------------------------------------
def half_of(person: str) -> str:
    """People-disjoint halves, stable across runs and machines."""
    return "fit" if hashlib.sha256(person.encode()).digest()[0] % 2 == 0 else "report"


@dataclass(frozen=True)
class Sample:
    probes: list[str]  # one photo per person, degraded
    refs: list[list[str]]  # clean photos of the same person (up to 3)
    naturals: list[str]  # clean photos for the false-flag rate (probes + refs + others)
    halves: dict[str, str]  # path → fit / report


def make_sample(lfw_root: Path, people_per_half: int, naturals_per_half: int) -> Sample:
    paths = lfw_images(lfw_root)
    by_person: dict[str, list[str]] = {}
    for p in paths:
        by_person.setdefault(identity(p), []).append(p)
    rng = np.random.default_rng(20261126)
    probes: list[str] = []
    refs: list[list[str]] = []
    naturals: list[str] = []
    for half in ("fit", "report"):
        people = sorted(n for n in by_person if half_of(n) == half)
        multi = [n for n in people if len(by_person[n]) >= 2]
        chosen = sorted(rng.choice(multi, min(people_per_half, len(multi)), replace=False))
        nat: list[str] = []
        for n in chosen:
            imgs = by_person[n]
            probes.append(imgs[0])
            refs.append(imgs[1:4])
            nat += imgs[:4]
        others = sorted({p for n in people for p in by_person[n]} - set(nat))
        extra = max(0, naturals_per_half - len(nat))
        nat += sorted(rng.choice(others, min(extra, len(others)), replace=False))
        naturals += nat
    halves = {p: half_of(identity(p)) for p in naturals}
    return Sample(probes, refs, naturals, halves)


# -- measuring (cached per condition) ------------------------------------------------------------
@dataclass
class Measured:
    found: np.ndarray  # N bools: a face was detected
    emb: np.ndarray  # N × 512 L2-normalised (zero rows where no face)
    scores: dict[str, np.ndarray]  # score name → N values (nan where no face)


def _detect_embed(engine: Engine, img: np.ndarray) -> tuple[np.ndarray, np.ndarray, float] | None:
    """The chosen face's landmarks, embedding and embedding norm (None: no face)."""
    faces = engine.pipeline.faces(img, 0)  # size rule bypassed: LFW faces are the subject
    if not faces:
        return None
    landmarks = engine.pipeline.alignment_points(img, choose(faces, img.shape, "central"))
    emb, norms = engine.pipeline.embedder.embed([align(img, landmarks)])
    return landmarks, emb[0], float(norms[0])


def measure(
    engine: Engine,
    lfw_root: Path,
    paths: list[str],
    family: str,
    level: float,
    threads: int = 2,
) -> Measured:
    """Detection + embedding of every degraded photo (cached: the slow part), then the crop
    scores from the cached landmarks (cached separately, keyed by quality.py's source)."""
    key = hashlib.sha256(
        "\n".join(
            [
                engine.pack.digest,
                source_hash(*PIPELINE_SOURCES),
                str(DEGRADATION_VERSION),
                family,
                repr(level),
                str(engine.settings.det_size),
                str(engine.settings.det_first_size),
                str(engine.settings.det_threshold),
                *paths,
            ]
        ).encode()
    ).hexdigest()[:20]
    cache = cache_dir() / f"blurdet-{engine.pack.digest}-{key}.npz"
    score_cache = cache_dir() / f"blurscore-{key}-{source_hash('quality.py')}.npz"

    def sent(i: int) -> np.ndarray:
        native = cv2.imread(str(lfw_root / "images" / paths[i]), cv2.IMREAD_COLOR)
        return as_sent(degrade(native, family, level, seed=i))

    n = len(paths)
    if cache.exists():
        z = np.load(cache)
        found, emb, norm, marks = z["found"], z["emb"], z["norm"], z["landmarks"]
    else:
        found = np.zeros(n, bool)
        emb = np.zeros((n, engine.pipeline.embedder.dim), np.float32)
        norm = np.full(n, np.nan, np.float32)
        marks = np.zeros((n, 5, 2), np.float32)
        with ThreadPoolExecutor(threads) as pool:
            for i, r in enumerate(pool.map(lambda i: _detect_embed(engine, sent(i)), range(n))):
                if r is not None:
                    found[i], marks[i], emb[i], norm[i] = True, r[0], r[1], r[2]
        cache.parent.mkdir(parents=True, exist_ok=True)
        np.savez(cache, found=found, emb=emb, norm=norm, landmarks=marks)

    if score_cache.exists():
        z = np.load(score_cache)
        scores = {name: z[name] for name in quality.CROP_SCORES}
    else:
        scores = {name: np.full(n, np.nan, np.float32) for name in quality.CROP_SCORES}

        def crop_scores(i: int) -> dict[str, float]:
            crop = align(sent(i), marks[i])
            return {name: fn(crop) for name, fn in quality.CROP_SCORES.items()}

        todo = np.flatnonzero(found)
        with ThreadPoolExecutor(threads) as pool:
            for i, r in zip(todo, pool.map(crop_scores, todo), strict=True):
                for name, v in r.items():
                    scores[name][i] = v
        np.savez(score_cache, **scores)
    scores[quality.EMBEDDING_NORM] = norm
    return Measured(found, emb, scores)


# -- the study -----------------------------------------------------------------------------------
@dataclass
class Condition:
    family: str
    level: float
    half: np.ndarray  # per probe: fit / report
    found: np.ndarray  # per probe
    pairs_tested: np.ndarray  # per probe: genuine pairs that passed err_01 when clean
    pairs_failed: np.ndarray  # per probe: of those, pairs now below err_01 (or no face)
    scores: dict[str, np.ndarray]

    @property
    def fails(self) -> np.ndarray:
        """The degraded face breaks its genuine pairs (a majority of those that passed clean)."""
        return self.found & (self.pairs_tested > 0) & (2 * self.pairs_failed > self.pairs_tested)

    @property
    def usable(self) -> np.ndarray:
        return self.found & (self.pairs_tested > 0) & (2 * self.pairs_failed <= self.pairs_tested)


@dataclass
class Study:
    sample: Sample
    t01: float
    natural_half: np.ndarray
    natural_found: np.ndarray
    natural_scores: dict[str, np.ndarray]
    conditions: list[Condition]


def run_study(
    engine: Engine,
    lfw_root: Path,
    people_per_half: int = 250,
    naturals_per_half: int = 1000,
    threads: int = 2,
    progress: Callable[[str], None] | None = None,
) -> Study:
    sample = make_sample(lfw_root, people_per_half, naturals_per_half)
    t01 = engine.calibrated.threshold_cosines(PHOTO_PHOTO)["err_01"]
    nat = measure(engine, lfw_root, sample.naturals, *CLEAN, threads=threads)
    if progress:
        progress(f"natural photos: {len(sample.naturals)}")
    idx = {p: i for i, p in enumerate(sample.naturals)}
    ref_idx = [[idx[r] for r in rs] for rs in sample.refs]
    probe_idx = [idx[p] for p in sample.probes]
    half = np.array([sample.halves[p] for p in sample.probes])

    def pair_cos(emb: np.ndarray, found: np.ndarray) -> list[np.ndarray]:
        out = []
        for i, rs in enumerate(ref_idx):
            rs = [r for r in rs if nat.found[r]]
            c = nat.emb[rs] @ emb[i] if found[i] else np.full(len(rs), -1.0)
            out.append(c)
        return out

    clean_found = nat.found[probe_idx]
    clean_cos = pair_cos(nat.emb[probe_idx], clean_found)
    passed = [c >= t01 for c in clean_cos]
    conditions = []
    for family, levels in LEVELS.items():
        for level in levels:
            m = measure(engine, lfw_root, sample.probes, family, level, threads=threads)
            cos = pair_cos(m.emb, m.found)
            tested = np.array([int(p.sum()) for p in passed])
            failed = np.array([int((c[p] < t01).sum()) for c, p in zip(cos, passed, strict=True)])
            conditions.append(Condition(family, level, half, m.found, tested, failed, m.scores))
            if progress:
                progress(f"{family} {level:g}: {failed.sum()}/{tested.sum()} genuine pairs fail")
    nat_half = np.array([sample.halves[p] for p in sample.naturals])
    return Study(sample, t01, nat_half, nat.found, nat.scores, conditions)


# -- choosing the score and the threshold --------------------------------------------------------
def natural_threshold(nat_scores: np.ndarray, rate: float = NATURAL_FLAG_TARGET) -> float:
    """Largest threshold flagging (score < t) at most ``rate`` of the natural faces."""
    s = np.sort(nat_scores[np.isfinite(nat_scores)])
    k = int(np.floor(rate * s.size))  # faces we may flag
    return float(s[k]) if k < s.size else float(s[-1])


def recall_threshold(fail_scores: np.ndarray, recall: float) -> float:
    """Smallest threshold flagging (score < t) at least ``recall`` of the failing faces."""
    s = np.sort(fail_scores)
    k = int(np.ceil(recall * s.size))  # faces that must be flagged
    return float(np.nextafter(np.float32(s[k - 1]), np.float32(np.inf))) if k else float(s[0])


def _scores(
    study: Study, name: str, half: str, which: str, families: tuple[str, ...]
) -> np.ndarray:
    out = []
    for c in study.conditions:
        if c.family in families:
            sel = (c.half == half) & getattr(c, which)
            out.append(c.scores[name][sel])
    return np.concatenate(out) if out else np.zeros(0)


def candidate_rows(study: Study) -> list[dict[str, Any]]:
    """Per score: threshold fitted on the fit half at ≤ 1 % natural flags, figures on the
    report half (natural flag rate, recall on failing faces, flags on still-usable faces)."""
    rows = []
    for name in quality.SCORE_NAMES:
        nat_fit = study.natural_scores[name][(study.natural_half == "fit") & study.natural_found]
        nat_rep = study.natural_scores[name][(study.natural_half == "report") & study.natural_found]
        t = natural_threshold(nat_fit)
        blur_fail = _scores(study, name, "report", "fails", BLUR_FAMILIES)
        jpeg_fail = _scores(study, name, "report", "fails", ("jpeg",))
        blur_ok = _scores(study, name, "report", "usable", BLUR_FAMILIES)
        fit_fail = _scores(study, name, "fit", "fails", BLUR_FAMILIES)
        rows.append(
            {
                "score": name,
                "threshold_at_1pct_natural": t,
                "natural_flagged": float((nat_rep < t).mean()),
                "blur_failing_flagged": float((blur_fail < t).mean()),
                "jpeg_failing_flagged": float((jpeg_fail < t).mean()) if jpeg_fail.size else None,
                "blur_usable_flagged": float((blur_ok < t).mean()),
                "threshold_at_95pct_recall": recall_threshold(fit_fail, RECALL_TARGET),
                "natural_flagged_at_95pct_recall": float(
                    (nat_rep < recall_threshold(fit_fail, RECALL_TARGET)).mean()
                ),
            }
        )
    return rows


def choose_threshold(study: Study, name: str) -> tuple[float, str]:
    """The threshold on the fit half: flag as many failing faces as the natural-photo promise
    (≤ 1 % flagged) allows, and no more than needed to flag 99 % of them.

    Per face, a quality score cannot tell a soft face that still verifies from one that no
    longer does at the same blur level, so the 95 % recall target needs a threshold above the
    level where failures begin; the 1 % of natural photos is the budget that bounds it."""
    nat_fit = study.natural_scores[name][(study.natural_half == "fit") & study.natural_found]
    fit_fail = _scores(study, name, "fit", "fails", BLUR_FAMILIES)
    t_aim = recall_threshold(fit_fail, RECALL_AIM)
    t_nat = natural_threshold(nat_fit)
    if t_aim <= t_nat:
        return t_aim, f"{RECALL_AIM:.0%} of the fit half's failing blurred faces flagged"
    recall = float((fit_fail < t_nat).mean())
    return t_nat, (
        f"{NATURAL_FLAG_TARGET:.0%} of the fit half's natural photos flagged "
        f"(flags {recall:.1%} of its failing blurred faces)"
    )


def curves(study: Study, name: str, threshold: float, half: str = "report") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for family in LEVELS:
        rows = []
        for c in (c for c in study.conditions if c.family == family):
            sel = c.half == half
            tested = int(c.pairs_tested[sel].sum())
            found = c.found[sel]
            s = c.scores[name][sel]
            fails = c.fails[sel]
            rows.append(
                {
                    "level": c.level,
                    "images": int(sel.sum()),
                    "genuine_pairs": tested,
                    "pair_fail_rate": round(c.pairs_failed[sel].sum() / max(tested, 1), 4),
                    "no_face_rate": round(float(1 - found.mean()), 4),
                    "failing_faces": int(fails.sum()),
                    "flag_rate": round(float((s[found] < threshold).mean()), 4)
                    if found.any()
                    else None,
                    "failing_flagged": round(float((s[fails] < threshold).mean()), 4)
                    if fails.any()
                    else None,
                    "score_median": round(float(np.nanmedian(s)), 4) if found.any() else None,
                }
            )
        out[family] = {"unit": LEVEL_UNITS[family], "levels": rows}
    return out


def evaluate_threshold(study: Study, name: str, t: float, half: str = "report") -> dict[str, Any]:
    nat = study.natural_scores[name][(study.natural_half == half) & study.natural_found]
    fail = _scores(study, name, half, "fails", BLUR_FAMILIES)
    jfail = _scores(study, name, half, "fails", ("jpeg",))
    per_family = {
        f: round(float((_scores(study, name, half, "fails", (f,)) < t).mean()), 4)
        for f in LEVELS
        if _scores(study, name, half, "fails", (f,)).size
    }
    borderline = []  # levels where fewer than 30 % of the genuine pairs fail: the hard cases
    for c in study.conditions:
        sel = c.half == half
        hard_level = c.pairs_failed[sel].sum() < 0.3 * c.pairs_tested[sel].sum()
        if c.family in BLUR_FAMILIES and hard_level:
            borderline.append(c.scores[name][sel & c.fails])
    hard = np.concatenate(borderline) if borderline else np.zeros(0)
    usable = _scores(study, name, half, "usable", BLUR_FAMILIES)  # degraded, still verifying
    return {
        "half": half,
        "natural_photos": int(nat.size),
        "natural_flagged": round(float((nat < t).mean()), 4),
        "failing_blurred_faces": int(fail.size),
        "failing_blurred_flagged": round(float((fail < t).mean()), 4),
        "failing_jpeg_faces": int(jfail.size),
        "failing_jpeg_flagged": round(float((jfail < t).mean()), 4) if jfail.size else None,
        "failing_flagged_by_family": per_family,
        "usable_blurred_faces": int(usable.size),
        "usable_blurred_flagged": round(float((usable < t).mean()), 4),
        "borderline_failing_faces": int(hard.size),
        "borderline_failing_flagged": round(float((hard < t).mean()), 4) if hard.size else None,
    }


def candidate_table(rows: list[dict[str, Any]]) -> str:
    head = (
        f"{'score':<16} {'t@1%nat':>9} {'nat flag':>9} {'blur-fail':>10} {'jpeg-fail':>10} "
        f"{'usable flag':>11} {'nat@95%rec':>10}"
    )
    lines = [head]
    for r in rows:
        j = r["jpeg_failing_flagged"]
        lines.append(
            f"{r['score']:<16} {r['threshold_at_1pct_natural']:>9.4g} "
            f"{r['natural_flagged'] * 100:>8.2f}% {r['blur_failing_flagged'] * 100:>9.1f}% "
            f"{'-' if j is None else f'{j * 100:.1f}%':>10} "
            f"{r['blur_usable_flagged'] * 100:>10.1f}% "
            f"{r['natural_flagged_at_95pct_recall'] * 100:>9.2f}%"
        )
    return "\n".join(lines)


# -- output --------------------------------------------------------------------------------------
def plot(section: dict[str, Any], out: Path) -> None:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fams = list(section["curves"])
    fig, axes = plt.subplots(1, len(fams), figsize=(4 * len(fams), 3.6), sharey=True)
    for ax, fam in zip(axes, fams, strict=True):
        rows = section["curves"][fam]["levels"]
        x = [r["level"] for r in rows]
        ax.plot(x, [r["pair_fail_rate"] * 100 for r in rows], "o-", label="genuine pairs < err_01")
        ax.plot(x, [r["no_face_rate"] * 100 for r in rows], "s:", label="no face detected")
        ax.plot(x, [(r["flag_rate"] or 0) * 100 for r in rows], "^--", label="faces flagged (blur)")
        ax.set_title(fam)
        ax.set_xlabel(section["curves"][fam]["unit"])
        if fam == "jpeg":
            ax.invert_xaxis()
        ax.grid(alpha=0.3)
    axes[0].set_ylabel("% (report half)")
    axes[0].legend(fontsize=8)
    fig.suptitle(
        f"blur flag: {section['score']} < {section['threshold']:.4g} "
        f"(LFW, degraded at native scale, upscaled to {UPSCALED_SIDE} px)"
    )
    fig.tight_layout()
    out.parent.mkdir(parents=True, exist_ok=True)
    fig.savefig(out, dpi=110)
    plt.close(fig)


def write_section(path: Path, section: dict[str, Any]) -> None:
    """Read-modify-write: only the ``blur`` section of the calibration file changes."""
    data = json.loads(path.read_text())
    data["blur"] = section
    path.write_text(json.dumps(data, indent=2) + "\n")


def build_section(study: Study, name: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    t, basis = choose_threshold(study, name)
    return {
        "score": name,
        "threshold": round(t, 6),
        "flag": "score < threshold",
        "basis": basis,
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "facecompare calibrate-blur --lfw ../shared/datasets/lfw",
        "err_01_cosine": round(study.t01, 6),
        "data": {
            "dataset": "LFW deep-funneled; people split in two halves by a hash of the name",
            "probe_people": len(study.sample.probes),
            "natural_photos": len(study.sample.naturals),
            "degradation": "applied to the native 250 px photo, then upscaled to "
            f"{UPSCALED_SIDE} px and sent as JPEG q{SEND_QUALITY}",
            "failing_face": "a majority of its genuine pairs (to up to 3 clean photos, those "
            "that passed err_01 when clean) fall below err_01",
        },
        "report": evaluate_threshold(study, name, t),
        "candidates": rows,
        "curves": curves(study, name, t),
    }


def best_score(rows: list[dict[str, Any]]) -> str:
    """Most failing blurred faces flagged at the same ≤ 1 % natural flag rate."""
    return max(rows, key=lambda r: r["blur_failing_flagged"])["score"]
