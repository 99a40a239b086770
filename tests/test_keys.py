from __future__ import annotations

import sqlite3

import pytest

from facecompare.api.auth import KeyError_, KeyStore


def test_create_verify_revoke(tmp_path):
    store = KeyStore(tmp_path / "k.db")
    key = store.create("alice")
    assert key.startswith("fc_") and len(key) > 40
    assert store.verify(key) == "alice"
    assert (
        store.verify(key + "x") is None and store.verify("") is None and store.verify(None) is None
    )
    with pytest.raises(KeyError_):
        store.create("alice")
    store.revoke("alice")
    assert store.verify(key) is None
    with pytest.raises(KeyError_):
        store.revoke("alice")
    assert [k.active for k in store.list()] == [False]


def test_only_hashes_stored(tmp_path):
    store = KeyStore(tmp_path / "k.db")
    key = store.create("bob")
    store.close()
    dump = "\n".join(sqlite3.connect(tmp_path / "k.db").iterdump())
    assert key not in dump and key[3:] not in dump


def test_revocation_seen_by_another_process_handle(tmp_path):
    server_side = KeyStore(tmp_path / "k.db")
    cli_side = KeyStore(tmp_path / "k.db")
    key = cli_side.create("carol")
    assert server_side.verify(key) == "carol"
    cli_side.revoke("carol")
    assert server_side.verify(key) is None
