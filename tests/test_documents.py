"""Identity documents: real specimens, LFW negatives, synthetic card photos, and the API flags."""

from __future__ import annotations

import csv

import cv2
import numpy as np
import pytest

from conftest import DOCS, LFW, Server, jpeg_b64, lfw_image, need, upscaled
from facecompare.calibration import DOCUMENT_PHOTO, PHOTO_PHOTO
from facecompare.documents import evidence, layout, mrz
from facecompare.embed import similarity
from facecompare.lab.data import hard_negatives, synth_cards
from facecompare.lab.data.datasets import lfw_images

PATH = "/aiface/face-compare/v1"


def specimens() -> list[dict[str, str]]:
    return list(csv.DictReader((need(DOCS) / "labels.csv").open()))


def read(rel: str) -> np.ndarray:
    img = cv2.imread(str(DOCS / rel), cv2.IMREAD_COLOR)
    assert img is not None, rel
    return img


def card(n: int, half: str = "test") -> synth_cards.CardSample:
    person, source, seed = synth_cards.card_plan(need(LFW), half, 40)[n]
    return synth_cards.render(LFW, DOCS, person, source, seed)


# -- real specimens ---------------------------------------------------------------------------
def test_every_specimen_is_a_document(engine):
    missed = [r["file"] for r in specimens() if engine.documents.find(read(r["file"])) is None]
    assert missed == []


@pytest.mark.parametrize("rot", [cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180])
def test_turned_specimens_are_documents(engine, rot):
    rows = [r for r in specimens() if r["kind"] == "passport"][:6]
    missed = [
        r["file"] for r in rows if engine.documents.find(cv2.rotate(read(r["file"]), rot)) is None
    ]
    assert missed == []


def test_portrait_not_ghost(engine):
    """Czech and Finnish pages carry a small ghost portrait at the right: the portrait is the
    large one at the left."""
    for rel in ("specimens/100_pass-cze.jpg", "specimens/100_pass-fin.png"):
        img = read(rel)
        doc = engine.documents.find(img)
        assert doc is not None
        face = engine.documents.portrait(img, doc)
        assert face is not None, rel
        cx = (face.face.box[0] + face.face.box[2]) / 2
        assert cx < img.shape[1] / 2, rel


def test_portrait_upright_at_any_turn(engine):
    """The same page turned 90/180/270: the portrait is found each time, embedded alike, and
    its box is given in the turned image's coordinates."""
    img = read("specimens/passport-td3.jpg")
    doc = engine.documents.find(img)
    ref = engine.documents.portrait(img, doc)
    assert ref is not None
    e_ref = engine.pipeline.embed([ref.crop])[0, 0]  # plain unit embedding
    for rot in (cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_180, cv2.ROTATE_90_COUNTERCLOCKWISE):
        turned = cv2.rotate(img, rot)
        d = engine.documents.find(turned)
        assert d is not None
        f = engine.documents.portrait(turned, d)
        assert f is not None
        assert float(engine.pipeline.embed([f.crop])[0, 0] @ e_ref) > 0.8
        x1, y1, x2, y2 = f.face.box
        assert 0 <= x1 < x2 <= turned.shape[1] and 0 <= y1 < y2 <= turned.shape[0]


# -- negatives ----------------------------------------------------------------------------------
def test_lfw_faces_are_not_documents(engine):
    """A face photo is not a document: a fixed sample of 60 LFW images, upscaled like clients'
    photos (the full figure comes from benchmarks/documents_eval.py)."""
    paths = lfw_images(need(LFW))[::220]
    hits = [
        p
        for p in paths
        if engine.documents.find(upscaled(cv2.imread(str(LFW / "images" / p)))) is not None
    ]
    assert len(hits) <= 1, hits


def test_plain_images_are_not_documents():
    rng = np.random.default_rng(0)
    blank = np.full((600, 900, 3), 235, np.uint8)
    noise = cv2.GaussianBlur(rng.integers(0, 255, (600, 900, 3), dtype=np.uint8), (9, 9), 3)
    grad = np.tile(np.linspace(0, 255, 900, dtype=np.uint8)[None, :, None], (600, 1, 3))
    for img in (blank, noise, grad):
        assert evidence.find_document(img) is None


