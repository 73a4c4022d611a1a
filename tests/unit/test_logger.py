from __future__ import annotations

import pytest
import rich.markup
from hypothesis import given
from hypothesis import strategies as st
from rich.text import Text

from pywrap import logger


def test_messages_are_plain_text_not_markup(capsys: pytest.CaptureFixture[str]) -> None:
    logger.error("declare [tool.pyrel.stages.test] and run `pyrel lock`")
    logger.step("see [tool.pyrel] in pyproject.toml")
    err = capsys.readouterr().err
    assert "declare [tool.pyrel.stages.test] and run" in err
    assert "see [tool.pyrel] in" in err


# Text with what rich's markup reacts to: brackets, tag-like words, slashes, backslashes.
MARKUP_LIKE = st.text(alphabet=st.sampled_from(list("[]/\\=#@ab tool.x:")), max_size=30)


@given(MARKUP_LIKE)
def test_escape_is_rich_escape(text: str) -> None:
    assert logger.escape(text) == rich.markup.escape(text)


@given(MARKUP_LIKE)
def test_escaped_text_prints_as_rich_prints_it(text: str) -> None:
    assert logger.strip_markup(logger.escape(text)) == Text.from_markup(rich.markup.escape(text), emoji=False).plain


@pytest.mark.parametrize(
    "markup",
    [
        "[bold]stage source[/bold]: success",
        "[dim]pyrel:[/dim] \\[tool.pyrel] here",
        "[bold red]error:[/] x",
        "[green]     ok[/]  [bold]nix[/bold]: ",
        "a \\\\[bold]b[/bold] c",
        "plain [1, 2] list",
    ],
)
def test_markup_loses_its_tags_as_rich_prints_it(markup: str) -> None:
    assert logger.strip_markup(markup) == Text.from_markup(markup, emoji=False).plain


def test_captured_output_is_plain_and_rich_is_not_needed(capsys: pytest.CaptureFixture[str]) -> None:
    output = logger.Output(stderr=False)
    output.print("[bold]stage source[/bold]: success")
    output.print("keep [bold] as it is", markup=False)
    output.print_json('{"b": [1, "é"]}')
    assert capsys.readouterr().out == (
        'stage source: success\nkeep [bold] as it is\n{\n  "b": [\n    1,\n    "é"\n  ]\n}\n'
    )
    assert output._rich is None
