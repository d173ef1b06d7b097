"""`affect-studio rig`: speech or text + emotion -> facial rig curves for Unreal, Unity, Blender, 2D tools."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.table import Table

from rigs.export import available_formats
from studio.cli import app, console
from studio.commands import options
from studio.commands.analyze import read_transcript

log = logging.getLogger(__name__)


@app.command()
def rig(
    audio: Path | None = typer.Argument(None, help="Speech to animate (WAV, FLAC, OGG, MP3, M4A, or a video)."),
    text: str | None = options.TEXT,
    transcript: Path | None = options.TRANSCRIPT,
    voice: str = options.VOICE,
    emotion: str | None = options.EMOTION_NAME,
    valence: float | None = options.VALENCE,
    arousal: float | None = options.AROUSAL,
    emotion_track: str | None = options.EMOTION_TRACK,
    expression_scale: float = options.EXPRESSION_SCALE,
    mouth_amplitude: float = typer.Option(
        1.0, "--mouth-amplitude", help="Lip-sync articulation scale.", rich_help_panel=options.MOTION
    ),
    head_motion: float = options.HEAD_MOTION,
    blink_rate: float = options.BLINK_RATE,
    gaze: bool = typer.Option(True, "--gaze/--no-gaze", help="Eye saccades.", rich_help_panel=options.MOTION),
    seed: int = options.SEED,
    out: Path = typer.Option(
        Path("out/rig"), "--out", "-o", help="Folder for the exported curves.", rich_help_panel=options.OUTPUT
    ),
    formats: str = typer.Option(
        "all",
        "--formats",
        help=f"Comma-separated export formats, or all: {', '.join(available_formats())}.",
        rich_help_panel=options.OUTPUT,
    ),
    fps: float = typer.Option(60.0, "--fps", help="Frame rate: 24, 25, 30, 50 or 60.", rich_help_panel=options.OUTPUT),
    preview: bool = typer.Option(
        True,
        "--preview/--no-preview",
        help="Also render a mesh preview MP4 with the audio.",
        rich_help_panel=options.OUTPUT,
    ),
) -> None:
    """Make facial animation curves from SPEECH (or from --text alone) and export them.

    Lips close on every m, b and p; the emotion (estimated from the speech and text, or yours) shows in
    brows, eyes, cheeks and mouth; blinks, gaze and head motion are added. Exports: Live Link Face CSV
    (Unreal), MetaHuman curves CSV, glTF .glb with 52 ARKit morph targets (Blender, three.js, Unity),
    JSON, and Rhubarb mouth cues (TSV, JSON) for 2D tools.

    Examples:

        affect-studio rig line.wav --emotion happy:0.8 -o out/line

        affect-studio rig --text "Hello there!" --emotion-track "0s:neutral,1s:surprised" --fps 30
    """
    from generation.motion import MotionConfig
    from generation.rig_curves import RigCurvesPipeline
    from recognition.audio import load_audio
    from recognition.emotion_spec import parse_emotion_spec
    from rigs.atomic import check_writable_folder
    from rigs.errors import AffectStudioError
    from rigs.export import check_formats

    spoken = read_transcript(transcript, text, audio)
    if audio is None and not spoken:
        raise AffectStudioError("give a speech file, or --text to speak")
    spec = parse_emotion_spec(options.emotion_option(emotion, valence, arousal, emotion_track))
    # None: export_all's own "every registered format"
    wanted = None if formats.strip() == "all" else check_formats(f.strip() for f in formats.split(",") if f.strip())
    check_writable_folder(out)
    config = MotionConfig(
        fps=fps,
        seed=seed,
        mouth_amplitude=mouth_amplitude,
        expression_scale=expression_scale,
        blink_rate=blink_rate,
        gaze=gaze,
        head_motion=head_motion,
    )
    sound = load_audio(audio) if audio is not None else None
    with console.status("analysing speech and animating"):
        result = RigCurvesPipeline(motion=config)(
            audio=sound,
            text=spoken if audio is None else None,
            transcript=spoken if audio is not None else None,
            emotion=spec,
            voice=voice,
            out_dir=out,
            formats=wanted,
            name=audio.stem if audio is not None else "speech",
        )
        result.files.update(_previews(result, out, audio.stem if audio is not None else "speech", preview))
    _print_result(result)


def _previews(result, out: Path, stem: str, video: bool) -> dict[str, Path]:
    """A curve plot, and (if `video`) an MP4 of the animated mesh with the speech."""
    from studio.plots import plot_motion_curves

    files = {
        "plot": plot_motion_curves(
            result.motion,
            out / f"{stem}_curves.png",
            result.speech.timeline,
            f"{stem}: rig curves ({result.motion.fps:g} fps)",
        )
    }
    if not video:
        return files
    from generation.mesh_preview import render_preview
    from rigs.errors import AffectStudioError

    try:
        files["preview"] = render_preview(result.motion, result.speech.audio, out / f"{stem}_preview.mp4")
    except AffectStudioError as error:  # the curves are written already; a missing preview loses nothing
        log.warning("mesh preview skipped: %s", error)
    return files


def _print_result(result) -> None:
    from studio.report import stage_table

    motion = result.motion
    title = f"{motion.duration:.2f} s at {motion.fps:g} fps, {motion.num_frames} frames"
    console.print(stage_table(result.seconds, motion, title))
    files = Table(title="files", show_header=False)
    files.add_column("format")
    files.add_column("path")
    for name, path in result.files.items():
        files.add_row(name, str(path))
    console.print(files)