# -- OCR, MRZ, hard negatives, selfie holding the card -------------------------------------------
def test_mrz_check_digits():
    """The ICAO 9303 sample data line validates; one changed digit or date does not."""
    line = "L898902C36UTO7408122F1204159ZE184226B<<<<<10"
    assert mrz.check_digit("L898902C3") == 6 and mrz.check_digit("740812") == 2
    found = mrz.data_line(line)
    assert found is not None and found.checks == 3
    assert mrz.data_line(line.replace("7408122", "7408123")) is None  # birth check digit
    assert mrz.data_line(line.replace("1204159", "1213159")) is None  # month 13
    assert mrz.data_line("NATIONAL CONCERT TOUR 2024 LIVE IN SEOUL 12 MAY") is None
    td1 = "7408122F1204159UTO<<<<<<<<<<<6"
    assert mrz.data_line(td1) is not None
    assert mrz.data_line(td1.replace("F12", "Q12")) is None  # sex field
    rng = np.random.default_rng(5)
    for _ in range(20):  # the generator's MRZs are valid
        assert mrz.data_line(synth_cards._mrz_lines(rng)[1]) is not None


def test_ocr_pack_refuses_a_changed_file(tmp_path):
    """The OCR files are SHA-256 pinned: a copy with one byte changed is refused."""
    import shutil

    from facecompare.errors import ModelIntegrityError
    from facecompare.models.pack import load_pack, package_dir, read_manifest
    from facecompare.models.ppocr import OCR_PACK

    manifest = read_manifest(OCR_PACK)
    src = package_dir(manifest)
    assert load_pack(OCR_PACK).files.keys() == {"detector", "recognizer", "dictionary"}
    for entry in manifest["files"].values():
        shutil.copy(src / entry["file"], tmp_path / entry["file"])
    target = tmp_path / manifest["files"]["dictionary"]["file"]
    data = bytearray(target.read_bytes())
    data[10] ^= 1
    target.write_bytes(bytes(data))
    with pytest.raises(ModelIntegrityError):
        load_pack(OCR_PACK, tmp_path)


def test_ocr_reads_the_mrz(engine):
    """The recogniser reads the TD3 sample's data line and it validates."""
    img = read("specimens/passport-td3.jpg")
    boxes = engine.documents.ocr.detector.detect(img, layout.OCR_SIDE)
    code, length = layout.read_mrz(engine.documents.ocr, img, boxes)
    assert code.startswith("L898902C3") and mrz.data_line(code) is not None
    assert length > 0.6 * img.shape[1]


def test_a_face_framed_by_a_card_outline_reaches_ocr():
    """A face at portrait scale inside a document-aspect outline is a candidate for OCR (a
    small card whose text is too fine for the classical line filter); a face filling the
    outline, or outside it, is not."""
    quad = np.float32([[100, 100], [500, 100], [500, 352], [100, 352]])  # ID-1, short side 252
    assert evidence._holds(quad, np.float32([380, 150, 450, 240]))  # 90 px: 36 %
    assert not evidence._holds(quad, np.float32([200, 110, 420, 340]))  # 230 px: 91 %
    assert not evidence._holds(quad, np.float32([600, 150, 670, 240]))  # outside


def _field_page(framed: bool, texts: tuple[str, ...]) -> tuple[np.ndarray, np.ndarray, tuple]:
    """A card-like block drawn on a plain page: a face-sized box and a column of text lines
    beside it, inside a drawn card outline or not. Returns the image, the face box and the
    column's text boxes (as the text detector would give them)."""
    from facecompare.models.ppocr import TextBox

    img = np.full((700, 1100, 3), 225, np.uint8)
    if framed:
        cv2.rectangle(img, (150, 120), (950, 600), (60, 90, 140), 3)
    face = np.float32([220, 220, 380, 420])  # 200 px high
    cv2.rectangle(img, (200, 180), (400, 470), (120, 120, 120), -1)  # the portrait
    lines = []
    for k, t in enumerate(texts):
        y = 220 + 48 * k
        cv2.putText(img, t, (440, y + 14), cv2.FONT_HERSHEY_DUPLEX, 1.0, (30, 30, 30), 2)
        length, height = 30.0 * len(t), 36.0
        pts = np.float32(
            [[440, y - 14], [440 + length, y - 14], [440 + length, y + 22], [440, y + 22]]
        )
        lines.append(TextBox(440 + length / 2, y + 4, length, height, 0.0, 0.9, pts))
    return img, face, tuple(lines)


