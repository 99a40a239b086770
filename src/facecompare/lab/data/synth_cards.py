"""Synthetic ID-card photos: an LFW portrait printed on a card, the card photographed by a phone.

Layouts: the shared Thai ID template (no MRZ), generated layouts (random colours, text lines,
portrait left or right, optional MRZ and ghost portrait), and the four specimen designs of
``id-documents/designs`` (two ID-card sizes, a passport data page, a residence permit: MIT,
QuickSign/docxpand), whose specimen portrait is replaced. A portrait comes from an LFW image
(``portrait_crop``) or from any photo and its detected face box (``portrait_around``), so the
faces of any population can be put on any layout (``population_card``). Print and re-photograph
effects: halftone, colour shift, lamination glare, blur, noise, JPEG, perspective, rotation
(including 90/180/270 degrees) and a cluttered background. LFW people are split into two
disjoint halves by a hash of their name, so calibration (``train``) and evaluation (``test``)
never share a person.

Nothing is written to disk: cards are rendered on the fly from a seed (the generator is the
artefact, not its output).
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

THAI_TEMPLATE = "templates/thai-id-card-layout.png"
THAI_PORTRAIT_BOX = (760, 300, 980, 580)  # x1, y1, x2, y2 in the 1011 × 636 template
CARD_W, CARD_H = 1011, 638  # ID-1 at about 300 dpi / 2.5
_FONTS = (cv2.FONT_HERSHEY_SIMPLEX, cv2.FONT_HERSHEY_DUPLEX, cv2.FONT_HERSHEY_COMPLEX)
_WORDS = ("NAME", "SURNAME", "GIVEN", "DATE", "BIRTH", "SEX", "NATIONALITY")
_WORDS += ("EXPIRY", "ISSUE", "NO", "ADDRESS", "CITY")


@dataclass(frozen=True)
class Design:
    """A specimen document front: its file (under the id-documents folder) and where its
    portrait is (x1, y1, x2, y2 in the file's pixels); ``ghost``: a faint second portrait."""

    file: str
    portrait: tuple[int, int, int, int]
    ghost: tuple[int, int, int, int] | None = None


DESIGNS = {
    "id_card_td1_a": Design("designs/id_card_td1_a.png", (22, 185, 352, 605)),
    "id_card_td2_a": Design("designs/id_card_td2_a.png", (37, 150, 312, 502)),
    "pp_td3_a": Design("designs/pp_td3_a.png", (16, 138, 308, 515), ghost=(463, 138, 633, 358)),
    "rp_card_td1": Design("designs/rp_card_td1.png", (22, 210, 332, 607)),
}
LAYOUTS = ("thai", "generated", *DESIGNS)
PORTRAIT_ASPECT = 0.78  # width / height of the portrait boxes of the layouts


@dataclass(frozen=True)
class CardSample:
    image: np.ndarray  # the phone photo (BGR)
    person: str  # LFW identity on the card
    source: str  # LFW image used for the portrait (relative to images/)
    rotation: int  # right-angle rotation applied: 0, 90, 180, 270
    layout: str  # "thai" or "generated"
    quad: np.ndarray  # 4 × 2 card corners in the photo


def half_of(person: str) -> str:
    """People-disjoint halves: ``train`` or ``test``, stable across runs and machines."""
    return "train" if hashlib.sha256(person.encode()).digest()[0] % 2 == 0 else "test"


def people_with_pairs(lfw_root: Path, half: str) -> dict[str, list[str]]:
    """People of a half with at least two images → their image paths (relative to images/)."""
    images = lfw_root / "images"
    out: dict[str, list[str]] = {}
    for d in sorted(p for p in images.iterdir() if p.is_dir()):
        if half_of(d.name) != half:
            continue
        files = sorted(f"{d.name}/{f.name}" for f in d.glob("*.jpg"))
        if len(files) >= 2:
            out[d.name] = files
    return out


def portrait_crop(lfw_img: np.ndarray) -> np.ndarray:
    """Head-and-shoulders crop (3:4) around LFW's centred face, as printed on cards."""
    h, w = lfw_img.shape[:2]
    x1, x2 = int(w * 0.24), int(w * 0.76)
    y1, y2 = int(h * 0.17), int(h * 0.17 + (x2 - x1) * 4 / 3)
    return lfw_img[y1 : min(h, y2), x1:x2]


def _paste(dst: np.ndarray, src: np.ndarray, box: tuple[int, int, int, int]) -> None:
    x1, y1, x2, y2 = box
    dst[y1:y2, x1:x2] = cv2.resize(src, (x2 - x1, y2 - y1), interpolation=cv2.INTER_AREA)


def _text_lines(card: np.ndarray, rng: np.random.Generator, area: tuple[int, int, int, int]):
    x1, y1, x2, y2 = area
    y = y1 + int(rng.integers(30, 50))
    colour = tuple(int(c) for c in rng.integers(0, 90, 3))
    while y < y2:
        scale = float(rng.uniform(0.6, 1.1))
        words = " ".join(rng.choice(_WORDS, int(rng.integers(1, 4))))
        if rng.random() < 0.5:
            words += " " + "".join(str(d) for d in rng.integers(0, 10, int(rng.integers(4, 10))))
        font = int(rng.choice(_FONTS))
        cv2.putText(card, words, (x1, y), font, scale, colour, 2 if scale > 0.8 else 1, cv2.LINE_AA)
        y += int(rng.integers(38, 64))


def _mrz_lines(rng: np.random.Generator) -> list[str]:
    """A TD1 (3 × 30) or TD3 (2 × 44) MRZ with valid ICAO 9303 check digits."""
    from ...documents.mrz import check_digit

    letters = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ"))
    alnum = np.array(list("ABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789"))

    def pick(pool: np.ndarray, n: int) -> str:
        return "".join(rng.choice(pool, n))

    def date() -> str:
        return (
            f"{int(rng.integers(0, 100)):02d}{int(rng.integers(1, 13)):02d}"
            f"{int(rng.integers(1, 29)):02d}"
        )

    doc, nat, birth, expiry = pick(alnum, 9), pick(letters, 3), date(), date()
    sex = str(rng.choice(list("MF<")))
    name = pick(letters, int(rng.integers(3, 9))) + "<<" + pick(letters, int(rng.integers(3, 8)))
    d = {f: str(check_digit(f)) for f in (doc, birth, expiry)}
    if rng.random() < 0.5:  # TD1
        l1 = f"I<{nat}{doc}{d[doc]}".ljust(30, "<")
        l2 = f"{birth}{d[birth]}{sex}{expiry}{d[expiry]}{nat}".ljust(29, "<")
        l2 += str(check_digit(l1[5:30] + l2[0:7] + l2[8:15] + l2[18:29]))
        return [l1, l2, name.ljust(30, "<")[:30]]
    l1 = f"P<{nat}{name}".ljust(44, "<")[:44]
    opt = "<" * 14
    l2 = f"{doc}{d[doc]}{nat}{birth}{d[birth]}{sex}{expiry}{d[expiry]}{opt}{check_digit(opt)}"
    l2 += str(check_digit(l2[0:10] + l2[13:20] + l2[21:43]))
    return [l1, l2]


def _mrz(card: np.ndarray, rng: np.random.Generator, y0: int) -> None:
    lines = _mrz_lines(rng)
    scale = 1.25 if len(lines[0]) == 30 else 0.85
    gap = 44 if len(lines) == 3 else 52
    for k, line in enumerate(lines):
        font = cv2.FONT_HERSHEY_SIMPLEX
        cv2.putText(card, line, (30, y0 + k * gap), font, scale, (20, 20, 20), 2)


def generated_card(portrait: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """A random ID-1 layout: pale background, header band, text lines, portrait, maybe MRZ."""
    base = rng.integers(170, 250, 3)
    card = np.empty((CARD_H, CARD_W, 3), np.uint8)
    grad = np.linspace(0, 1, CARD_W)[None, :, None] * rng.integers(-40, 40, 3)
    card[:] = np.clip(base + grad, 0, 255).astype(np.uint8)
    band = tuple(int(c) for c in rng.integers(40, 200, 3))
    cv2.rectangle(card, (0, 0), (CARD_W, int(rng.integers(70, 110))), band, -1)
    cv2.putText(card, "IDENTITY CARD", (40, 65), cv2.FONT_HERSHEY_DUPLEX, 1.4, (255, 255, 255), 2)
    has_mrz = rng.random() < 0.4
    bottom = CARD_H - (150 if has_mrz else 30)
    pw = int(rng.integers(230, 300))
    ph = int(pw * 4 / 3)
    ph = min(ph, bottom - 130)
    pw = int(ph * 3 / 4)
    left = rng.random() < 0.6
    px = 40 if left else CARD_W - 40 - pw
    _paste(card, portrait, (px, 125, px + pw, 125 + ph))
    tx1 = px + pw + 40 if left else 40
    tx2 = CARD_W - 20 if left else px - 20
    _text_lines(card, rng, (tx1, 120, tx2, bottom))
    if rng.random() < 0.5:  # ghost portrait: small, faint
        g = cv2.cvtColor(cv2.resize(portrait, (pw // 3, ph // 3)), cv2.COLOR_BGR2GRAY)
        gx = CARD_W - pw // 3 - 30 if left else tx1 + 300
        roi = card[bottom - ph // 3 - 10 : bottom - 10, gx : gx + pw // 3]
        roi[:] = (0.55 * roi + 0.45 * cv2.cvtColor(g, cv2.COLOR_GRAY2BGR)).astype(np.uint8)
    if has_mrz:
        _mrz(card, rng, CARD_H - 105)
    return card


def thai_card(template: np.ndarray, portrait: np.ndarray) -> np.ndarray:
    card = cv2.resize(template, (CARD_W, CARD_H)).copy()
    sx, sy = CARD_W / template.shape[1], CARD_H / template.shape[0]
    x1, y1, x2, y2 = THAI_PORTRAIT_BOX
    _paste(card, portrait, (int(x1 * sx), int(y1 * sy), int(x2 * sx), int(y2 * sy)))
    return card


def design_card(docs_root: Path, name: str, portrait: np.ndarray) -> np.ndarray:
    """A specimen design with ``portrait`` in its portrait box (and, faded, in its ghost box)."""
    d = DESIGNS[name]
    card = cv2.imread(str(docs_root / d.file), cv2.IMREAD_COLOR)
    if card is None:
        raise FileNotFoundError(docs_root / d.file)
    _paste(card, portrait, d.portrait)
    if d.ghost is not None:
        x1, y1, x2, y2 = d.ghost
        g = cv2.cvtColor(cv2.resize(portrait, (x2 - x1, y2 - y1)), cv2.COLOR_BGR2GRAY)
        roi = card[y1:y2, x1:x2].astype(np.float32)
        card[y1:y2, x1:x2] = (0.6 * roi + 0.4 * g[..., None]).astype(np.uint8)
    return card


def layout_card(
    docs_root: Path, layout: str, portrait: np.ndarray, rng: np.random.Generator
) -> np.ndarray:
    """The printed card of a layout (``LAYOUTS``) holding ``portrait``."""
    if layout == "thai":
        template = cv2.imread(str(docs_root / THAI_TEMPLATE), cv2.IMREAD_COLOR)
        card = thai_card(template, portrait)
    elif layout == "generated":
        card = generated_card(portrait, rng)
    else:
        card = design_card(docs_root, layout, portrait)
    return print_effects(card, rng)


def portrait_around(
    img: np.ndarray, box: np.ndarray, rng: np.random.Generator, min_height: int = 360
) -> np.ndarray:
    """An ID-photo framing of the face in ``box`` (x1, y1, x2, y2): the detected face is about
    half the portrait's height, centred, the outside of the photo filled by its edge pixels;
    scaled up (cubic) to ``min_height`` where smaller, as a printer would."""
    x1, y1, x2, y2 = (float(v) for v in box[:4])
    fh = max(y2 - y1, 1.0)
    height = fh / rng.uniform(0.48, 0.6)
    width = height * PORTRAIT_ASPECT
    cx = (x1 + x2) / 2 + rng.uniform(-0.04, 0.04) * width
    top = (y1 + y2) / 2 - height * rng.uniform(0.46, 0.54)
    left = cx - width / 2
    m = np.float32([[1, 0, -left], [0, 1, -top]])
    out = cv2.warpAffine(
        img, m, (round(width), round(height)), flags=cv2.INTER_LINEAR,
        borderMode=cv2.BORDER_REPLICATE,
    )  # fmt: skip
    if out.shape[0] < min_height:
        s = min_height / out.shape[0]
        out = cv2.resize(out, (round(out.shape[1] * s), min_height), interpolation=cv2.INTER_CUBIC)
    return out


def population_card(
    img: np.ndarray,
    box: np.ndarray,
    docs_root: Path,
    layout: str,
    seed: int,
    person: str = "",
    source: str = "",
) -> CardSample:
    """A phone photo of a card of ``layout`` whose portrait is the face in ``box`` of ``img``
    (any population's photo, as a client would send it)."""
    rng = np.random.default_rng(seed)
    card = layout_card(docs_root, layout, portrait_around(img, box, rng), rng)
    rotation = pick_rotation(rng)
    size = (1280, 960) if rng.random() < 0.7 else (1600, 1200)
    photo, quad = photograph(card, rng, rotation, size)
    return CardSample(photo, person, source, rotation, layout, quad)


def print_effects(card: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """Printing: colour shift, maybe halftone dots."""
    out = card.astype(np.float32)
    out = out * rng.uniform(0.85, 1.1, 3) + rng.uniform(-15, 15, 3)
    if rng.random() < 0.3:
        period = int(rng.integers(3, 5))
        yy, xx = np.mgrid[: card.shape[0], : card.shape[1]]
        dots = (np.sin(xx * np.pi / period) * np.sin(yy * np.pi / period)) * 18
        out = out + dots[..., None]
    return np.clip(out, 0, 255).astype(np.uint8)


def cluttered_background(h: int, w: int, rng: np.random.Generator) -> np.ndarray:
    """A desk-like scene without faces: gradient, blobs, lines, a few text-free rectangles."""
    bg = np.empty((h, w, 3), np.float32)
    a, b = rng.uniform(20, 220, 3), rng.uniform(20, 220, 3)
    t = np.linspace(0, 1, w)[None, :, None]
    bg[:] = a * (1 - t) + b * t
    bg = bg.astype(np.uint8)
    for _ in range(int(rng.integers(3, 12))):
        colour = tuple(int(c) for c in rng.integers(0, 255, 3))
        kind = rng.integers(0, 3)
        p = (int(rng.integers(0, w)), int(rng.integers(0, h)))
        if kind == 0:
            cv2.circle(bg, p, int(rng.integers(10, w // 6)), colour, -1)
        elif kind == 1:
            q = (int(rng.integers(0, w)), int(rng.integers(0, h)))
            cv2.line(bg, p, q, colour, int(rng.integers(1, 8)))
        else:
            q = (p[0] + int(rng.integers(20, w // 4)), p[1] + int(rng.integers(20, h // 4)))
            cv2.rectangle(bg, p, q, colour, -1)
    noise = rng.normal(0, 6, bg.shape)
    return np.clip(cv2.GaussianBlur(bg, (0, 0), 2) + noise, 0, 255).astype(np.uint8)


def photograph(
    card: np.ndarray,
    rng: np.random.Generator,
    rotation: int,
    out_size: tuple[int, int],
    blur: float = 0.0,
) -> tuple[np.ndarray, np.ndarray]:
    """The card as a phone photo: perspective on clutter, glare, blur, noise, then rotation.
    ``blur``: a Gaussian σ (px of the photo) on top of the random lens blur (an out-of-focus or
    shaken shot); the random draws are the same, so ``blur=0`` is the ordinary photo."""
    w, h = out_size  # landscape frame before the right-angle rotation
    ch, cw = card.shape[:2]
    frac = rng.uniform(0.45, 0.85)  # card width / frame width
    dw = frac * w
    dh = dw * ch / cw
    cx = rng.uniform(dw / 2 + 10, w - dw / 2 - 10)
    cy = rng.uniform(dh / 2 + 10, max(dh / 2 + 11, h - dh / 2 - 10))
    angle = np.deg2rad(rng.uniform(-12, 12))
    rect = np.array([[-dw / 2, -dh / 2], [dw / 2, -dh / 2], [dw / 2, dh / 2], [-dw / 2, dh / 2]])
    rot = np.array([[np.cos(angle), -np.sin(angle)], [np.sin(angle), np.cos(angle)]])
    quad = rect @ rot.T + [cx, cy]
    quad += rng.normal(0, 0.03 * dw, quad.shape)  # perspective
    src = np.array([[0, 0], [cw - 1, 0], [cw - 1, ch - 1], [0, ch - 1]], np.float32)
    m = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    bg = cluttered_background(h, w, rng)
    warped = cv2.warpPerspective(card, m, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((ch, cw), 255, np.uint8), m, (w, h))
    photo = np.where(mask[..., None] > 127, warped, bg)
    img = photo.astype(np.float32)
    # lighting: a gradient and sometimes a lamination glare spot
    yy, xx = np.mgrid[:h, :w]
    img *= rng.uniform(0.6, 1.15) + rng.uniform(-0.2, 0.2) * (xx / w)[..., None]
    if rng.random() < 0.5:
        gx, gy = rng.uniform(0, w), rng.uniform(0, h)
        r = rng.uniform(0.05, 0.2) * w
        glare = np.exp(-((xx - gx) ** 2 + (yy - gy) ** 2) / (2 * r * r)) * rng.uniform(60, 160)
        img += (glare * (mask > 127))[..., None]
    img += rng.normal(0, rng.uniform(2, 7), img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    sigma = float(np.hypot(rng.uniform(0, 1.8), blur))
    if sigma > 0.3:
        img = cv2.GaussianBlur(img, (0, 0), sigma)
    codes = {90: cv2.ROTATE_90_CLOCKWISE, 180: cv2.ROTATE_180, 270: cv2.ROTATE_90_COUNTERCLOCKWISE}
    if rotation:
        img = cv2.rotate(img, codes[rotation])
        quad = _rotate_points(quad, rotation, w, h)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(55, 92))])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR), quad.astype(np.float32)


def _rotate_points(p: np.ndarray, rotation: int, w: int, h: int) -> np.ndarray:
    x, y = p[:, 0], p[:, 1]
    if rotation == 90:
        return np.stack([h - 1 - y, x], 1)
    if rotation == 180:
        return np.stack([w - 1 - x, h - 1 - y], 1)
    return np.stack([y, w - 1 - x], 1)


def pick_rotation(rng: np.random.Generator) -> int:
    """40 % rotated 90° or 180° (the documents' test mix), 10 % 270°, the rest upright."""
    u = rng.random()
    return 90 if u < 0.2 else 180 if u < 0.4 else 270 if u < 0.5 else 0


def printed_card(
    lfw_root: Path, docs_root: Path, source: str, rng: np.random.Generator
) -> tuple[np.ndarray, str]:
    """A printed card (Thai template or generated layout, half each) with the portrait from LFW
    image ``source``, and the layout's name."""
    portrait = portrait_crop(cv2.imread(str(lfw_root / "images" / source), cv2.IMREAD_COLOR))
    if rng.random() < 0.5:
        template = cv2.imread(str(docs_root / THAI_TEMPLATE), cv2.IMREAD_COLOR)
        return print_effects(thai_card(template, portrait), rng), "thai"
    return print_effects(generated_card(portrait, rng), rng), "generated"


def render(
    lfw_root: Path,
    docs_root: Path,
    person: str,
    source: str,
    seed: int,
    blur: float = 0.0,
) -> CardSample:
    """One card photo of ``person`` with the portrait from LFW image ``source`` (``blur``: an
    extra Gaussian σ in px of the photo, see ``photograph``)."""
    rng = np.random.default_rng(seed)
    card, layout = printed_card(lfw_root, docs_root, source, rng)
    rotation = pick_rotation(rng)
    size = (1280, 960) if rng.random() < 0.7 else (1600, 1200)
    img, quad = photograph(card, rng, rotation, size, blur)
    return CardSample(img, person, source, rotation, layout, quad)


def card_plan(lfw_root: Path, half: str, n: int, seed: int = 0) -> list[tuple[str, str, int]]:
    """``n`` (person, portrait image, seed) of a half; the other images of the person are the
    genuine selfies. Deterministic."""
    people = people_with_pairs(lfw_root, half)
    names = sorted(people)
    rng = np.random.default_rng(seed + (1 if half == "test" else 0))
    chosen = rng.choice(len(names), size=min(n, len(names)), replace=False)
    plan = []
    for k, i in enumerate(sorted(chosen)):
        name = names[i]
        plan.append((name, people[name][0], seed * 100_000 + k + (50_000 if half == "test" else 0)))
    return plan


def selfie_with_card(
    lfw_root: Path, docs_root: Path, person: str, source: str, live: str, seed: int
) -> CardSample:
    """A KYC selfie: the person ``live`` (an LFW image, large) holds beside their face a card
    whose portrait is ``source`` (of ``person``). ``quad`` is the card's outline: the portrait
    the server takes must lie inside it, never the live face."""
    rng = np.random.default_rng(seed)
    card, layout = printed_card(lfw_root, docs_root, source, rng)
    h, w = (960, 1280) if rng.random() < 0.5 else (1280, 960)
    selfie = cv2.imread(str(lfw_root / "images" / live), cv2.IMREAD_COLOR)
    bg = cv2.GaussianBlur(cv2.resize(selfie[10:110, 10:110], (w, h)), (0, 0), 8)
    ph = int(rng.uniform(0.55, 0.8) * min(h, w))
    left = rng.random() < 0.5
    px = int(rng.uniform(0.0, 0.1) * w) if left else int(w - ph - rng.uniform(0.0, 0.1) * w)
    py = int(rng.uniform(0.0, 0.15) * h)
    person_img = cv2.resize(selfie, (ph, ph), interpolation=cv2.INTER_CUBIC)
    m = np.zeros((ph, ph), np.float32)
    cv2.ellipse(m, (ph // 2, ph // 2), (int(ph * 0.42), int(ph * 0.5)), 0, 0, 360, 1.0, -1)
    m = cv2.GaussianBlur(m, (0, 0), ph / 20)[..., None]
    y2, x2 = min(h, py + ph), min(w, px + ph)
    roi = bg[py:y2, px:x2].astype(np.float32)
    bg[py:y2, px:x2] = (
        m[: y2 - py, : x2 - px] * person_img[: y2 - py, : x2 - px]
        + (1 - m[: y2 - py, : x2 - px]) * roi
    ).astype(np.uint8)
    ch, cw = card.shape[:2]
    dw = rng.uniform(0.38, 0.55) * w
    dh = dw * ch / cw
    cx = (px + ph + (w - px - ph) / 2) if left else px / 2
    cx = float(np.clip(cx, dw / 2, w - dw / 2))
    cy = float(np.clip(rng.uniform(0.45, 0.7) * h, dh / 2, h - dh / 2))
    ang = np.deg2rad(rng.uniform(-15, 15))
    rect = np.array([[-dw / 2, -dh / 2], [dw / 2, -dh / 2], [dw / 2, dh / 2], [-dw / 2, dh / 2]])
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    quad = rect @ rot.T + [cx, cy] + rng.normal(0, 0.02 * dw, (4, 2))
    src = np.array([[0, 0], [cw - 1, 0], [cw - 1, ch - 1], [0, ch - 1]], np.float32)
    mt = cv2.getPerspectiveTransform(src, quad.astype(np.float32))
    warped = cv2.warpPerspective(card, mt, (w, h), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((ch, cw), 255, np.uint8), mt, (w, h))
    img = np.where(mask[..., None] > 127, warped, bg).astype(np.float32)
    hx, hy = quad[3] * 0.7 + quad[2] * 0.3  # a thumb on the lower edge
    cv2.ellipse(
        img,
        (int(hx), int(hy)),
        (int(dw * 0.07), int(dw * 0.11)),
        0,
        0,
        360,
        (90.0, 130.0, 190.0),
        -1,
    )
    img = img * rng.uniform(0.8, 1.1) + rng.normal(0, 3, img.shape)
    img = np.clip(img, 0, 255).astype(np.uint8)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(70, 92))])
    assert ok
    return CardSample(
        cv2.imdecode(buf, cv2.IMREAD_COLOR), person, source, 0, layout, quad.astype(np.float32)
    )
