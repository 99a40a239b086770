"""Schema-based fuzzing (schemathesis) of the real server from its own /openapi.json: every
generated request, valid or not, with a good, bad or no key, gets a documented non-5xx answer."""

from __future__ import annotations

from collections import Counter
from collections.abc import Iterator

import pytest

schemathesis = pytest.importorskip("schemathesis", reason="pip install -e '.[test]'")
from hypothesis import HealthCheck, Phase, given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

from conftest import Server  # noqa: E402

COMPARE_ERRORS = {
    400: (
        "IMAGE_ERROR_UNSUPPORTED_FORMAT: ",
        "INVALID_IMAGE_SIZE: ",
        "MISSING_ARGUMENTS: ",
        "BAD_ARGUMENTS: ",
    ),
    401: ("AUTHENTICATION_ERROR",),
    413: ("REQUEST_ENTITY_TOO_LARGE",),
    429: ("CONCURRENCY_LIMIT_EXCEEDED",),
}
SEEN: Counter[int] = Counter()


@pytest.fixture(scope="module")
def fuzz_target(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[Server, str]]:
    srv = Server(tmp_path_factory.mktemp("fuzz"))
    yield srv, srv.new_key("fuzz")
    srv.stop()


def operations(url: str) -> list:
    schema = schemathesis.openapi.from_url(url + "/openapi.json")
    return [result.ok() for result in schema.get_all_operations()]


@pytest.mark.parametrize("mode", ["positive", "negative"])
def test_no_server_errors(fuzz_target, mode):
    from schemathesis.generation import GenerationMode

    srv, key = fuzz_target
    ops = operations(srv.url)
    assert any(op.path == "/aiface/face-compare/v1" for op in ops)
    checks = [schemathesis.checks.not_a_server_error, *_optional_checks(mode)]
    for op in ops:
        post = op.method.upper() == "POST"
        if mode == "negative" and not post:
            continue  # nothing to break in a GET without parameters
        strategy = op.as_strategy(generation_mode=GenerationMode(mode))

        @settings(
            max_examples=(250 if mode == "negative" else 150) if post else 10,
            deadline=None,
            phases=[Phase.generate],
            suppress_health_check=list(HealthCheck),
            database=None,
        )
        @given(case=strategy, auth=st.sampled_from(["good", "good", "none", "wrong"]))
        def check(case, auth):
            headers = dict(case.headers or {})
            if auth == "good":
                headers["x-aigen-key"] = key
            elif auth == "wrong":
                headers["x-aigen-key"] = "fc_" + "x" * 43
            response = case.call(base_url=srv.url, headers=headers, timeout=60)
            SEEN[response.status_code] += 1
            assert response.status_code < 500, response.text
            assert "Traceback" not in response.text
            if case.path == "/aiface/face-compare/v1" and response.status_code in COMPARE_ERRORS:
                data = response.json()
                assert [data["request_id"]] == response.headers["x-request-id"]
                assert isinstance(data["time_used"], float)
                assert data["error_message"].startswith(COMPARE_ERRORS[response.status_code])
            case.validate_response(response, checks=checks)

        check()
    assert {400, 401} <= set(SEEN), SEEN  # the fuzzer got past the key and into the checks


def _optional_checks(mode: str) -> list:
    from schemathesis.specs.openapi import checks as oc

    found = [oc.content_type_conformance, oc.response_schema_conformance]
    return [*found, oc.status_code_conformance] if mode == "positive" else found
