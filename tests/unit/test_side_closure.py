"""The closure a build computes while Nix builds the stage is used only for the output it built."""

from __future__ import annotations

from concurrent.futures import Future

from pywrap.errors import PyrelError
from pywrap.execution.build import _side_closure
from pywrap.execution.closure import ClosureSummary, DerivationClosure

SUMMARY = ClosureSummary(packages=("deb:libc6=2.36-9",), store_paths=("/nix/store/aaa-root",), bytes=10)
OUT = "/nix/store/bbb-demo-source"


def _done(value: DerivationClosure | None = None, error: Exception | None = None) -> Future[DerivationClosure | None]:
    future: Future[DerivationClosure | None] = Future()
    if error is not None:
        future.set_exception(error)
    else:
        future.set_result(value)
    return future


def test_the_side_closure_of_the_derivation_that_built_the_output_is_taken() -> None:
    found = DerivationClosure("/nix/store/ccc-demo-source.drv", (OUT,), SUMMARY)
    assert _side_closure(_done(found), OUT) == (SUMMARY, "/nix/store/ccc-demo-source.drv")


def test_anything_else_leaves_the_closure_to_be_asked_again() -> None:
    other = DerivationClosure("/nix/store/ddd-demo-source.drv", ("/nix/store/eee-demo-source",), SUMMARY)
    assert _side_closure(None, OUT) == (None, None)  # no build started (a no-op, or a cached output)
    assert _side_closure(_done(other), OUT) == (None, None)  # a build of another output (--check, a retry)
    assert _side_closure(_done(None), OUT) == (None, None)  # its .drv files could not be read
    assert _side_closure(_done(error=PyrelError("nix-store failed")), OUT) == (None, None)
