"""The /demo page in a real headless Chromium (Debian's package), against a real server.

Needs ``apt-get install chromium`` and the ``playwright`` Python package (its driver only; the
browser is Debian's). Skips with a message otherwise. Writes screenshots to reports/demo/.
"""

from __future__ import annotations

import shutil
from pathlib import Path

import cv2
import httpx
import pytest

from conftest import Server, photo_file

CHROMIUM = shutil.which("chromium") or shutil.which("chromium-browser")
SHOTS = Path(__file__).resolve().parent.parent / "reports" / "demo"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--no-first-run",
    # a fake camera (a test pattern) so the camera path runs without hardware
    "--use-fake-device-for-media-stream",
    "--use-fake-ui-for-media-stream",
]


@pytest.fixture(scope="module")
def browser(tmp_path_factory: pytest.TempPathFactory):
    if CHROMIUM is None:
        pytest.skip("chromium not installed (apt-get install -y chromium) - demo page not tested")
    sync_api = pytest.importorskip(
        "playwright.sync_api", reason="playwright (driver only) missing - pip install '.[test]'"
    )
    profile = tmp_path_factory.mktemp("chromium-profile")
    with sync_api.sync_playwright() as p:
        ctx = p.chromium.launch_persistent_context(
            str(profile),
            executable_path=CHROMIUM,
            headless=True,
            args=ARGS,
            viewport={"width": 1100, "height": 1300},
        )
        yield ctx
        ctx.close()


@pytest.fixture(scope="module")
def photos(tmp_path_factory: pytest.TempPathFactory) -> dict[str, Path]:
    d = tmp_path_factory.mktemp("photos")
    return {
        tag: photo_file(d / f"{tag}.jpg", "Aaron_Peirsol", n, 600)
        for tag, n in (("a1", 1), ("a2", 2))
    }


