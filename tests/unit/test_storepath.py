from __future__ import annotations

import hashlib

import pytest

from pywrap.storepath import fixed_output_path, nix_base32, nix_base32_to_hex, store_name


def test_flat_fixed_output_path_matches_nix() -> None:
    # `nix-store --add-fixed sha256 zlib1g_1_3a1.2.13.dfsg-1_amd64.deb` on Nix 2.8.
    digest = "d7dd1d1411fedf27f5e27650a6eff20ef294077b568f4c8c5e51466dc7c08ce4"
    name = "zlib1g_1_3a1.2.13.dfsg-1_amd64.deb"
    assert fixed_output_path(digest, name) == f"/nix/store/ipvy2hmfx990c7ikd1vgdfq7i8zzqk0g-{name}"
    assert fixed_output_path(digest, name) != fixed_output_path(digest, name, recursive=True)


def test_recursive_path_matches_nix() -> None:
    # `nix-store --add-fixed --recursive sha256 bb` (a dir holding bin/busybox), Nix 2.8.
    nar = nix_base32_to_hex("0h2cvvd5bkprq91zyak0149xwqr6p5hc0vw1xrshlzfg6z8dlk29")
    assert fixed_output_path(nar, "bb", recursive=True) == "/nix/store/d0x4sjwksanirbaxlb05009gy5lvia3q-bb"


@pytest.mark.parametrize("data", [b"", b"pyrel", bytes(range(32))])
def test_base32_round_trip(data: bytes) -> None:
    digest = hashlib.sha256(data).digest()
    assert nix_base32_to_hex(nix_base32(digest)) == digest.hex()


@pytest.mark.parametrize(
    ("filename", "expected"),
    [("busybox-static_1%3a1.35.0-4_amd64.deb", "busybox-static_1_3a1.35.0-4_amd64.deb"),
     ("pkg_1.0~rc1_all.deb", "pkg_1.0_rc1_all.deb"),
     (".hidden", "hidden")],
)
def test_store_names_are_valid(filename: str, expected: str) -> None:
    assert store_name(filename) == expected
