from __future__ import annotations

import hashlib
from pathlib import Path

import pytest

from pywrap.adapters import nix, nixcache
from pywrap.storepath import NIX_BASE32_ALPHABET, fixed_output_path, nix_base32, parse_derivation, store_name


def nix_base32_to_hex(text: str) -> str:
    """Decode Nix's base32 (as printed by `nix-hash --base32`) to hex."""
    length = len(text) * 5 // 8
    value = bytearray(length)
    for n, char in enumerate(reversed(text)):
        digit = NIX_BASE32_ALPHABET.index(char)
        bit = n * 5
        byte, offset = divmod(bit, 8)
        value[byte] |= (digit << offset) & 0xFF
        if byte + 1 < length:
            value[byte + 1] |= digit >> (8 - offset)
    return bytes(value).hex()


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
    [
        ("busybox-static_1%3a1.35.0-4_amd64.deb", "busybox-static_1_3a1.35.0-4_amd64.deb"),
        ("pkg_1.0~rc1_all.deb", "pkg_1.0_rc1_all.deb"),
        (".hidden", "hidden"),
    ],
)
def test_store_names_are_valid(filename: str, expected: str) -> None:
    assert store_name(filename) == expected


# A stage derivation as Nix 2.8 writes it (paths shortened), with an env value that needs escapes.
STAGE_DRV = (
    'Derive([("out","/nix/store/aaa-hello-source","","")],'
    '[("/nix/store/bbb-root.drv",["out"]),("/nix/store/ccc-python.drv",["dev","out"])],'
    '["/nix/store/ddd-source","/nix/store/eee-stage.sh"],"x86_64-linux","/nix/store/fff-busybox/bin/sh",'
    '["-eu","/nix/store/eee-stage.sh"],'
    '[("run","echo \\"a ] (b)\\"\\n\\\\x\\ttab"),("out","/nix/store/aaa-hello-source")])'
)


def test_a_derivation_file_names_its_outputs_and_inputs() -> None:
    derivation = parse_derivation(STAGE_DRV + "\n")
    assert derivation.outputs == {"out": "/nix/store/aaa-hello-source"}
    assert derivation.input_derivations == {
        "/nix/store/bbb-root.drv": ("out",),
        "/nix/store/ccc-python.drv": ("dev", "out"),
    }
    assert derivation.input_sources == ("/nix/store/ddd-source", "/nix/store/eee-stage.sh")


def test_a_fixed_output_derivation_keeps_its_hash_fields_apart() -> None:
    text = (
        'Derive([("out","/nix/store/ggg-demo.whl","sha256","9f86d08")],[],[],"builtin","builtin:fetchurl",[],'
        '[("url","file:///x")])'
    )
    derivation = parse_derivation(text)
    assert derivation.outputs == {"out": "/nix/store/ggg-demo.whl"}
    assert derivation.input_derivations == {} and derivation.input_sources == ()


@pytest.mark.parametrize(
    "text",
    [
        "",
        "Derive(",
        "Derive([],[])",
        'Derive(["out"],[],[],"x")',
        "{}",
        'DrvWithVersion("xp-dyn-drv",[],[],[])',
        STAGE_DRV[:-1],
    ],
)
def test_what_is_not_a_derivation_is_refused(text: str) -> None:
    with pytest.raises(ValueError, match="not a derivation"):
        parse_derivation(text)


def _write_derivation(root: Path, path: str, text: str) -> None:
    (root / path.lstrip("/")).parent.mkdir(parents=True, exist_ok=True)
    (root / path.lstrip("/")).write_text(text)


def test_a_sandbox_holds_the_input_sources_and_every_output_of_the_input_derivations(
    tmp_path: Path,
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    monkeypatch.setenv(nixcache.STORE_VARIABLE, str(tmp_path))  # a chroot store: files under tmp_path
    _write_derivation(
        tmp_path,
        "/nix/store/bbb-root.drv",
        'Derive([("out","/nix/store/rrr-root","","")],[],[],"x86_64-linux","/bin/sh",[],[])',
    )
    _write_derivation(
        tmp_path,
        "/nix/store/ccc-python.drv",
        'Derive([("dev","/nix/store/ppp-python-dev","",""),("out","/nix/store/ppp-python","","")],'
        '[],[],"x86_64-linux","/bin/sh",[],[])',
    )
    stage = parse_derivation(STAGE_DRV)
    assert nix.sandbox_inputs(stage) == [
        "/nix/store/ddd-source",
        "/nix/store/eee-stage.sh",
        "/nix/store/ppp-python",
        "/nix/store/ppp-python-dev",
        "/nix/store/rrr-root",
    ]
    assert nix.read_derivation("/nix/store/bbb-root.drv") is not None
    (tmp_path / "nix/store/ccc-python.drv").unlink()  # collected: the caller evaluates the inputs instead
    assert nix.sandbox_inputs(stage) is None and nix.read_derivation("/nix/store/ccc-python.drv") is None
