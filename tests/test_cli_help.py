"""`--help` teaches in an 80-column terminal: nothing cut off, options grouped, choices listed."""

import pytest

from rigs.emotions import EMOTIONS
from rigs.export import available_formats
from tests.test_cli_analyze import run_cli


def help_text(command: str, monkeypatch, capsys) -> str:
    monkeypatch.setenv("COLUMNS", "80")
    assert run_cli([command, "--help"]) == 0
    return capsys.readouterr().out


@pytest.mark.parametrize("command", ["talk", "rig", "analyze", "synth", "demo"])
def test_help_fits_80_columns_and_cuts_nothing_off(command, monkeypatch, capsys):
    text = help_text(command, monkeypatch, capsys)
    assert max(len(line) for line in text.splitlines()) <= 80
    assert "…" not in text, text


@pytest.mark.parametrize("command", ["talk", "rig"])
def test_talk_and_rig_group_their_options_and_list_the_choices(command, monkeypatch, capsys):
    text = help_text(command, monkeypatch, capsys)
    for panel in ("Speech", "Emotion", "Motion", "Output"):
        assert f"─ {panel} ─" in text
    flat = " ".join(text.replace("│", " ").split())
    assert ", ".join(EMOTIONS) in flat
    if command == "rig":
        assert ", ".join(available_formats()) in flat


def test_the_crease_depth_defaults_agree():
    """The CLI and the web app cannot import the renderer's default at start-up (it loads the renderer)."""
    import inspect

    from generation.talking_face.wrinkles import DEFAULT_DEPTH
    from studio.commands.options import CREASE_DEPTH
    from studio.commands.talk import talk

    assert CREASE_DEPTH == DEFAULT_DEPTH == inspect.signature(talk).parameters["wrinkles"].default.default
