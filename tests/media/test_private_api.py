"""Guard: the aiortc/aioice internals media/_aiortc_private.py relies on are still there."""

from __future__ import annotations

import ast
import importlib.metadata
import pathlib

import aioice.ice
import pytest

import media
from media import PrivateApiError
from media import _aiortc_private as private

MEDIA_DIR = pathlib.Path(media.__file__).parent


async def test_internals_are_as_expected() -> None:
    await private.check_internals()


def test_pinned_versions_are_installed() -> None:
    for dist, version in private.PINNED_VERSIONS.items():
        assert importlib.metadata.version(dist) == version


def test_other_versions_fail_loudly(monkeypatch: pytest.MonkeyPatch) -> None:
    real = importlib.metadata.version
    monkeypatch.setattr(
        importlib.metadata, "version", lambda d: "9.9.9" if d == "aiortc" else real(d)
    )
    with pytest.raises(PrivateApiError, match=r"aiortc==1\.16\.0 but 9\.9\.9"):
        private._check_versions()


def test_host_addresses_are_restricted() -> None:
    private.restrict_host_addresses(["127.0.0.1", "::1"])
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=False) == ["127.0.0.1"]
    assert aioice.ice.get_host_addresses(use_ipv4=True, use_ipv6=True) == ["127.0.0.1", "::1"]
    private.restrict_host_addresses(["127.0.0.1"])


def test_no_other_module_touches_private_members() -> None:
    """Only _aiortc_private.py may use aiortc/aioice underscore members or aioice at all."""
    offenders = []
    for path in MEDIA_DIR.glob("*.py"):
        if path.name == "_aiortc_private.py":
            continue
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                ("aioice", "pylibsrtp")
            ):
                offenders.append(f"{path.name}: imports {node.module}")
            if isinstance(node, ast.Import):
                offenders += [
                    f"{path.name}: imports {a.name}"
                    for a in node.names
                    if a.name.startswith(("aioice", "pylibsrtp"))
                ]
            if isinstance(node, ast.ImportFrom) and node.module and node.module.startswith(
                "aiortc"
            ):
                offenders += [
                    f"{path.name}: imports {node.module}.{a.name}"
                    for a in node.names
                    if a.name.startswith("_")
                ]
    assert offenders == []


def test_media_never_imports_meetingd() -> None:
    for path in MEDIA_DIR.rglob("*.py"):
        tree = ast.parse(path.read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.Import):
                assert not any(a.name.split(".")[0] == "meetingd" for a in node.names), path
            if isinstance(node, ast.ImportFrom) and node.module:
                assert node.module.split(".")[0] != "meetingd", path
