"""The blur flag on a human scale: a ladder of known blur relative to the face.

A person calls a face blurred from its look, not from whether a recogniser still matches it. So
the faces are blurred by a known amount *relative to the face* (Gaussian σ, motion length and
defocus radius as fractions of the eye distance), in the shape a client sends them: a
120×165 crop around the face, blurred, scaled up ×3 and pasted on a 560×600 canvas, sent as
JPEG q95, then through the server's detection and alignment. The flag is placed as high as the
false-flag budget allows on sharp and natural faces of the *fit* half of the people, and every
figure is reported on the other half and on populations that were not used to fit it.

Populations (``../shared/datasets``): LFW (one photo per person) and faces94 are split in
people-disjoint halves by a hash of the name; kpop (tight 160 px idol crops, East Asian) and
korean-family (128 px, adults, often old scanned photos) are never used to fit.

The cut's *second reason* ("too blurred to compare reliably") is the verification-failure rule
of :mod:`facecompare.lab.fit.blur`, carried over unchanged.
"""

from __future__ import annotations

import datetime as dt
import hashlib
from collections.abc import Callable
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import cv2
import numpy as np

from ... import quality
from ...compare import Engine
from ..data.datasets import identity, lfw_images
from ..data.phones import phone_photo
from ..measure.evaluate import PIPELINE_SOURCES, cache_dir, source_hash
from .blur import disk_kernel, half_of, motion_kernel

LADDER_VERSION = 1
CROP_W, CROP_H = 120, 165  # the crop a client cuts around the face
SENT_UP = 3  # then scales up ×3 …
CANVAS = (560, 600)  # … onto a canvas (width, height) at or above the API's 480×480
SEND_QUALITY = 95
CROP_IOD = (34.0, 48.0)  # eye distance in the 120 px crop (drawn per face; never upsampled)

# family → strengths as a fraction of the eye distance (inter-ocular distance, IOD) in the crop
LADDER: dict[str, list[float]] = {
    "gaussian": [0.0125, 0.025, 0.0325, 0.04, 0.05, 0.075],  # σ / IOD
    "motion": [0.05, 0.1, 0.15, 0.2, 0.3, 0.45],  # length / IOD, random direction
    "defocus": [0.025, 0.04, 0.055, 0.07, 0.1, 0.15],  # disk radius / IOD
}
UNITS = {"gaussian": "σ / IOD", "motion": "length / IOD", "defocus": "radius / IOD"}
# where a person already calls the face soft (eye corners, eyelashes and skin texture gone),
# and the strong levels (features smeared, blurred at a glance): docs/blur.md shows them
SOFT = {"gaussian": 0.0325, "motion": 0.15, "defocus": 0.055}
STRONG = {"gaussian": (0.05, 0.075), "motion": (0.3, 0.45), "defocus": (0.1, 0.15)}
FALSE_FLAG_BUDGET = 0.01  # fit half: at most 1 % of sharp faces and of natural photos flagged
HUMAN_SCORE = "reblur_min"
# the verification-failure rule's directional_min, contrast-normalised (same value for faces of
# ordinary contrast, so its threshold carries over; dark photos are not taken for blurred ones)
SECOND_SCORE = "directional_min_norm"

# not blur: each applied to the natural photo as sent (report half and untuned populations)
ROBUSTNESS = ("jpeg70", "jpeg85", "grey", "dark", "lowcontrast", "face125", "face1000")
FIT_POPULATIONS = ("lfw", "faces94")
POPULATIONS = ("lfw", "faces94", "kpop", "korean")
NATURAL = ("natural", "phone")  # phone: LFW pasted on a cluttered 1280×960 frame with noise


@dataclass(frozen=True)
class Face:
    population: str
    person: str
    path: str
    half: str  # fit / report / untuned


def _person_half(population: str, person: str) -> str:
    if population not in FIT_POPULATIONS:
        return "untuned"
    return half_of(person if population == "lfw" else f"{population}/{person}")


