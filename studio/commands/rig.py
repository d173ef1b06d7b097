"""`affect-studio rig`: speech or text + emotion -> facial rig curves for Unreal, Unity, Blender, 2D tools."""

from __future__ import annotations

import logging
from pathlib import Path

import typer
from rich.table import Table

from studio.cli import app, console
from studio.commands.analyze import read_transcript

log = logging.getLogger(__name__)

DEFAULT_FORMATS = "livelink,metahuman,gltf,json,rhubarb,rhubarb_json"


def emotion_option(emotion: str | None, valence: float | None, arousal: float | None, track: str | None) -> str:
    """Combine --emotion / --valence+--arousal / --emotion-track into one emotion spec string."""
    from rigs.errors import AffectStudioError

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


@app.command()
def rig(
    audio: Path | None = typer.Argument(None, help="Speech to animate (WAV, FLAC, OGG, MP3, M4A, or a video)."),
    out: Path = typer.Option(Path("out/rig"), "--out", "-o", help="Folder for the exported curves."),
    transcript: Path | None = typer.Option(None, "--transcript", help="What is said, as a text file."),
    text: str | None = typer.Option(
        None, "--text", help="What is said: spoken by offline TTS, or with AUDIO its transcript."
    ),
    voice: str = typer.Option("espeak:en-us", "--voice", help="TTS voice for --text without audio."),
    emotion: str | None = typer.Option(
        None, "--emotion", help="An emotion and intensity, e.g. happy:0.8 (default: estimated from the speech)."
    ),
    valence: float | None = typer.Option(None, "--valence", min=-1, max=1, help="Emotion as valence in [-1, 1]..."),
    arousal: float | None = typer.Option(None, "--arousal", min=-1, max=1, help="...and arousal in [-1, 1]."),
    emotion_track: str | None = typer.Option(
        None, "--emotion-track", help='Keyframes, e.g. "0s:neutral,2s:angry:0.7,4s:happy".'
    ),
    fps: float = typer.Option(60.0, "--fps", help="Frame rate: 24, 25, 30, 50 or 60."),
    formats: str = typer.Option(DEFAULT_FORMATS, "--formats", help="Comma-separated export formats."),
    head_motion: float = typer.Option(1.0, "--head-motion", help="Head motion scale (0 = still)."),
    blink_rate: float = typer.Option(1.0, "--blink-rate", help="Blink rate scale (0 = no blinks)."),
    expression_scale: float = typer.Option(1.0, "--expression-scale", help="Emotion strength scale."),
    mouth_amplitude: float = typer.Option(1.0, "--mouth-amplitude", help="Lip-sync articulation scale."),
    gaze: bool = typer.Option(True, "--gaze/--no-gaze", help="Eye saccades."),
    seed: int = typer.Option(0, "--seed", help="Seed for blinks, gaze and head motion."),
    preview: bool = typer.Option(True, "--preview/--no-preview", help="Also render a mesh preview MP4 with the audio."),
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
    spec = parse_emotion_spec(emotion_option(emotion, valence, arousal, emotion_track))
    wanted = check_formats(f.strip() for f in formats.split(",") if f.strip())
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
