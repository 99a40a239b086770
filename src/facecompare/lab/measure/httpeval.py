"""LFW pairs through a running server over HTTP, images upscaled to meet the 480×480 rule."""

from __future__ import annotations

import base64
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import cv2
import httpx
import numpy as np

from ..data.datasets import Pair, lfw_pairs
from .evaluate import best_threshold

COMPARE_PATH = "/aiface/face-compare/v1"


@dataclass
class HttpFoldResult:
    pairs: int
    lost: list[str]  # pairs without a confidence, with the server's answer
    best_accuracy: float
    tar_at_err_01: float
    far_at_err_01: float
    impostor_pairs: int
    thresholds: dict[str, float]
    latencies: np.ndarray  # seconds, client side

    def table(self) -> str:
        p50, p95 = np.percentile(self.latencies, [50, 95]) * 1000
        return "\n".join(
            [
                f"LFW fold over HTTP, {self.pairs} pairs, images upscaled to 500×500",
                f"  best-threshold accuracy {self.best_accuracy * 100:.2f} %",
                f"  requests lost           {len(self.lost)}",
                f"  thresholds              {self.thresholds}",
                f"  at err_01: TAR {self.tar_at_err_01 * 100:.2f} %, FAR "
                f"{self.far_at_err_01 * 100:.2f} % of {self.impostor_pairs} impostor pairs",
                f"  latency p50 {p50:.0f} ms, p95 {p95:.0f} ms (client side, concurrency 2)",
            ]
        )


def upscaled_jpeg_b64(path: Path, side: int = 500) -> str:
    img = cv2.imread(str(path), cv2.IMREAD_COLOR)
    img = cv2.resize(img, (side, side), interpolation=cv2.INTER_CUBIC)
    ok, buf = cv2.imencode(".jpg", img, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return base64.b64encode(buf.tobytes()).decode()


def run_fold(
    url: str,
    key: str,
    lfw_root: Path,
    fold: int = 0,
    limit: int | None = None,
    concurrency: int = 2,
) -> HttpFoldResult:
    pairs: list[Pair] = [p for p in lfw_pairs(lfw_root) if p.fold == fold]
    if limit:
        same = [p for p in pairs if p.same][: limit // 2]
        pairs = same + [p for p in pairs if not p.same][: limit - len(same)]
    images = lfw_root / "images"

    def one(p: Pair) -> tuple[dict, float]:
        body = {
            "image1": upscaled_jpeg_b64(images / p.a),
            "image2": upscaled_jpeg_b64(images / p.b),
        }
        with httpx.Client(timeout=60) as client:
            r = client.post(url + COMPARE_PATH, json=body, headers={"x-aigen-key": key})
        return r.json() | {"_status": r.status_code}, r.elapsed.total_seconds()

    with ThreadPoolExecutor(concurrency) as pool:
        answers = list(pool.map(one, pairs))
    conf, labels, lost, lat = [], [], [], []
    thresholds: dict[str, float] = {}
    for p, (a, t) in zip(pairs, answers, strict=True):
        lat.append(t)
        if "confidence" not in a:
            lost.append(f"{p.a} {p.b}: {a.get('_status')} {a.get('error_message')}")
            conf.append(-1.0)
        else:
            conf.append(a["confidence"])
            thresholds = a["thresholds"]
        labels.append(p.same)
    s, y = np.array(conf), np.array(labels)
    _, acc = best_threshold(s, y)
    t01 = thresholds.get("err_01", 101.0)
    return HttpFoldResult(
        pairs=len(pairs),
        lost=lost,
        best_accuracy=acc,
        tar_at_err_01=float((s[y] >= t01).mean()),
        far_at_err_01=float((s[~y] >= t01).mean()),
        impostor_pairs=int((~y).sum()),
        thresholds=thresholds,
        latencies=np.array(lat),
    )