def select_faces(root: Path, per_population: int = 150, seed: int = 20261201) -> list[Face]:
    """Photos of each population (LFW: one per person, ``2 × per_population`` people)."""
    rng = np.random.default_rng(seed)
    out: list[Face] = []
    lfw = root / "lfw"
    by: dict[str, list[str]] = {}
    for p in lfw_images(lfw):
        by.setdefault(identity(p), []).append(p)
    for name in sorted(rng.choice(sorted(by), 2 * per_population, replace=False)):
        out.append(Face("lfw", name, str(lfw / "images" / by[name][0]), half_of(name)))
    for pop in ("faces94", "kpop"):
        files = sorted(p for p in (root / pop).glob("*/*") if p.suffix.lower() in (".jpg", ".png"))
        for i in sorted(rng.choice(len(files), min(per_population, len(files)), replace=False)):
            f = files[i]
            out.append(Face(pop, f.parent.name, str(f), _person_half(pop, f.parent.name)))
    adults = sorted(
        p for p in (root / "korean-family").glob("*.jpg") if p.stem.split("_")[-1][0] in "defg"
    )
    for i in sorted(rng.choice(len(adults), min(per_population, len(adults)), replace=False)):
        f = adults[i]
        person = "_".join(f.stem.split("_")[:3:2])  # family + role
        out.append(Face("korean", person, str(f), "untuned"))
    return out


def _read(face: Face) -> np.ndarray:
    img = cv2.imread(face.path, cv2.IMREAD_COLOR)
    if img is None:
        raise FileNotFoundError(face.path)
    if face.population == "kpop":  # tight face crops: give the detector some context
        pad = int(0.4 * max(img.shape[:2]))
        img = cv2.copyMakeBorder(img, pad, pad, pad, pad, cv2.BORDER_REPLICATE)
    return img


def native_landmarks(engine: Engine, img: np.ndarray) -> np.ndarray | None:
    """The 5 alignment points of the central face at the photo's native scale."""
    h, w = img.shape[:2]
    f = max(1.0, 500 / min(h, w))
    up = cv2.resize(img, (round(w * f), round(h * f)), interpolation=cv2.INTER_CUBIC)
    faces = engine.pipeline.faces(up, 0)
    if not faces:
        return None
    c = np.array([up.shape[1] / 2, up.shape[0] / 2])
    face = min(
        faces, key=lambda fa: float(np.hypot(*(np.asarray(fa.box[:2] + fa.box[2:]) - 2 * c)))
    )
    return engine.pipeline.alignment_points(up, face) / f


def iod(marks: np.ndarray) -> float:
    return float(np.hypot(*(marks[1] - marks[0])))


# -- what a client sends ---------------------------------------------------------------------
def client_crop(img: np.ndarray, marks: np.ndarray, target_iod: float) -> tuple[np.ndarray, float]:
    """The 120×165 crop around the face (eye distance ``target_iod`` or the native one when
    smaller: never upsampled) and the eye distance in it."""
    s = min(1.0, target_iod / iod(marks))
    centre = ((marks[0] + marks[1]) / 2 + (marks[3] + marks[4]) / 2) / 2 * s
    if s < 1:
        img = cv2.resize(img, None, fx=s, fy=s, interpolation=cv2.INTER_AREA)
    m = np.float32([[1, 0, CROP_W / 2 - centre[0]], [0, 1, 0.55 * CROP_H - centre[1]]])
    crop = cv2.warpAffine(
        img, m, (CROP_W, CROP_H), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
    )
    return crop, iod(marks) * s


def blur(img: np.ndarray, family: str, strength: float, eye_distance: float, seed: int = 0):
    """Blur of ``strength`` × the eye distance (``gaussian`` σ, ``motion`` length, ``defocus``
    disk radius)."""
    px = strength * eye_distance
    if family == "gaussian":
        return cv2.GaussianBlur(img, (0, 0), px)
    if family == "motion":
        angle = np.random.default_rng(seed).uniform(0, 180)
        k = motion_kernel(max(1.0, px), angle)
        return cv2.filter2D(img, -1, k, borderType=cv2.BORDER_REFLECT)
    if family == "defocus":
        return cv2.filter2D(img, -1, disk_kernel(px), borderType=cv2.BORDER_REFLECT)
    raise ValueError(f"unknown blur family {family!r}")