def test_labelled_fields_are_read_and_bounded_by_a_card_edge(engine):
    """The layout+fields proof's two parts: the column's lines open with document captions
    (read by the recogniser; prose does not), and straight edges bound the block of face and
    column on at least two sides (a card, not a page filling the frame)."""
    fields = ("SURNAME SMITH", "GIVEN NAMES JOHN", "DATE OF BIRTH 01 JAN 1990", "SEX M")
    prose = ("THE SHOW OPENS", "TICKETS AT THE DOOR", "MUSIC ALL NIGHT", "FREE ENTRY")
    ocr = engine.documents.ocr
    img, face, lines = _field_page(True, fields)
    lay = layout.Layout(len(lines), 1, 36 / 200, "", lines)
    assert layout.captions(ocr, img, lay) >= layout.MIN_CAPTIONS
    assert layout.edge_sides(img, face, lines) >= 2
    img, face, lines = _field_page(True, prose)
    assert layout.captions(ocr, img, layout.Layout(4, 1, 36 / 200, "", lines)) == 0
    img, face, lines = _field_page(False, fields)
    assert layout.edge_sides(img, face, lines) < 2


def test_captions_open_a_line_with_one_letter_misread():
    """The recogniser misreads a letter now and then ("DateofExplry", "Lastame"): a caption of
    six letters or more still matches with one letter changed, dropped or added; short ones
    and ordinary words do not."""
    for line in (
        "SURNAMESMITH",
        "DATEOFEXPLRY1JAN2031",
        "LASTAMEJAISARM",
        "NATI0NALITY".replace("0", "O"),
        "GIVENNAMEJOHN",
        "IDENTIFICATONNUMBER",
    ):
        assert layout.opens_with_caption(line), line
    for line in ("NAMEJOHN", "DATE1JAN2031", "SEKM", "PLACEBANGKOK", "SUMMERFESTIVAL", "BIRD"):
        assert not layout.opens_with_caption(line), line


def test_captions_detected_apart_from_their_values(engine):
    """A card whose captions and values are detected as separate boxes (a Thai card's "Last
    name" | "Jaisarm"), the column found being the values': the caption just left of a value
    on its row counts."""
    from facecompare.models.ppocr import TextBox

    img = np.full((700, 1100, 3), 225, np.uint8)
    rows = (("SURNAME", "SMITH"), ("NATIONALITY", "THAI"), ("SEX", "M"), ("BIRTH", "1990"))
    values, every = [], []
    for k, (cap, val) in enumerate(rows):
        y = 220 + 48 * k
        for x, t, out in ((440, cap, None), (700, val, values)):
            cv2.putText(img, t, (x, y + 14), cv2.FONT_HERSHEY_DUPLEX, 1.0, (30, 30, 30), 2)
            length = 22.0 * len(t) + 12
            pts = np.float32([[x - 4, y - 14], [x + length, y - 14], [x + length, y + 22],
                              [x - 4, y + 22]])  # fmt: skip
            b = TextBox(x - 4 + length / 2 + 2, y + 4, length + 4, 36.0, 0.0, 0.9, pts)
            every.append(b)
            if out is not None:
                out.append(b)
    ocr = engine.documents.ocr
    lay = layout.Layout(len(values), 1, 36 / 200, "", tuple(values))
    assert layout.captions(ocr, img, lay) == 0  # the values alone
    assert layout.captions(ocr, img, lay, every) >= layout.MIN_CAPTIONS


