"""The first document request after start-up against later ones, over HTTP.

    PYTHONPATH=src python benchmarks/first_document.py [--repeats 3] [--later 5]

Per repeat: a fresh server (``LocalServer``: a real ``facecompare serve`` process, ready when
``/readyz`` answers 200), then the same request ``1 + later`` times: a synthetic card photo
(held-out people, a different card per repeat) as ``image1`` with ``image1_is_document`` and
the person's LFW photo upscaled to 960 × 960 as ``image2``. Prints the wall time of the first
request, the median of the later ones, their ratio, and the start-up time (process start to
ready), per repeat and as medians.
"""

from __future__ import annotations

import argparse
import base64
import statistics
import sys
import time

import cv2
import httpx

from facecompare.api.app import COMPARE_PATH
from facecompare.lab.bench.host import cpu_model
from facecompare.lab.data.datasets import shared_dir
from facecompare.lab.data.synth_cards import card_plan, render
from facecompare.lab.server import LocalServer


def b64(img) -> str:
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 90])
    assert ok
    return base64.b64encode(buf.tobytes()).decode()


def main() -> None:
    ap = argparse.ArgumentParser()
    ap.add_argument("--repeats", type=int, default=3, help="fresh servers")
    ap.add_argument("--later", type=int, default=5, help="requests after the first, per server")
    args = ap.parse_args()
    datasets = shared_dir() / "datasets"
    lfw, docs = datasets / "lfw", datasets / "id-documents"
    plan = card_plan(lfw, "test", args.repeats, seed=7)
    print(f"$ {' '.join(['python', *sys.argv])}")
    print(f"CPU: {cpu_model()}")
    firsts, laters, ratios = [], [], []
    for k, (person, source, seed) in enumerate(plan):
        card = render(lfw, docs, person, source, seed).image
        selfie = cv2.resize(cv2.imread(str(lfw / "images" / source)), (960, 960))
        body = {"image1": b64(card), "image2": b64(selfie), "image1_is_document": True}
        with LocalServer() as server:
            key = server.new_key("first-document")
            headers = {"x-aigen-key": key}
            times, answers = [], []
            with httpx.Client(timeout=120) as http:
                for _ in range(1 + args.later):
                    t0 = time.perf_counter()
                    r = http.post(server.url + COMPARE_PATH, json=body, headers=headers)
                    times.append(time.perf_counter() - t0)
                    answers.append(r.json().get("error_message", "ok"))
        first, later = times[0], statistics.median(times[1:])
        firsts.append(first)
        laters.append(later)
        ratios.append(first / later)
        print(
            f"server {k + 1}: ready after {server.startup_s:.2f} s; first {first * 1000:.0f} ms, "
            f"later median {later * 1000:.0f} ms (of {args.later}), ratio {first / later:.2f}; "
            f"answers {sorted(set(answers))}"
        )
    print(
        f"median over {len(plan)} servers: first {statistics.median(firsts) * 1000:.0f} ms, "
        f"later {statistics.median(laters) * 1000:.0f} ms, ratio {statistics.median(ratios):.2f}"
    )


if __name__ == "__main__":
    main()
