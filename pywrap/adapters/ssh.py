"""Thin adapter: SSH signatures with `ssh-keygen -Y` (OpenSSH 8.1+), which work offline.

Every signature pyrel makes or checks is in the ``pyrel`` namespace, so a
signature made for another purpose (git commits use ``git``) never verifies here.
"""

from __future__ import annotations

from pathlib import Path

from pywrap.adapters.run import require_tool, run, tail
from pywrap.errors import SigningError

NAMESPACE = "pyrel"
INSTALL_HINT = "install OpenSSH's client tools: `sudo apt-get install openssh-client`"


def ssh_keygen() -> str:
    return require_tool("ssh-keygen", INSTALL_HINT)


def sign(key: Path, data: Path, namespace: str = NAMESPACE) -> str:
    """The armored signature of ``data`` by ``key`` (a private key, or a public key held by ssh-agent)."""
    result = run([ssh_keygen(), "-Y", "sign", "-f", str(key), "-n", namespace], stdin_path=data, check=False)
    if result.returncode != 0 or "BEGIN SSH SIGNATURE" not in result.stdout:
        raise SigningError(
            f"ssh-keygen could not sign {data} with {key}:\n{tail(result.stderr, 10)}",
            hint="check the key's path (and that ssh-agent holds it, for a public key)",
        )
    return result.stdout


def verify(allowed_signers: Path, identity: str, signature: Path, data: Path, namespace: str = NAMESPACE) -> str | None:
    """None when ``signature`` is a good signature of ``data`` by ``identity``; else ssh-keygen's reason."""
    result = run(
        [
            ssh_keygen(),
            "-Y",
            "verify",
            "-f",
            str(allowed_signers),
            "-I",
            identity,
            "-n",
            namespace,
            "-s",
            str(signature),
        ],
        stdin_path=data,
        check=False,
    )
    if result.returncode == 0:
        return None
    message = (result.stderr or result.stdout).strip()
    return message.splitlines()[-1] if message else f"ssh-keygen exit {result.returncode}"