def test_card_edges_along_a_tilted_card_and_not_from_text():
    """A card held at 16° has its edges at 16°: found with the card's text direction, not
    along the view's axes. Lines of text on a page without a card (their letters' tops line up)
    are not edges once the text boxes are left out."""
    fields = ("SURNAME SMITH", "GIVEN NAMES JOHN", "DATE OF BIRTH 01 JAN 1990", "SEX M")
    img, face, lines = _field_page(True, fields)
    h, w = img.shape[:2]
    m = cv2.getRotationMatrix2D((w / 2, h / 2), -16, 1.0)  # counter-clockwise in the view
    turned = cv2.warpAffine(img, m, (w, h), borderValue=(225, 225, 225))

    def moved(p: np.ndarray) -> np.ndarray:
        return (np.c_[p, np.ones(len(p))] @ m.T).astype(np.float32)

    from facecompare.models.ppocr import TextBox

    corners = moved(np.float32([[face[0], face[1]], [face[2], face[1]], [face[2], face[3]],
                                [face[0], face[3]]]))  # fmt: skip
    fbox = np.float32([*corners.min(0), *corners.max(0)])
    tl = []
    for b in lines:
        pts = moved(b.points)
        c = pts.mean(0)
        tl.append(TextBox(c[0], c[1], b.length, b.height, 16.0, b.score, pts))
    assert layout.edge_sides(turned, fbox, tuple(tl), 16.0, tl) >= 2
    assert layout.edge_sides(turned, fbox, tuple(tl), 0.0, tl) < 2
    # a page of text lines, no card: with the text boxes left out, no edges
    page, face, lines = _field_page(False, fields)
    assert layout.edge_sides(page, face, lines, 0.0, lines) < 2


def test_likely_turn_from_a_sideways_face(engine):
    """The turn tried first for a card with no upright portrait: from the largest face's
    landmarks (eyes → mouth is the face's "down"), else from the frame. On the held-out cards
    turned 180° (the first 40 of the test half) SCRFD finds the upside-down portrait and its
    landmarks give the turn every time."""
    from facecompare.detect import Face
    from facecompare.documents.turns import likely_turn

    def face(eyes: list, mouth: list) -> Face:
        lm = np.float32([*eyes, [50, 50], *mouth])
        return Face(np.float32([0, 0, 100, 100]), 0.9, lm)

    cw, ccw = cv2.ROTATE_90_CLOCKWISE, cv2.ROTATE_90_COUNTERCLOCKWISE
    # a face whose top is on the left of the view: turned clockwise it stands upright
    assert likely_turn([face([[30, 35], [30, 65]], [[70, 40], [70, 60]])], (960, 1280), 40) == cw
    assert likely_turn([face([[70, 35], [70, 65]], [[30, 40], [30, 60]])], (960, 1280), 40) == ccw
    assert likely_turn([face([[35, 70], [65, 70]], [[40, 30], [60, 30]])], (1280, 960), 40) == (
        cv2.ROTATE_180
    )
    assert likely_turn([], (1280, 960), 40) == cw  # an upright frame: the card lies sideways
    assert likely_turn([], (960, 1280), 40) == cv2.ROTATE_180
    det = engine.settings.det_retry_size, engine.settings.det_threshold
    upside_down = [c for c in map(card, range(40)) if c.rotation == 180]
    assert len(upside_down) >= 4
    for c in upside_down:
        faces = engine.pipeline.detector.detect(c.image, *det)
        assert likely_turn(faces, c.image.shape, 40) == cv2.ROTATE_180


def test_ocr_backend_choice():
    """The text detector runs on OpenVINO only where the CPU has AVX-512 (bf16 where native),
    on onnxruntime elsewhere; explicit choices are honoured and a bad name is refused."""
    from facecompare.models.backend import BackendError, openvino_available
    from facecompare.models.ppocr import choose_backend

    assert choose_backend("auto", frozenset({"avx2", "fma"})).backend == "onnxruntime"
    assert choose_backend("onnxruntime", frozenset({"avx512f", "amx_bf16"})).backend == (
        "onnxruntime"
    )
    if openvino_available():
        avx512 = choose_backend("auto", frozenset({"avx2", "avx512f"}))
        assert (avx512.backend, avx512.precision) == ("openvino", "f32")
        amx = choose_backend("auto", frozenset({"avx512f", "amx_bf16"}))
        assert (amx.backend, amx.precision) == ("openvino", "bf16")
        with pytest.raises(BackendError):
            choose_backend("openvino-bf16", frozenset({"avx2"}))
    with pytest.raises(BackendError):
        choose_backend("tensorrt")


