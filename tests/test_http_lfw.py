"""LFW fold 1 (600 pairs) over real HTTP: the contract at the accuracy the README states."""

from __future__ import annotations

from facecompare.lab.measure.httpeval import run_fold


def test_lfw_fold1_over_http(server, api_key, lfw):
    result = run_fold(server.url, api_key, lfw, fold=0)
    print("\n" + result.table())
    assert result.pairs == 600
    assert result.lost == []
    assert result.best_accuracy >= 0.99
    assert result.far_at_err_01 <= 0.01  # 300 impostor pairs: 0.1 % is 0.3 of a pair
    # err_01 is the strictest of LFW's and a single population's (Korean) thresholds
    # (docs/accuracy.md): on mixed in-the-wild faces it costs TAR (96.67 % here,
    # 99.00 % with the LFW-only threshold); the promise it keeps is the FAR inside a population
    assert result.tar_at_err_01 >= 0.95
