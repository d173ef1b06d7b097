"""`affect-studio talk`: a portrait + speech (or text) + an emotion -> a talking-face MP4 and its score."""

from __future__ import annotations

import logging
import os
from pathlib import Path

import typer
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from studio.cli import app, console
from studio.commands import options
from studio.commands.analyze import read_transcript

log = logging.getLogger(__name__)


@app.command()
def talk(
    portrait: Path = typer.Argument(..., help="A photo with a face (PNG, JPEG, ...), any size."),
    audio: Path | None = typer.Argument(None, help="Speech (WAV, FLAC, OGG, MP3, M4A); or use --text."),
    text: str | None = options.TEXT,
    transcript: Path | None = options.TRANSCRIPT,
    voice: str = options.VOICE,
    emotion: str | None = options.EMOTION_NAME,
    valence: float | None = options.VALENCE,
    arousal: float | None = options.AROUSAL,
    emotion_track: str | None = options.EMOTION_TRACK,
    expression_scale: float = options.EXPRESSION_SCALE,
    wrinkles: float = typer.Option(
        options.CREASE_DEPTH,
        "--wrinkles",
        min=0,
        max=1,
        help="Depth of expression creases (nose, brows, cheeks); 0 = none.",
        rich_help_panel=options.EMOTION,
    ),
    head_motion: float = options.HEAD_MOTION,
    blink_rate: float = options.BLINK_RATE,
    seed: int = options.SEED,
    resolution: int = typer.Option(
        512, "--resolution", help="Face render size: 256, 512 or 1024.", rich_help_panel=options.VIDEO
    ),
    fps: float = typer.Option(
        25.0, "--fps", help="Video frame rate: 24, 25, 30, 50 or 60.", rich_help_panel=options.VIDEO
    ),
    framing: str = typer.Option(
        "portrait",
        "--framing",
        help="What the video shows: portrait (the whole picture) or face (a close-up of the head and "
        "shoulders, --resolution pixels square, cut to the picture).",
        rich_help_panel=options.VIDEO,
    ),
    face_index: int = typer.Option(
        0,
        "--face-index",
        min=0,
        help="Which face to animate: 0 is the largest (labelled #1 by `analyze --annotate`), 1 the next...",
        rich_help_panel=options.VIDEO,
    ),
    refiner: Path | None = typer.Option(
        None,
        "--refiner",
        help="A local diffusers inpainting pipeline folder: repaints the mouth (slow without a GPU).",
        rich_help_panel=options.VIDEO,
    ),
    out: str = typer.Option(
        "out/talk.mp4",
        "--out",
        "-o",
        help="The MP4 to write, or a folder (ending in /) for PORTRAIT's name.mp4.",
        rich_help_panel=options.OUTPUT,
    ),
    score: bool = typer.Option(
        True, "--score/--no-score", help="Re-measure the video and print a score card.", rich_help_panel=options.OUTPUT
    ),
) -> None:
    """Make PORTRAIT speak AUDIO (or --text), with an emotion, as an MP4 with sound.

    Everything runs offline on the CPU, faster than real time at 512 px. With --score (default) the
    video is analysed again: lip sync, emotion readability, identity, motion fidelity, stability.

    Examples:

        affect-studio talk me.jpg hello.wav --emotion happy:0.7 -o hello.mp4

        affect-studio talk me.jpg --text "Nice to meet you!" --emotion-track "0s:neutral,1s:surprised"

        affect-studio talk group.jpg hello.wav --face-index 1 --framing face -o hello_closeup.mp4
    """
    from generation.motion import MotionConfig
    from generation.talking_face.pipeline import TalkingFaceConfig, TalkingFacePipeline
    from generation.talking_face.refiner import MouthRefinerConfig
    from recognition.audio import load_audio
    from recognition.emotion_spec import parse_emotion_spec
    from rigs.atomic import check_writable
    from rigs.errors import AffectStudioError

    spoken = read_transcript(transcript, text, audio)
    if audio is None and not spoken:
        raise AffectStudioError("give a speech file, or --text to speak")
    spec = parse_emotion_spec(options.emotion_option(emotion, valence, arousal, emotion_track))
    video = check_writable(video_output_path(out, portrait))
    motion = MotionConfig(
        fps=fps, seed=seed, head_motion=head_motion, expression_scale=expression_scale, blink_rate=blink_rate
    )
    config = TalkingFaceConfig(
        resolution=resolution, fps=fps, face_index=face_index, motion=motion, wrinkle_depth=wrinkles, framing=framing,
        refiner=MouthRefinerConfig(model_dir=refiner) if refiner is not None else None,
    )  # fmt: skip
    sound = load_audio(audio) if audio is not None else None
    scorer = None
    if score:
        from studio.scoring import score_talking_face

        scorer = score_talking_face
    pipeline = TalkingFacePipeline(config, scorer=scorer)
    columns = [TextColumn("{task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    with Progress(*columns, console=console, transient=True) as bar:
        task = bar.add_task("rendering frames", total=None)

        def progress(done: int, total: int) -> None:
            bar.update(task, completed=done, total=total)

        result = pipeline(
            portrait, audio=sound, text=spoken, emotion=spec, output=video, voice=voice, progress=progress
        )
    print_timings(result)
    if result.score is not None:
        console.print(result.score.table())
        report = video.with_suffix(".score.json")
        result.score.save_json(report)
        result.score.plot(video.with_suffix(".score.png"))
        console.print(f"wrote {report} and {video.with_suffix('.score.png')}")
    console.print(f"wrote {result.video_path}")


def video_output_path(out: str, portrait: Path) -> Path:
    """`-o`'s file: `out` itself, or `<out>/<portrait name>.mp4` when `out` is a folder or ends in a slash
    (kept apart here because `Path` drops a trailing slash, which would make `-o clips/` a file `clips`)."""
    if out.endswith(("/", os.sep)) or Path(out).is_dir():
        return Path(out) / f"{portrait.stem}.mp4"
    return Path(out)


def print_timings(result) -> None:
    from studio.report import stage_table

    motion = result.motion
    title = f"{motion.duration:.2f} s of video, {motion.num_frames} frames at {motion.fps:g} fps"
    console.print(stage_table(result.seconds, motion, title, exclude=("loading", "scoring")))