@pytest.mark.parametrize("backend", ["onnxruntime", "openvino"])
def test_text_detector_backends_agree(backend):
    """The detector's boxes on a card scan are the same on either backend (f32)."""
    from facecompare.models.backend import Choice, openvino_available
    from facecompare.models.ppocr import OCR

    if backend == "openvino" and not openvino_available():
        pytest.skip("openvino is not installed")
    img = read("specimens/passport-td3.jpg")
    ref = OCR.load(1, Choice("onnxruntime", "f32", "test")).detector.detect(img, 640)
    got = OCR.load(1, Choice(backend, "f32", "test")).detector.detect(img, 640)
    assert len(ref) >= 5 and len(got) == len(ref)
    for a, b in zip(
        sorted(ref, key=lambda t: (t.cy, t.cx)),
        sorted(got, key=lambda t: (t.cy, t.cx)),
        strict=True,
    ):
        assert abs(a.cx - b.cx) < 1 and abs(a.cy - b.cy) < 1 and abs(a.length - b.length) < 2


def test_photo_path_loads_no_ocr(engine):
    """Two photos without a document flag: the OCR models are never loaded."""
    from facecompare.compare import CompareRequest, Engine
    from facecompare.pipeline import Pipeline

    fresh = Engine(Pipeline(engine.pack, engine.settings), engine.calibration)
    a = jpeg_b64(upscaled(lfw_image("Colin_Powell", 1)))
    b = jpeg_b64(upscaled(lfw_image("Colin_Powell", 2)))
    fresh.compare(CompareRequest(a, b))
    assert fresh.documents._ocr is None
    fresh.compare(CompareRequest(jpeg_b64(card(1).image), b, image1_is_document=True))
    assert fresh.documents._ocr is not None


def test_hard_negative_scenes_are_not_documents(engine):
    """Held-out scenes with faces and text (two of each kind): posters, logo walls, signs,
    T-shirts, book pages, screenshots, paper and phones held up. The full figure comes from
    benchmarks/documents_eval.py."""
    hits = [
        s.kind
        for s in hard_negatives.scenes(need(LFW), "test", 2 * len(hard_negatives.KINDS), seed=1)
        if engine.documents.find(s.image) is not None
    ]
    assert len(hits) <= 1, hits


def test_selfie_holding_the_card_uses_the_card_portrait(engine):
    """A person holding their card beside their face: the portrait on the card is the face
    taken, never the (larger) live face."""
    plan = synth_cards.card_plan(need(LFW), "test", 8, seed=3)
    inside = 0
    for k in range(4):
        person, source, seed = plan[k]
        s = synth_cards.selfie_with_card(LFW, DOCS, person, source, plan[4 + k][1], seed)
        doc = engine.documents.find(s.image)
        face = engine.documents.portrait(s.image, doc) if doc is not None else None
        if face is None:
            continue
        x1, y1, x2, y2 = face.face.box
        q = s.quad.reshape(-1, 1, 2).astype(np.float32)
        ok = cv2.pointPolygonTest(q, (float(x1 + x2) / 2, float(y1 + y2) / 2), False) >= 0
        assert ok, f"the live face was taken in selfie {k}"
        inside += 1
    assert inside >= 2


