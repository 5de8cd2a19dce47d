"""Audit data stored with every shared run (lib.view.audit_data)."""

from __future__ import annotations

import importlib.metadata

from lib.view import audit_data


def test_audit_names_versions_and_the_salience_precision(monkeypatch):
    monkeypatch.delenv("STUDIO_SALIENCE_PRECISION", raising=False)
    audit = audit_data()
    assert audit["salience_precision"] == "mixed"
    assert audit["libraries"]["jax"] == importlib.metadata.version("jax")
    monkeypatch.setenv("STUDIO_SALIENCE_PRECISION", "float32")
    assert audit_data()["salience_precision"] == "float32"
    monkeypatch.setenv("STUDIO_SALIENCE_PRECISION", "fp8")  # a bad setting never breaks a save
    assert audit_data()["salience_precision"] == "invalid STUDIO_SALIENCE_PRECISION"
