"""Options that `talk` and `rig` share, declared once so their names, help and `--help` panels agree.

Options are grouped into panels (speech, emotion, motion, video, output): each panel is its own table in
`--help`, so a wide option in one group does not squeeze the help text of every other one in 80 columns.
"""

from __future__ import annotations

import typer

from rigs.emotions import EMOTIONS
from rigs.errors import AffectStudioError

SPEECH, EMOTION, MOTION, VIDEO, OUTPUT = "Speech", "Emotion", "Motion", "Video", "Output"

# The default depth of expression creases for `talk` and the web app: the renderer's
# `generation.talking_face.wrinkles.DEFAULT_DEPTH`, which cannot be imported here (it loads the renderer).
CREASE_DEPTH = 0.5

TEXT = typer.Option(
    None, "--text", help="What is said: spoken by offline TTS, or with AUDIO its transcript.", rich_help_panel=SPEECH
)
TRANSCRIPT = typer.Option(None, "--transcript", help="What is said, as a text file.", rich_help_panel=SPEECH)
VOICE = typer.Option("espeak:en-us", "--voice", help="TTS voice for --text without audio.", rich_help_panel=SPEECH)

EMOTION_NAME = typer.Option(
    None,
    "--emotion",
    help=f"An emotion and intensity, e.g. happy:0.8: {', '.join(EMOTIONS)} (default: from the speech).",
    rich_help_panel=EMOTION,
)
VALENCE = typer.Option(None, "--valence", min=-1, max=1, help="Emotion as valence...", rich_help_panel=EMOTION)
AROUSAL = typer.Option(None, "--arousal", min=-1, max=1, help="...and arousal.", rich_help_panel=EMOTION)
EMOTION_TRACK = typer.Option(
    None, "--emotion-track", help="Keyframes, e.g. 0s:neutral,2s:sad:0.7", rich_help_panel=EMOTION
)
EXPRESSION_SCALE = typer.Option(1.0, "--expression-scale", help="Emotion strength scale.", rich_help_panel=EMOTION)

HEAD_MOTION = typer.Option(1.0, "--head-motion", help="Head motion scale (0 = still).", rich_help_panel=MOTION)
BLINK_RATE = typer.Option(1.0, "--blink-rate", help="Blink rate scale (0 = no blinks).", rich_help_panel=MOTION)
SEED = typer.Option(0, "--seed", help="Seed for blinks, gaze and head motion.", rich_help_panel=MOTION)


def emotion_option(emotion: str | None, valence: float | None, arousal: float | None, track: str | None) -> str:
    """Combine --emotion / --valence+--arousal / --emotion-track into one emotion spec string."""
    given = [name for name, value in (("--emotion", emotion), ("--emotion-track", track)) if value is not None]
    if valence is not None or arousal is not None:
        if valence is None or arousal is None:
            raise AffectStudioError("give both --valence and --arousal (each in [-1, 1])")
        given.append("--valence/--arousal")
    if len(given) > 1:
        raise AffectStudioError(f"choose one of {', '.join(given)}")
    if valence is not None:
        return f"va:{valence},{arousal}"
    return track or emotion or "auto"
