from __future__ import annotations

import pytest

from pywrap import logger


def test_messages_are_plain_text_not_markup(capsys: pytest.CaptureFixture[str]) -> None:
    logger.error("declare [tool.pyrel.stages.test] and run `pyrel lock`")
    logger.step("see [tool.pyrel] in pyproject.toml")
    err = capsys.readouterr().err
    assert "declare [tool.pyrel.stages.test] and run" in err
    assert "see [tool.pyrel] in" in err