def test_selfie_holding_a_card_with_a_small_portrait_is_refused(engine):
    """A selfie holding the card, taken so far away that the card's portrait is below
    ``min_document_face``: no document (CAN_NOT_DETECT_IDCARD), although the live face beside
    it is still above that minimum. The live face is never compared."""
    from facecompare.compare import CompareRequest
    from facecompare.errors import ErrorCode, FaceCompareError

    plan = synth_cards.card_plan(need(LFW), "test", 16, seed=3)
    for k in range(8):
        person, source, seed = plan[k]
        s = synth_cards.selfie_with_card(LFW, DOCS, person, source, plan[8 + k][1], seed)
        doc = engine.documents.find(s.image)
        if doc is not None and doc.portrait is not None:
            break
    else:
        pytest.fail("no selfie with a card found at full size")
    portrait_h = float(doc.portrait.face.box[3] - doc.portrait.face.box[1])
    scale = 0.8 * engine.settings.min_document_face / portrait_h
    shrunk = cv2.resize(s.image, None, fx=scale, fy=scale, interpolation=cv2.INTER_AREA)
    small = np.full_like(s.image, 128)  # the same frame size: the person stands far away
    small[: shrunk.shape[0], : shrunk.shape[1]] = shrunk
    # the live face is still a candidate portrait (above min_document_face) to be wrongly taken
    faces = engine.pipeline.faces(small, engine.settings.min_document_face)
    assert faces and faces[0].min_side >= engine.settings.min_document_face
    assert engine.documents.find(small) is None
    other = jpeg_b64(upscaled(lfw_image("Colin_Powell", 2)))
    with pytest.raises(FaceCompareError) as err:
        engine.compare(CompareRequest(jpeg_b64(small), other, image1_is_document=True))
    assert err.value.code == ErrorCode.CAN_NOT_DETECT_IDCARD


# -- synthetic cards ----------------------------------------------------------------------------
def test_generator_halves_are_people_disjoint(lfw):
    train = set(synth_cards.people_with_pairs(lfw, "train"))
    test = set(synth_cards.people_with_pairs(lfw, "test"))
    assert train and test and not train & test


def test_synthetic_cards_found_and_matched(engine):
    """12 held-out card photos (several turned): document, portrait, and the portrait matches
    another photo of the person better than the document err_01 threshold."""
    from facecompare.lab.measure.evaluate import embed_one

    t01 = engine.calibrated.threshold_cosines(DOCUMENT_PHOTO)["err_01"]
    people = synth_cards.people_with_pairs(LFW, "test")
    ok, turned = 0, 0
    for n in range(12):
        c = card(n)
        turned += c.rotation != 0
        doc = engine.documents.find(c.image)
        face = engine.documents.portrait(c.image, doc) if doc is not None else None
        if face is None:
            continue
        selfie = cv2.imread(str(LFW / "images" / people[c.person][1]))
        e, *_ = embed_one(engine, selfie, 0)
        score = similarity(engine.pipeline.embed([face.crop]), e[None], engine.scorer.band)[0, 0]
        ok += float(score) >= t01
    assert turned >= 2
    assert ok >= 10


# -- API ----------------------------------------------------------------------------------------
def post(server: Server, key: str, body: dict) -> dict:
    import httpx

    r = httpx.post(
        server.url + PATH,
        json=body,
        headers={"x-aigen-key": key, "content-type": "application/json"},
        timeout=60,
    )
    assert r.status_code == 200, r.text
    return r.json()


def test_api_document_flags(server, api_key, engine):
    c = card(1)
    people = synth_cards.people_with_pairs(LFW, "test")
    name, num = people[c.person][1].split("/")[1][:-4].rsplit("_", 1)
    selfie = jpeg_b64(upscaled(lfw_image(name, int(num))))
    doc_img = jpeg_b64(c.image)
    doc_thresholds = engine.calibrated.thresholds(DOCUMENT_PHOTO)
    assert doc_thresholds != engine.calibrated.thresholds(PHOTO_PHOTO)

    r = post(server, api_key, {"image1": doc_img, "image2": selfie, "image1_is_document": True})
    assert "error_message" not in r, r
    assert r["thresholds"] == doc_thresholds
    assert r["confidence"] >= r["thresholds"]["err_01"]

    r = post(server, api_key, {"image1": selfie, "image2": doc_img, "verified_document": True})
    assert "error_message" not in r, r
    assert r["thresholds"] == doc_thresholds

    r = post(server, api_key, {"image1": selfie, "image2": doc_img, "image1_is_document": True})
    assert r["error_message"] == "CAN_NOT_DETECT_IDCARD: image1"
    r = post(server, api_key, {"image1": selfie, "image2": selfie, "verified_document": True})
    assert r["error_message"] == "CAN_NOT_DETECT_IDCARD: image1"

    r = post(server, api_key, {"image1": selfie, "image2": selfie})
    assert r["thresholds"] == engine.calibrated.thresholds(PHOTO_PHOTO)


