"""Pure computation of Nix store paths for fixed-output artifacts.

Knowing the path an artifact will have lets pyrel check the store with one
`nix-store --check-validity` call instead of re-adding every file each run.
"""

from __future__ import annotations

import hashlib
import re

NIX_BASE32_ALPHABET = "0123456789abcdfghijklmnpqrsvwxyz"
STORE_NAME_DISALLOWED = re.compile(r"[^A-Za-z0-9+\-._?=]")


def store_name(filename: str) -> str:
    """A name Nix accepts for a store path (no '%', '~', ':' ...; no leading '.')."""
    name = STORE_NAME_DISALLOWED.sub("_", filename)
    return name.lstrip(".") or "artifact"


def nix_base32(data: bytes) -> str:
    length = (len(data) * 8 - 1) // 5 + 1
    chars = []
    for n in range(length - 1, -1, -1):
        bit = n * 5
        byte, offset = divmod(bit, 8)
        value = data[byte] >> offset
        if byte + 1 < len(data):
            value |= data[byte + 1] << (8 - offset)
        chars.append(NIX_BASE32_ALPHABET[value & 0x1F])
    return "".join(chars)


def _compress_hash(digest: bytes, size: int) -> bytes:
    result = bytearray(size)
    for index, byte in enumerate(digest):
        result[index % size] ^= byte
    return bytes(result)


def _make_store_path(kind: str, inner_hex: str, name: str, store_dir: str) -> str:
    fingerprint = f"{kind}:sha256:{inner_hex}:{store_dir}:{name}"
    digest = hashlib.sha256(fingerprint.encode()).digest()
    return f"{store_dir}/{nix_base32(_compress_hash(digest, 20))}-{name}"


def fixed_output_path(sha256_hex: str, name: str, *, recursive: bool = False, store_dir: str = "/nix/store") -> str:
    """The path of ``nix-store --add-fixed [--recursive] sha256`` for ``name``."""
    if recursive:
        # Recursive sha256 uses the "source" scheme with the NAR hash directly.
        return _make_store_path("source", sha256_hex, name, store_dir)
    inner = hashlib.sha256(f"fixed:out:sha256:{sha256_hex}:".encode()).hexdigest()
    return _make_store_path("output:out", inner, name, store_dir)


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
