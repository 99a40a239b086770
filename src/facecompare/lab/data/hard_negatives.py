"""Hard negatives for the document detector: ordinary photos that hold faces *and* text.

Lab code (benchmarks, calibration, tests), like ``synth_cards``: scenes are rendered on the fly
from LFW and a seed, nothing is written to disk. Each scene is a phone-sized photo (1280 × 960
or 960 × 1280, JPEG) with one or more LFW people and text drawn with OpenCV's Hershey fonts
(built into OpenCV, no font file):

- ``poster``: a person's photo on a coloured poster with a title and lines of credits beside it;
- ``logo_wall``: a red-carpet backdrop of repeated sponsor words behind the person;
- ``sign``: a person beside a sign or a shop front with one to four lines of text;
- ``tshirt``: a person whose shirt carries printed words;
- ``book``: a book or magazine page of text lines with a printed photo inset in the column;
- ``screenshot``: a chat / profile screenshot, avatars beside lines of messages;
- ``paper``: a person holding a sheet of paper (A4, in perspective) covered in lines of text;
- ``phone``: a person holding a phone whose screen shows text (and sometimes an avatar).

People come from one half of LFW (``synth_cards.half_of``): develop on ``train``, report on
``test``.
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

from .synth_cards import half_of

KINDS = ("poster", "logo_wall", "sign", "tshirt", "book", "screenshot", "paper", "phone")
_FONTS = (
    cv2.FONT_HERSHEY_SIMPLEX,
    cv2.FONT_HERSHEY_DUPLEX,
    cv2.FONT_HERSHEY_COMPLEX,
    cv2.FONT_HERSHEY_TRIPLEX,
    cv2.FONT_HERSHEY_PLAIN,
)
_SYL = ("ka", "ro", "mi", "ten", "sa", "lo", "ver", "na", "tu", "pel", "is", "on", "dar", "me")


@dataclass(frozen=True)
class Scene:
    image: np.ndarray
    kind: str
    people: tuple[str, ...]  # LFW images used (relative to images/)


# a stress vocabulary (``scenes(..., vocabulary="captions")``): ordinary words of posters,
# pages and forms, a third of them the field captions of identity documents, so that text
# beside a face in a scene can open its lines the way a card's fields do
CAPTION_WORDS = (
    "Name", "Surname", "Given", "Date", "Birth", "Sex", "Nationality", "Expiry", "Issue",
    "Address", "Passport", "Identification", "Authority", "Place", "Valid", "No",
    "the", "and", "of", "new", "show", "live", "tickets", "music", "festival", "open", "free",
    "event", "night", "summer", "club", "team", "world", "city", "photo", "contact", "info",
    "page", "home", "news", "about", "story", "more", "best", "day", "time", "year", "people",
    "life", "art", "chapter", "press",
)  # fmt: skip
_vocabulary: tuple[str, ...] | None = None  # set by scenes() while it renders (one at a time)


def _word(rng: np.random.Generator, upper: bool | None = None) -> str:
    if _vocabulary is not None:
        w = str(rng.choice(_vocabulary))
        return w.upper() if upper or (upper is None and rng.random() < 0.4) else w
    w = "".join(rng.choice(_SYL, int(rng.integers(1, 4))))
    if upper is None:
        upper = rng.random() < 0.4
    if rng.random() < 0.15:
        w = str(int(rng.integers(1, 99999)))
    return w.upper() if upper else w.capitalize() if rng.random() < 0.5 else w


def _words(rng: np.random.Generator, n: int, upper: bool | None = None) -> str:
    return " ".join(_word(rng, upper) for _ in range(n))


def _colour(rng: np.random.Generator, lo: int = 0, hi: int = 256) -> tuple[int, int, int]:
    return tuple(int(c) for c in rng.integers(lo, hi, 3))


def _text(img, s, org, rng, scale, colour, thick=None) -> None:
    font = int(rng.choice(_FONTS))
    t = thick if thick is not None else max(1, int(round(scale * rng.uniform(1.0, 2.5))))
    cv2.putText(img, s, (int(org[0]), int(org[1])), font, scale, colour, t, cv2.LINE_AA)


def _lines(img, rng, box, scale, colour, gap=1.7, words=(1, 5), align_left=True) -> None:
    """Lines of words filling ``box`` (x1, y1, x2, y2), line height ~ 22 px × scale."""
    x1, y1, x2, y2 = box
    y = y1 + 24 * scale
    while y < y2:
        s = _words(rng, int(rng.integers(*words)))
        (tw, _), _ = cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        while tw > x2 - x1 and " " in s:
            s = s.rsplit(" ", 1)[0]
            (tw, _), _ = cv2.getTextSize(s, cv2.FONT_HERSHEY_SIMPLEX, scale, 1)
        x = x1 if align_left else x1 + max(0, (x2 - x1 - tw) // 2)
        _text(img, s, (x, y), rng, scale, colour)
        y += 24 * scale * gap * rng.uniform(0.9, 1.2)


def _person(lfw: Path, rel: str, height: int) -> np.ndarray:
    img = cv2.imread(str(lfw / "images" / rel), cv2.IMREAD_COLOR)
    return cv2.resize(img, (height, height), interpolation=cv2.INTER_CUBIC)


def _paste(dst: np.ndarray, src: np.ndarray, x: int, y: int, soft: bool = False) -> None:
    h, w = src.shape[:2]
    H, W = dst.shape[:2]
    xa, ya, xb, yb = max(0, x), max(0, y), min(W, x + w), min(H, y + h)
    if xa >= xb or ya >= yb:
        return
    s = src[ya - y : yb - y, xa - x : xb - x]
    if soft:  # feathered oval: a person cut out of their photo
        mh, mw = s.shape[:2]
        m = np.zeros((mh, mw), np.float32)
        cv2.ellipse(m, (mw // 2, mh // 2), (int(mw * 0.42), int(mh * 0.5)), 0, 0, 360, 1.0, -1)
        m = cv2.GaussianBlur(m, (0, 0), max(1, mw / 20))[..., None]
        d = dst[ya:yb, xa:xb].astype(np.float32)
        dst[ya:yb, xa:xb] = (m * s + (1 - m) * d).astype(np.uint8)
    else:
        dst[ya:yb, xa:xb] = s


def _background(rng, h, w, lfw: Path, rel: str) -> np.ndarray:
    """A blurred, zoomed LFW photo: a plausible scene behind the subject."""
    img = cv2.imread(str(lfw / "images" / rel), cv2.IMREAD_COLOR)
    img = cv2.resize(img[20:120, 20:120], (w, h), interpolation=cv2.INTER_CUBIC)
    return cv2.GaussianBlur(img, (0, 0), float(rng.uniform(4, 12)))


def _poster(rng, H, W, lfw, rels):
    img = np.full((H, W, 3), _colour(rng, 0, 120), np.uint8)
    ph = int(rng.uniform(0.35, 0.7) * H)
    px = int(rng.uniform(0.02, 0.5) * W)
    _paste(img, _person(lfw, rels[0], ph), px, int(rng.uniform(0.05, 0.3) * H), soft=True)
    _text(
        img,
        _words(rng, 2, True),
        (0.05 * W, 0.1 * H),
        rng,
        rng.uniform(2.0, 4.0),
        _colour(rng, 150),
    )
    side = (px + ph + 10, 0.3 * H, W - 10, 0.95 * H) if px < W / 3 else (10, 0.3 * H, px, 0.95 * H)
    _lines(img, rng, side, rng.uniform(0.6, 1.3), _colour(rng, 160), words=(1, 4))
    return img


def _logo_wall(rng, H, W, lfw, rels):
    img = np.full((H, W, 3), _colour(rng, 180), np.uint8)
    logos = [_words(rng, int(rng.integers(1, 3)), rng.random() < 0.6) for _ in range(3)]
    scale = rng.uniform(0.8, 2.2)
    step_x, step_y = int(rng.uniform(180, 360) * scale / 1.5), int(rng.uniform(60, 140) * scale)
    colours = [_colour(rng, 0, 140) for _ in logos]
    for j, y in enumerate(range(40, H, max(40, step_y))):
        for i, x in enumerate(range(-(j % 2) * step_x // 2, W, max(60, step_x))):
            k = (i + j) % len(logos)
            _text(img, logos[k], (x, y), rng, scale, colours[k])
    n = 1 if rng.random() < 0.6 else 2
    for k in range(n):
        ph = int(rng.uniform(0.3, 0.75) * H)
        _paste(
            img,
            _person(lfw, rels[k], ph),
            int(rng.uniform(0, max(1, W - ph))),
            int(rng.uniform(0.05, 0.35) * H),
            soft=True,
        )
    return img


def _sign(rng, H, W, lfw, rels):
    img = _background(rng, H, W, lfw, rels[1])
    ph = int(rng.uniform(0.35, 0.8) * H)
    px = int(rng.uniform(0, max(1, W - ph)))
    _paste(img, _person(lfw, rels[0], ph), px, int(rng.uniform(0.1, 0.3) * H), soft=True)
    sw, sh = int(rng.uniform(0.2, 0.5) * W), int(rng.uniform(0.08, 0.3) * H)
    sx = int(rng.uniform(0, W - sw))
    sy = int(rng.uniform(0, H - sh))
    cv2.rectangle(img, (sx, sy), (sx + sw, sy + sh), _colour(rng), -1)
    _lines(
        img,
        rng,
        (sx + 8, sy + 4, sx + sw - 8, sy + sh - 8),
        rng.uniform(0.7, 2.0),
        _colour(rng),
        words=(1, 3),
    )
    return img


def _tshirt(rng, H, W, lfw, rels):
    img = _background(rng, H, W, lfw, rels[1])
    ph = int(rng.uniform(0.3, 0.55) * H)
    px = int(rng.uniform(0.05, 0.95) * (W - ph))
    py = int(rng.uniform(0.02, 0.15) * H)
    shirt = _colour(rng)
    cv2.rectangle(img, (px - ph // 4, py + int(ph * 0.85)), (px + ph + ph // 4, H), shirt, -1)
    _paste(img, _person(lfw, rels[0], ph), px, py, soft=True)
    _lines(
        img,
        rng,
        (px, py + ph, px + ph, min(H, py + 2 * ph)),
        rng.uniform(0.8, 2.0),
        _colour(rng),
        words=(1, 3),
        align_left=False,
    )
    return img


def _book(rng, H, W, lfw, rels):
    img = np.full((H, W, 3), _colour(rng, 215), np.uint8)
    ink = _colour(rng, 0, 60)
    scale = rng.uniform(0.5, 1.0)
    pw = int(rng.uniform(0.15, 0.4) * W)
    px = int(rng.uniform(0.05, 0.5) * W)
    py = int(rng.uniform(0.1, 0.5) * H)
    _lines(
        img, rng, (int(0.05 * W), int(0.03 * H), int(0.95 * W), py - 10), scale, ink, words=(4, 9)
    )
    _paste(img, _person(lfw, rels[0], pw), px, py)
    if px > 0.3 * W:
        _lines(img, rng, (int(0.05 * W), py, px - 15, py + pw), scale, ink, words=(2, 5))
    if px + pw < 0.7 * W:
        _lines(img, rng, (px + pw + 15, py, int(0.95 * W), py + pw), scale, ink, words=(2, 5))
    _lines(
        img,
        rng,
        (int(0.05 * W), py + pw + 10, int(0.95 * W), int(0.97 * H)),
        scale,
        ink,
        words=(4, 9),
    )
    return img


def _screenshot(rng, H, W, lfw, rels):
    dark = rng.random() < 0.3
    img = np.full((H, W, 3), 30 if dark else 245, np.uint8)
    ink = (230, 230, 230) if dark else (30, 30, 30)
    cv2.rectangle(img, (0, 0), (W, int(0.08 * H)), _colour(rng), -1)
    _text(img, _words(rng, 2), (0.05 * W, 0.055 * H), rng, 1.2, (255, 255, 255), 2)
    y = int(0.12 * H)
    k = 0
    while y < H - 60:
        av = int(rng.uniform(0.06, 0.16) * min(H, W))
        _paste(img, _person(lfw, rels[k % len(rels)], av), int(0.03 * W), y)
        k += 1
        n = int(rng.integers(1, 4))
        _lines(
            img,
            rng,
            (int(0.03 * W) + av + 20, y, W - 20, y + max(av, n * 40)),
            rng.uniform(0.6, 1.0),
            ink,
            words=(2, 6),
        )
        y += max(av, n * 40) + int(rng.uniform(20, 60))
    return img


def _paper(rng, H, W, lfw, rels, phone: bool = False):
    img = _background(rng, H, W, lfw, rels[1])
    ph = int(rng.uniform(0.35, 0.7) * H)
    px = int(rng.uniform(0, max(1, W - ph)))
    _paste(img, _person(lfw, rels[0], ph), px, int(rng.uniform(0.02, 0.25) * H), soft=True)
    if phone:
        sw, sh = 540, 1080
        sheet = np.full((sh, sw, 3), 250 if rng.random() < 0.7 else 25, np.uint8)
        ink = (30, 30, 30) if sheet[0, 0, 0] > 128 else (230, 230, 230)
        if rng.random() < 0.5:
            _paste(sheet, _person(lfw, rels[2], 150), 30, 80)
            _lines(sheet, rng, (200, 80, sw - 20, 240), 0.9, ink, words=(1, 3))
            _lines(sheet, rng, (30, 260, sw - 20, sh - 40), 0.9, ink, words=(2, 5))
        else:
            _lines(sheet, rng, (30, 40, sw - 20, sh - 40), 1.0, ink, words=(2, 5))
        cv2.rectangle(sheet, (0, 0), (sw - 1, sh - 1), (10, 10, 10), 18)
        frac = rng.uniform(0.12, 0.3)
    else:
        sw, sh = 840, 1188  # A4 portrait
        sheet = np.full((sh, sw, 3), _colour(rng, 220), np.uint8)
        _lines(
            sheet,
            rng,
            (60, 60, sw - 60, sh - 60),
            rng.uniform(0.8, 1.6),
            _colour(rng, 0, 70),
            words=(2, 7),
        )
        frac = rng.uniform(0.2, 0.45)
    dw = frac * W
    dh = dw * sh / sw
    if dh > 0.9 * H:
        dh, dw = 0.9 * H, 0.9 * H * sw / sh
    cx = rng.uniform(dw / 2, W - dw / 2)
    cy = rng.uniform(dh / 2, H - dh / 2)
    ang = np.deg2rad(rng.uniform(-20, 20))
    rect = np.array([[-dw / 2, -dh / 2], [dw / 2, -dh / 2], [dw / 2, dh / 2], [-dw / 2, dh / 2]])
    rot = np.array([[np.cos(ang), -np.sin(ang)], [np.sin(ang), np.cos(ang)]])
    quad = (rect @ rot.T + [cx, cy] + rng.normal(0, 0.03 * dw, (4, 2))).astype(np.float32)
    src = np.float32([[0, 0], [sw - 1, 0], [sw - 1, sh - 1], [0, sh - 1]])
    m = cv2.getPerspectiveTransform(src, quad)
    warped = cv2.warpPerspective(sheet, m, (W, H), flags=cv2.INTER_AREA)
    mask = cv2.warpPerspective(np.full((sh, sw), 255, np.uint8), m, (W, H))
    img = np.where(mask[..., None] > 127, warped, img)
    # the hand: a skin-coloured blob on the sheet's lower edge
    hx, hy = quad[3] * 0.6 + quad[2] * 0.4
    cv2.ellipse(
        img,
        (int(hx), int(hy)),
        (int(dw * 0.12), int(dw * 0.18)),
        0,
        0,
        360,
        (int(rng.uniform(60, 140)), int(rng.uniform(100, 170)), int(rng.uniform(150, 220))),
        -1,
    )
    return img


def _phone(rng, H, W, lfw, rels):
    return _paper(rng, H, W, lfw, rels, phone=True)


_RENDER = {
    "poster": _poster,
    "logo_wall": _logo_wall,
    "sign": _sign,
    "tshirt": _tshirt,
    "book": _book,
    "screenshot": _screenshot,
    "paper": _paper,
    "phone": _phone,
}


def _finish(img: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    noise = rng.normal(0, rng.uniform(1, 5), img.shape)
    img = img.astype(np.float32) * rng.uniform(0.8, 1.1) + noise
    img = np.clip(img, 0, 255).astype(np.uint8)
    if rng.random() < 0.5:
        img = cv2.GaussianBlur(img, (0, 0), rng.uniform(0.4, 1.4))
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, int(rng.integers(60, 93))])
    assert ok
    return cv2.imdecode(buf, cv2.IMREAD_COLOR)


def lfw_half(lfw: Path, half: str) -> list[str]:
    images = lfw / "images"
    return sorted(
        f"{d.name}/{f.name}"
        for d in images.iterdir()
        if d.is_dir() and half_of(d.name) == half
        for f in d.glob("*.jpg")
    )


def render(lfw: Path, kind: str, rels: tuple[str, ...], seed: int) -> Scene:
    rng = np.random.default_rng(seed)
    H, W = (960, 1280) if rng.random() < 0.6 else (1280, 960)
    img = _RENDER[kind](rng, H, W, lfw, rels)
    return Scene(_finish(img, rng), kind, rels)


def scenes(
    lfw: Path, half: str, n: int, seed: int = 0, vocabulary: str = "syllables"
) -> Iterator[Scene]:
    """``n`` scenes, kinds in turn, people from ``half`` of LFW. Deterministic in ``seed``.
    ``vocabulary``: "syllables" (made-up words) or "captions" (CAPTION_WORDS: the text of
    the scenes carries identity-document field captions, a stress test of reading them)."""
    global _vocabulary
    pool = lfw_half(lfw, half)
    rng = np.random.default_rng(1000 + seed)
    for k in range(n):
        rels = tuple(pool[i] for i in rng.choice(len(pool), 3, replace=False))
        _vocabulary = CAPTION_WORDS if vocabulary == "captions" else None
        try:
            scene = render(lfw, KINDS[k % len(KINDS)], rels, seed * 1_000_003 + k)
        finally:
            _vocabulary = None
        yield scene