def test_document_compare_reuses_the_portrait_embedding_and_answers_in_order(engine):
    """With a document flag the portrait's embedding is the reader's (the same as embedding its
    crop again), the photo takes the photo path (on the pool meanwhile), side by side or not;
    errors keep the documented order: a decode error (image1 first) before
    CAN_NOT_DETECT_IDCARD before a missing face."""
    from facecompare import imaging
    from facecompare.compare import CompareRequest
    from facecompare.errors import ErrorCode, FaceCompareError
    from facecompare.pipeline import PARAMS

    c = card(1)
    people = synth_cards.people_with_pairs(LFW, "test")
    name, num = people[c.person][1].split("/")[1][:-4].rsplit("_", 1)

    def jpeg(img: np.ndarray) -> bytes:
        return cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])[1].tobytes()

    doc, selfie = jpeg(c.image), jpeg(upscaled(lfw_image(name, int(num))))
    req = CompareRequest(doc, selfie, image1_is_document=True)
    results = [engine.compare(req, side_by_side=s) for s in (True, False)]
    assert results[0].cosine == pytest.approx(results[1].cosine, abs=1e-5)
    assert results[0].scenario == DOCUMENT_PHOTO
    # the same cosine from the two crops embedded afresh
    card_img = cv2.imdecode(np.frombuffer(doc, np.uint8), cv2.IMREAD_COLOR)
    portrait = engine.documents.portrait(card_img, engine.documents.find(card_img))
    ((data, header),) = imaging.checked((selfie,), engine.settings.limits, PARAMS[1:])
    photo = engine.pipeline.photo(data, header, PARAMS[1], engine.settings.reduced_decode)
    emb, _ = engine.pipeline.embedder.embed([portrait.crop, photo.crop])
    assert results[1].cosine == pytest.approx(float(emb[0] @ emb[1]), abs=1e-4)
    # verified_document alone, the document second: image1 is the photo
    r = engine.compare(CompareRequest(selfie, doc, verified_document=True))
    assert r.cosine == pytest.approx(results[0].cosine, abs=1e-4)
    # both images flagged: two documents, both portraits (the same card: the same face)
    both = CompareRequest(doc, doc, image1_is_document=True, image2_is_document=True)
    assert engine.compare(both).cosine == pytest.approx(1.0, abs=1e-4)

    truncated = doc[:5000]
    blank = jpeg(np.full((600, 600, 3), 200, np.uint8))  # decodes, no face, not a document
    cases = [
        # (image1, image2, flags, the error)
        (selfie, truncated, {"image1_is_document": True}, "UNSUPPORTED_FORMAT: image2"),
        (truncated, doc, {"image2_is_document": True}, "UNSUPPORTED_FORMAT: image1"),
        (selfie, doc, {"image1_is_document": True}, "CAN_NOT_DETECT_IDCARD: image1"),
        (blank, blank, {"verified_document": True}, "CAN_NOT_DETECT_IDCARD: image1"),
        (doc, blank, {"image1_is_document": True}, "CAN_NOT_DETECT_FACE: image2"),
        (blank, doc, {"verified_document": True}, "CAN_NOT_DETECT_FACE: image1"),
    ]
    for a, b, flags, want in cases:
        for side in (True, False):
            with pytest.raises(FaceCompareError) as err:
                engine.compare(CompareRequest(a, b, **flags), side_by_side=side)
            code, param = want.split(": ")
            assert (err.value.code, err.value.param) == (ErrorCode[code], param), (flags, side)
