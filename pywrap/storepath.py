"""Pure computation of Nix store paths for fixed-output artifacts, and reading a .drv file.

Knowing the path an artifact will have lets pyrel check the store with one
`nix-store --check-validity` call instead of re-adding every file each run.
Reading what a derivation file names (its outputs and inputs) spares a
`nix-store --query` process per question after a build.
"""

from __future__ import annotations

import hashlib
import re

import attrs

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


@attrs.frozen
class Derivation:
    """What a store derivation (``/nix/store/...drv``) names: its outputs and its inputs."""

    outputs: dict[str, str]  # output name -> store path ('' for a content-addressed output)
    input_derivations: dict[str, tuple[str, ...]]  # .drv path -> the output names it is used for
    input_sources: tuple[str, ...]


_ATERM_TOKEN = re.compile(r'\s*(?:"((?:[^"\\]|\\.)*)"|([\[\](),])|([A-Za-z]+))')
_ATERM_ESCAPE = re.compile(r"\\(.)", re.DOTALL)
_ATERM_ESCAPES = {"n": "\n", "r": "\r", "t": "\t"}


def _aterm(text: str) -> list[object]:
    """The terms of Nix's .drv syntax: strings, lists ``[...]`` (as lists), tuples and ``Name(...)`` (as tuples)."""
    stack: list[list[object]] = [[]]
    position, end = 0, len(text.rstrip())
    while position < end:
        match = _ATERM_TOKEN.match(text, position)
        if match is None:
            raise ValueError(f"not a derivation: unexpected {text[position : position + 20]!r}")
        position = match.end()
        string, punctuation, name = match.groups()
        if string is not None:
            stack[-1].append(_ATERM_ESCAPE.sub(lambda m: _ATERM_ESCAPES.get(m.group(1), m.group(1)), string))
        elif name is not None:
            stack[-1].append(name)
        elif punctuation in "[(":
            stack.append([])
        elif punctuation in "])":
            if len(stack) < 2:
                raise ValueError("not a derivation: unbalanced brackets")
            closed = stack.pop()
            stack[-1].append(closed if punctuation == "]" else tuple(closed))
    if len(stack) != 1:
        raise ValueError("not a derivation: unbalanced brackets")
    return stack[0]


def parse_derivation(text: str) -> Derivation:
    """The outputs and inputs of a .drv file's text (``Derive([outputs],[input drvs],[input srcs],...)``)."""
    term = _aterm(text)
    if not (len(term) == 2 and term[0] == "Derive" and isinstance(term[1], tuple) and len(term[1]) >= 3):
        raise ValueError("not a derivation: it does not start with Derive(")
    outputs, input_derivations, input_sources = term[1][:3]
    if not (
        isinstance(outputs, list)
        and all(isinstance(output, tuple) and len(output) == 4 for output in outputs)
        and isinstance(input_derivations, list)
        and all(isinstance(item, tuple) and len(item) == 2 and isinstance(item[1], list) for item in input_derivations)
        and isinstance(input_sources, list)
        and all(isinstance(path, str) for path in input_sources)
    ):
        raise ValueError("not a derivation: its outputs and inputs are not in the expected shape")
    return Derivation(
        outputs={str(name): str(path) for name, path, _, _ in outputs},
        input_derivations={str(path): tuple(str(name) for name in names) for path, names in input_derivations},
        input_sources=tuple(input_sources),
    )