def box_pixel_is_blue(page, canvas_sel: str, face: dict) -> bool:
    """The face box is drawn on the canvas in #2f6fde: sample a pixel on its left edge."""
    rgb = page.evaluate(
        """([sel, x, y]) => Array.from(document.querySelector(sel).getContext('2d')
               .getImageData(x, y, 1, 1).data).slice(0, 3)""",
        [canvas_sel, face["x"], face["y"] + face["height"] // 2],
    )
    return abs(rgb[0] - 0x2F) < 40 and abs(rgb[1] - 0x6F) < 40 and abs(rgb[2] - 0xDE) < 40


def test_demo_page_compares_two_photos(server: Server, api_key: str, browser, photos) -> None:
    SHOTS.mkdir(parents=True, exist_ok=True)
    page = browser.new_page()
    errors: list[str] = []
    page.on("pageerror", lambda e: errors.append(str(e)))
    answers: list[dict] = []
    page.on(
        "response",
        lambda r: answers.append(r.json()) if r.url.endswith("/face-compare/v1") else None,
    )
    page.goto(server.url + "/demo")
    assert page.title() == "facecompare demo"
    assert page.is_disabled("#compare")
    page.fill("#key", api_key)
    page.set_input_files("#file1", str(photos["a1"]))
    page.set_input_files("#file2", str(photos["a2"]))
    page.wait_for_function("() => !document.querySelector('#compare').disabled", timeout=10_000)
    page.click("#compare")
    page.wait_for_selector("#result[data-state=done]", timeout=60_000)
    page.screenshot(path=str(SHOTS / "same-person.png"), full_page=True)

    assert not errors, errors
    data = answers[-1]
    verdict = page.inner_text("#verdict")
    assert data["confidence"] >= data["thresholds"]["err_01"]
    assert verdict.startswith(("Same person", "Probably the same person")), verdict
    table = page.inner_text("#numbers")
    assert f"{data['confidence']:.2f}" in table
    for name in ("err_01", "err_001", "err_0001"):
        assert f"{data['thresholds'][name]:.2f}" in table
    assert page.locator("#scale .mark").count() == 3
    assert data["request_id"] in page.inner_text("#meta")
    assert box_pixel_is_blue(page, "#slot1 canvas", data["face1"])
    assert box_pixel_is_blue(page, "#slot2 canvas", data["face2"])

    # the flags are sent, and a wrong key shows the spec's error
    page.check("#blur_detection")
    page.fill("#key", "fc_not_a_key")
    page.click("#compare")
    page.wait_for_selector("#result[data-state=error]", timeout=30_000)
    assert "AUTHENTICATION_ERROR (HTTP 401)" in page.inner_text("#error")
    assert "blur_detection" in page.inner_text("#numbers")
    page.screenshot(path=str(SHOTS / "wrong-key.png"), full_page=True)
    page.close()


def test_demo_page_camera_path(server: Server, api_key: str, browser, photos) -> None:
    """Chromium's fake camera (a test pattern, no face): capture, compare, see the face error."""
    page = browser.new_page()
    page.goto(server.url + "/demo")
    page.fill("#key", api_key)
    page.click("#slot1 .cam")
    page.wait_for_function(
        "() => document.querySelector('#slot1 video').videoWidth > 0", timeout=15_000
    )
    page.click("#slot1 .snap")
    page.set_input_files("#file2", str(photos["a2"]))
    page.wait_for_function("() => !document.querySelector('#compare').disabled", timeout=10_000)
    page.click("#compare")
    page.wait_for_selector("#result[data-state]:not([data-state=busy])", timeout=60_000)
    page.screenshot(path=str(SHOTS / "camera.png"), full_page=True)
    assert "CAN_NOT_DETECT_FACE: image1" in page.inner_text("#error")
    page.close()


def test_demo_assets_are_served_with_a_strict_policy(server: Server) -> None:
    r = httpx.get(server.url + "/demo")
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/html")
    assert "default-src 'self'" in r.headers["content-security-policy"]
    for name in ("demo.js", "demo.css"):
        assert httpx.get(f"{server.url}/demo/{name}").status_code == 200
    assert httpx.get(server.url + "/demo/../api/app.py").status_code == 404
    assert httpx.get(server.url + "/demo/app.py").status_code == 404


def test_demo_page_accepts_a_dropped_photo(server: Server, browser, photos) -> None:
    """Drag and drop: a File in a DataTransfer dropped on the first image's zone."""
    page = browser.new_page()
    page.goto(server.url + "/demo")
    data = list(photos["a1"].read_bytes())
    page.evaluate(
        """(bytes) => {
            const dt = new DataTransfer();
            dt.items.add(new File([new Uint8Array(bytes)], 'dropped.jpg', {type: 'image/jpeg'}));
            const zone = document.querySelector('#slot1 .drop');
            zone.dispatchEvent(new DragEvent('dragover', {dataTransfer: dt, bubbles: true}));
            zone.dispatchEvent(new DragEvent('drop', {dataTransfer: dt, bubbles: true}));
        }""",
        data,
    )
    page.wait_for_selector("#slot1 .drop.filled", timeout=10_000)
    side = cv2.imread(str(photos["a1"])).shape[1]
    assert page.evaluate("() => document.querySelector('#slot1 canvas').width") == side
    assert page.inner_text("#face1") == f"{side}×{side} px"
    page.close()


def test_api_docs_render_offline(server: Server, browser) -> None:
    """/docs renders the compare operation with every request off this server refused."""
    page = browser.new_page()
    outside: list[str] = []

    def only_local(route) -> None:
        if route.request.url.startswith(server.url):
            route.continue_()
        else:
            outside.append(route.request.url)
            route.abort()

    page.route("**/*", only_local)
    page.goto(server.url + "/docs")
    page.wait_for_selector(
        '.opblock-summary-path[data-path="/aiface/face-compare/v1"]', timeout=30_000
    )
    page.screenshot(path=str(SHOTS / "api-docs.png"))
    assert not outside, outside
    page.close()


def test_demo_page_document_flag(server: Server, api_key: str, browser, photos) -> None:
    """A passport page as image1 with its flag: the portrait is described, no box drawn."""
    from conftest import DOCS, need

    card = need(DOCS) / "specimens" / "100_pass-hrv.jpg"  # a passport data page
    page = browser.new_page()
    page.goto(server.url + "/demo")
    page.fill("#key", api_key)
    page.set_input_files("#file1", str(card))
    page.set_input_files("#file2", str(photos["a1"]))
    page.check("#image1_is_document")
    page.wait_for_function("() => !document.querySelector('#compare').disabled", timeout=10_000)
    page.click("#compare")
    page.wait_for_selector("#result[data-state]:not([data-state=busy])", timeout=60_000)
    page.screenshot(path=str(SHOTS / "document.png"), full_page=True)
    assert page.get_attribute("#result", "data-state") == "done", page.inner_text("#error")
    assert "(on the document crop)" in page.inner_text("#face1")
    assert "image1_is_document" in page.inner_text("#numbers")
    assert page.inner_text("#face2").startswith("face ")
    page.close()
