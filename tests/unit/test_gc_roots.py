"""Which locked artifacts a GC root of pyrel's keeps valid, read from the links alone."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

from pywrap.adapters import nix


def test_only_existing_targets_of_the_root_links_count(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("NIX_REMOTE", raising=False)
    store = tmp_path / "store"
    store.mkdir()
    (store / "aaa-one.deb").write_text("one")
    (store / "bbb-two.whl").write_text("two")
    roots = tmp_path / "gcroots"
    roots.mkdir()
    os.symlink(store / "aaa-one.deb", roots / "batch")
    os.symlink(store / "ccc-gone.deb", roots / "batch-2")  # collected before pyrel rooted it again
    (roots / "not-a-link").write_text("")
    wanted = [str(store / name) for name in ("aaa-one.deb", "bbb-two.whl", "ccc-gone.deb")]
    assert nix.rooted_paths(roots, wanted) == {str(store / "aaa-one.deb")}
    assert nix.rooted_paths(tmp_path / "no-roots-yet", wanted) == set()


@pytest.mark.parametrize("store", ["/tmp/chroot-store", "ssh-ng://builder", "local?root=/tmp/chroot-store"])
def test_another_store_is_always_asked(tmp_path: Path, monkeypatch: pytest.MonkeyPatch, store: str) -> None:
    target = tmp_path / "aaa-one.deb"
    target.write_text("one")
    os.symlink(target, tmp_path / "batch")
    monkeypatch.setenv("NIX_REMOTE", store)
    assert nix.rooted_paths(tmp_path, [str(target)]) == set()
    for default in ("", "daemon", "auto"):
        monkeypatch.setenv("NIX_REMOTE", default)
        assert nix.rooted_paths(tmp_path, [str(target)]) == {str(target)}