def on_canvas(crop: np.ndarray, up: int = SENT_UP, canvas: tuple[int, int] = CANVAS) -> np.ndarray:
    """The crop scaled up ×``up`` (bicubic) in the middle of a light grey canvas."""
    big = cv2.resize(crop, None, fx=up, fy=up, interpolation=cv2.INTER_CUBIC)
    w, h = max(canvas[0], big.shape[1]), max(canvas[1], big.shape[0])
    out = np.full((h, w, 3), 235, np.uint8)
    y, x = (h - big.shape[0]) // 2, (w - big.shape[1]) // 2
    out[y : y + big.shape[0], x : x + big.shape[1]] = big
    return out


def jpeg(img: np.ndarray, q: int = SEND_QUALITY) -> bytes:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, q])
    if not ok:
        raise RuntimeError("JPEG encoding failed")
    return buf.tobytes()


def natural_photo(img: np.ndarray) -> np.ndarray:
    """The photo as a client sends it: scaled up (bicubic) until its shorter side is 480."""
    h, w = img.shape[:2]
    f = max(1.0, 480 / min(h, w))
    return cv2.resize(img, (round(w * f), round(h * f)), interpolation=cv2.INTER_CUBIC)


def robust_variant(img: np.ndarray, marks: np.ndarray, kind: str) -> tuple[np.ndarray, int]:
    """A natural photo changed in a way that is not blur; returns the image and JPEG quality."""
    if kind.startswith("jpeg"):
        return natural_photo(img), int(kind[4:])
    if kind == "grey":
        g = cv2.cvtColor(img, cv2.COLOR_BGR2GRAY)
        return natural_photo(cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)), SEND_QUALITY
    if kind == "dark":  # under-exposed: gamma 2.2 darker and 40 % of the light
        out = 255 * 0.4 * (img.astype(np.float32) / 255) ** 2.2
        return natural_photo(out.astype(np.uint8)), SEND_QUALITY
    if kind == "lowcontrast":  # a third of the contrast around mid grey
        out = 128 + (img.astype(np.float32) - 128) / 3
        return natural_photo(out.astype(np.uint8)), SEND_QUALITY
    if kind.startswith("face"):  # the face box at about this many pixels (box ≈ 2.3 × IOD)
        s = int(kind[4:]) / (2.3 * iod(marks))
        big = cv2.resize(
            img, None, fx=s, fy=s, interpolation=cv2.INTER_CUBIC if s > 1 else cv2.INTER_AREA
        )
        h, w = big.shape[:2]
        py, px = max(0, (480 - h + 1) // 2), max(0, (480 - w + 1) // 2)
        if py or px:  # small: on a 480 px canvas
            big = cv2.copyMakeBorder(big, py, py, px, px, cv2.BORDER_REPLICATE)
        return big, SEND_QUALITY
    raise ValueError(f"unknown variant {kind!r}")


def conditions() -> list[tuple[str, float]]:
    out: list[tuple[str, float]] = [("sharp", 0.0), ("natural", 0.0), ("phone", 0.0)]
    out += [(fam, lv) for fam, levels in LADDER.items() for lv in levels]
    out += [(kind, 0.0) for kind in ROBUSTNESS]
    return out


def applies(face: Face, family: str) -> bool:
    if family == "phone":
        return face.population == "lfw"
    if family in ROBUSTNESS:
        return face.half != "fit"
    return True


def sent_image(face: Face, marks: np.ndarray, family: str, level: float, seed: int) -> bytes:
    """The bytes a client would send for this face under this condition."""
    img = _read(face)
    if face.population == "kpop":
        pad = int(0.4 * 160)
        marks = marks + pad
    if family == "natural":
        base = cv2.imread(face.path, cv2.IMREAD_COLOR)
        if face.population == "kpop":  # a tight face crop: the client's photo shows more
            base = img
        return jpeg(natural_photo(base))
    if family == "phone":
        return jpeg(phone_photo(img, np.random.default_rng(seed)), 90)
    if family in ROBUSTNESS:
        out, q = robust_variant(img, marks, family)
        return jpeg(out, q)
    rng = np.random.default_rng(seed)
    crop, eye = client_crop(img, marks, float(rng.uniform(*CROP_IOD)))
    if family != "sharp":
        crop = blur(crop, family, level, eye, seed)
    return jpeg(on_canvas(crop))


# -- measuring (cached) ----------------------------------------------------------------------
def server_crop(engine: Engine, data: bytes) -> np.ndarray | None:
    """The aligned crop the server scores: the largest qualifying face, full-scale decode."""
    img = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
    found = engine.pipeline.largest_face(img, engine.settings.min_face)
    return None if found is None else found.crop


def _key(engine: Engine, *parts: str) -> str:
    src = source_hash(*PIPELINE_SOURCES, "lab/data/phones.py")
    text = "\n".join([engine.pack.digest, src, str(LADDER_VERSION), *parts])
    return hashlib.sha256(text.encode()).hexdigest()[:20]


def landmarks_of(engine: Engine, faces: list[Face], threads: int = 2) -> np.ndarray:
    """Native landmarks per face (nan where no face), cached."""
    cache = cache_dir() / f"blurladder-marks-{_key(engine, *(f.path for f in faces))}.npy"
    if cache.exists():
        return np.load(cache)
    with ThreadPoolExecutor(threads) as pool:
        res = list(pool.map(lambda f: native_landmarks(engine, _read(f)), faces))
    out = np.full((len(faces), 5, 2), np.nan, np.float32)
    for i, (f, m) in enumerate(zip(faces, res, strict=True)):
        if m is not None:
            out[i] = m - (int(0.4 * 160) if f.population == "kpop" else 0)
    cache.parent.mkdir(parents=True, exist_ok=True)
    np.save(cache, out)
    return out


@dataclass
class Ladder:
    faces: list[Face]
    conditions: list[tuple[str, float]]
    found: dict[tuple[str, float], np.ndarray]  # per condition, per face (False: no face / n.a.)
    scores: dict[tuple[str, float], dict[str, np.ndarray]]  # condition → score name → values

    def sel(self, cond: tuple[str, float], pops: tuple[str, ...], halves: tuple[str, ...]):
        keep = np.array([f.population in pops and f.half in halves for f in self.faces])
        return keep & self.found[cond]


def measure_ladder(
    engine: Engine,
    root: Path,
    per_population: int = 150,
    threads: int = 2,
    progress: Callable[[str], None] | None = None,
) -> Ladder:
    faces = select_faces(root, per_population)
    marks = landmarks_of(engine, faces, threads)
    ok = ~np.isnan(marks[:, 0, 0])
    faces = [f for f, k in zip(faces, ok, strict=True) if k]
    marks = marks[ok]
    conds = conditions()
    found: dict[tuple[str, float], np.ndarray] = {}
    scores: dict[tuple[str, float], dict[str, np.ndarray]] = {}
    for family, level in conds:
        todo = [i for i, f in enumerate(faces) if applies(f, family)]
        key = _key(engine, family, repr(level), *(faces[i].path for i in todo))
        cache = cache_dir() / f"blurladder-{key}.npz"
        if cache.exists():
            z = np.load(cache)
            crops, got = z["crops"], z["found"]
        else:

            def one(i: int, family: str = family, level: float = level) -> np.ndarray | None:
                crop = server_crop(engine, sent_image(faces[i], marks[i], family, level, i))
                return None if crop is None else cv2.cvtColor(crop, cv2.COLOR_BGR2GRAY)

            with ThreadPoolExecutor(threads) as pool:
                res = list(pool.map(one, todo))
            got = np.array([r is not None for r in res], bool)
            crops = np.stack([r if r is not None else np.zeros((112, 112), np.uint8) for r in res])
            cache.parent.mkdir(parents=True, exist_ok=True)
            np.savez_compressed(cache, crops=crops, found=got)
        f_all = np.zeros(len(faces), bool)
        f_all[todo] = got
        found[(family, level)] = f_all
        s_all: dict[str, np.ndarray] = {}
        for name, fn in quality.CROP_SCORES.items():
            v = np.full(len(faces), np.nan, np.float32)
            v[todo] = [fn(c) if g else np.nan for c, g in zip(crops, got, strict=True)]
            s_all[name] = v
        scores[(family, level)] = s_all
        if progress:
            progress(f"{family} {level:g}: {int(got.sum())}/{len(todo)} faces")
    return Ladder(faces, conds, found, scores)


# -- the cut ---------------------------------------------------------------------------------
def flags(lad: Ladder, cond: tuple[str, float], rules: list[dict[str, Any]]) -> np.ndarray:
    """Per face: flagged by any rule (score < threshold)."""
    out = np.zeros(len(lad.faces), bool)
    for r in rules:
        out |= lad.scores[cond][r["score"]] < r["threshold"]
    return out


def fit_threshold(lad: Ladder, name: str, budget: float = FALSE_FLAG_BUDGET) -> float:
    """The largest threshold that flags at most ``budget`` of the fit half's sharp faces and
    at most ``budget`` of its natural photos (the cut is as strict as the budget allows)."""
    ts = []
    for group in (("sharp",), NATURAL):
        vals = np.concatenate(
            [
                lad.scores[(g, 0.0)][name][lad.sel((g, 0.0), FIT_POPULATIONS, ("fit",))]
                for g in group
            ]
        )
        s = np.sort(vals)
        ts.append(float(s[int(np.floor(budget * s.size))]))
    return min(ts)


def rate(lad: Ladder, cond, rules, pops=POPULATIONS, halves=("report", "untuned")) -> dict:
    sel = lad.sel(cond, pops, halves)
    n = int(sel.sum())
    f = flags(lad, cond, rules)[sel]
    return {"n": n, "flagged": round(float(f.mean()), 4) if n else None}


def report(lad: Ladder, rules: list[dict[str, Any]]) -> dict[str, Any]:
    """Every figure on faces not used to fit: the report half and the untuned populations."""
    per_pop: dict[str, Any] = {}
    for pop in POPULATIONS:
        halves = ("report",) if pop in FIT_POPULATIONS else ("untuned",)
        per_pop[pop] = {
            f"{fam}" + (f" {lv:g}" if fam in LADDER else ""): rate(
                lad, (fam, lv), rules, (pop,), halves
            )
            for fam, lv in lad.conditions
            if any(applies(f, fam) for f in lad.faces if f.population == pop)
        }
    curves = {
        fam: {
            "unit": UNITS[fam],
            "levels": [
                {
                    "level": lv,
                    **rate(lad, (fam, lv), rules, FIT_POPULATIONS, ("report",)),
                    "untuned": rate(lad, (fam, lv), rules, ("kpop", "korean"), ("untuned",)),
                }
                for lv in levels
            ],
        }
        for fam, levels in LADDER.items()
    }

    def pooled(conds, pops, halves):
        sel = [(lad.sel(c, pops, halves), flags(lad, c, rules)) for c in conds]
        n = sum(int(s.sum()) for s, _ in sel)
        k = sum(int(f[s].sum()) for s, f in sel)
        return {"n": n, "flagged": round(k / n, 4) if n else None}

    rep = ("report",)
    return {
        "strong_flagged": pooled(
            [(f, lv) for f, lvs in STRONG.items() for lv in lvs], FIT_POPULATIONS, rep
        ),
        "soft_flagged": pooled([(f, lv) for f, lv in SOFT.items()], FIT_POPULATIONS, rep),
        "sharp_flagged": pooled([("sharp", 0.0)], FIT_POPULATIONS, rep),
        "natural_flagged": pooled([(n, 0.0) for n in NATURAL], FIT_POPULATIONS, rep),
        "untuned_sharp_flagged": pooled([("sharp", 0.0)], ("kpop", "korean"), ("untuned",)),
        "untuned_natural_flagged": pooled([("natural", 0.0)], ("kpop", "korean"), ("untuned",)),
        "robustness_flagged": {
            k: pooled([(k, 0.0)], POPULATIONS, ("report", "untuned")) for k in ROBUSTNESS
        },
        "per_population": per_pop,
        "curves": curves,
    }


def second_rule(old: dict[str, Any] | None) -> dict[str, Any] | None:
    """The verification-failure rule ("too blurred to compare reliably") of the current file:
    its ``second`` entry, or the whole section when it still has the old shape."""
    if not old:
        return None
    if "second" in old:
        return old["second"]
    if old.get("score") in ("directional_min", SECOND_SCORE):
        keep = ("threshold", "basis", "created", "command", "err_01_cosine", "report")
        rule = {k: old[k] for k in keep if k in old}
        return {"reason": "too blurred to compare reliably", "score": SECOND_SCORE, **rule}
    return None


def build_section(lad: Ladder, old: dict[str, Any] | None) -> dict[str, Any]:
    t = fit_threshold(lad, HUMAN_SCORE)
    primary = {"score": HUMAN_SCORE, "threshold": round(t, 6)}
    second = second_rule(old)
    rules = [primary] + ([second] if second else [])
    n_fit = {
        g: int(sum(lad.sel((g, 0.0), FIT_POPULATIONS, ("fit",)).sum() for g in grp))
        for g, grp in (("sharp", ("sharp",)), ("natural", NATURAL))
    }
    return {
        "score": HUMAN_SCORE,
        "threshold": round(t, 6),
        "flag": "score < threshold, or the second rule's score < its threshold",
        "reason": "blurred to a person",
        "basis": f"largest threshold flagging ≤ {FALSE_FLAG_BUDGET:.0%} of the fit half's sharp "
        f"faces ({n_fit['sharp']}) and of its natural photos ({n_fit['natural']})",
        "created": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "command": "facecompare calibrate-blur --datasets ../shared/datasets",
        "data": {
            "fit": "LFW and faces94, people of the fit half (hash of the name)",
            "report": "LFW and faces94 report half; kpop and korean-family never fitted",
            "sent": f"{CROP_W}×{CROP_H} crop around the face (eye distance {CROP_IOD[0]:g}–"
            f"{CROP_IOD[1]:g} px, never upsampled), blurred, ×{SENT_UP} bicubic on a "
            f"{CANVAS[0]}×{CANVAS[1]} canvas, JPEG q{SEND_QUALITY}",
            "faces": len(lad.faces),
        },
        "second": second,
        "report": report(lad, rules),
    }


# -- pictures --------------------------------------------------------------------------------
def ladder_picture(
    engine: Engine, root: Path, family: str, out: Path, people: int = 3, seed: int = 7
) -> None:
    """Client crops (120×165, before the ×3) of a few report-half faces along one family."""
    faces = [f for f in select_faces(root, 150) if f.half == "report" and f.population == "lfw"]
    rng = np.random.default_rng(seed)
    rows = []
    for i in rng.choice(len(faces), people, replace=False):
        m = native_landmarks(engine, _read(faces[i]))
        if m is None:
            continue
        crop, eye = client_crop(_read(faces[i]), m, 40.0)
        cells = [crop] + [blur(crop, family, lv, eye, int(i)) for lv in LADDER[family]]
        rows.append(
            np.hstack([np.pad(c, ((0, 2), (0, 2), (0, 0)), constant_values=255) for c in cells])
        )
    head = np.full((22, rows[0].shape[1], 3), 255, np.uint8)
    for j, lv in enumerate([0.0, *LADDER[family]]):
        label = f"{lv:g}" + (" cut" if lv == SOFT[family] else "")
        cv2.putText(
            head,
            label,
            (j * (CROP_W + 2) + 4, 16),
            cv2.FONT_HERSHEY_SIMPLEX,
            0.42,
            (0, 0, 0),
            1,
            cv2.LINE_AA,
        )
    out.parent.mkdir(parents=True, exist_ok=True)
    cv2.imwrite(str(out), np.vstack([head, *rows]), [cv2.IMWRITE_PNG_COMPRESSION, 9])


def curve_table(rep: dict[str, Any]) -> str:
    """Flag rate per family and level (report half; kpop + korean in brackets)."""
    lines = []
    for fam, c in rep["curves"].items():
        cells = []
        for r in c["levels"]:
            f, u = r["flagged"], r["untuned"]["flagged"]
            cells.append(
                f"{r['level']:g}: {'-' if f is None else f'{f * 100:.0f}'}"
                f" ({'-' if u is None else f'{u * 100:.0f}'})"
            )
        lines.append(f"{fam:<9} {c['unit']:<13} " + " · ".join(cells))
    return "\n".join(lines)
