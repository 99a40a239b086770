"""Two replicas behind a real nginx (Debian's package): the load is shared, keys are shared.

Skips with a message where nginx is not installed (apt-get install -y nginx-light).
"""

from __future__ import annotations

import asyncio
import base64
import sys
from pathlib import Path

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from conftest import jpeg_b64, lfw_image, upscaled
from facecompare.client import AsyncClient

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))
from benchmarks.fleet import Fleet, nginx_binary  # noqa: E402

PATH = "/aiface/face-compare/v1"


def served(url: str) -> float:
    text = httpx.get(url + "/metrics", timeout=10).text
    return sum(
        s.value
        for f in text_string_to_metric_families(text)
        for s in f.samples
        if s.name == "facecompare_requests_total" and s.labels["path"] == PATH
    )


def test_two_replicas_behind_nginx_share_the_load() -> None:
    if nginx_binary() is None:
        pytest.skip("nginx not installed (apt-get install -y nginx-light) - fleet not tested")
    data = base64.b64decode(jpeg_b64(upscaled(lfw_image("Aaron_Peirsol", 1))))
    with Fleet(2) as fleet:
        key = fleet.new_key("fleet")

        async def burst() -> list:
            async with AsyncClient(fleet.url, key) as fc:
                return await asyncio.gather(*(fc.compare(data, data) for _ in range(8)))

        results = asyncio.run(burst())
        assert all(r.confidence > 90 for r in results)
        counts = [served(u) for u in fleet.replica_urls]
        assert sum(counts) == 8 and min(counts) >= 1, counts
