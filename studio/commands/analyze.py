"""`affect-studio analyze IMAGE_OR_VIDEO`: faces, expressions, derived valence/arousal, pose, AUs."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
import typer
from PIL import Image
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeRemainingColumn

from recognition.analysis import FaceAnalysis, FaceAnalysisPipeline, ImageAnalysis, VideoAnalysis
from recognition.audio import AUDIO_SUFFIXES
from recognition.image_io import IMAGE_SUFFIXES, load_image
from recognition.video import VIDEO_SUFFIXES, iter_frames, video_info
from rigs.atomic import atomic_write, check_writable
from rigs.errors import AffectStudioError, InputFileError, OutputFileError
from studio.annotate import annotate
from studio.cli import app, console
from studio.plots import plot_emotion_over_time
from studio.report import faces_table

log = logging.getLogger(__name__)


@app.command()
def analyze(
    path: Path = typer.Argument(
        ..., help="An image (PNG, JPEG, ...), a video (MP4, MOV, MKV, WebM) or speech (WAV, FLAC, OGG, MP3, M4A)."
    ),
    json_out: Path | None = typer.Option(
        None, "--json", help="Write every result (landmarks, blendshapes, emotions, AUs, pose) as JSON."
    ),
    annotate_out: Path | None = typer.Option(
        None, "--annotate", help="Write the input with faces drawn on it: OUT.png for images, OUT.mp4 for videos."
    ),
    plot_out: Path | None = typer.Option(
        None, "--plot", help="Videos and speech: emotion-over-time plot PNG (default: next to --json, *_emotion.png)."
    ),
    transcript: Path | None = typer.Option(
        None, "--transcript", help="Speech: a text file with what is said (phones are then aligned to it)."
    ),
    text: str | None = typer.Option(None, "--text", help="Speech: what is said, given inline."),
    identity: bool = typer.Option(False, "--identity", help="Also compute 128-d identity embeddings."),
    max_faces: int = typer.Option(5, "--max-faces", min=1, help="Report at most this many faces (largest first)."),
) -> None:
    """Analyse every face in an IMAGE, the main face through a VIDEO, or the phones and emotion of SPEECH.

    Faces: a table per face (top emotions, derived valence/arousal, head pose, strongest blendshapes and
    action units). Valence/arousal of faces are derived from the emotion probabilities, not measured.

    Speech: phones with timings (aligned to the transcript when you give one), words, speech segments,
    and an emotion track fused from prosody and the text; `--plot` draws it.

    Examples:

        affect-studio analyze portrait.jpg --json faces.json --annotate faces.png

        affect-studio analyze clip.mp4 --json frames.json --annotate clip_faces.mp4

        affect-studio analyze speech.wav --text "Hello there, how are you?" --json speech.json --plot speech.png
    """
    from recognition.face import FaceAnalyzer, FaceAnalyzerConfig
    from recognition.identity import IdentityEncoder

    is_video = path.suffix.lower() in VIDEO_SUFFIXES
    for out in (json_out, annotate_out, plot_out):
        if out is not None:
            check_writable(out)
    if path.suffix.lower() in AUDIO_SUFFIXES:
        if annotate_out is not None:
            raise OutputFileError(annotate_out, "--annotate is for images and videos; use --plot for speech")
        _analyze_speech(path, read_transcript(transcript, text), json_out, plot_out)
        return
    if transcript is not None or text is not None:
        log.warning("--transcript/--text apply to speech files only; ignored for %s", path.name)
    if annotate_out is not None:
        wanted = {".mp4"} if is_video else {".png", ".jpg", ".jpeg", ".webp"}
        if annotate_out.suffix.lower() not in wanted:
            raise OutputFileError(annotate_out, f"--annotate for this input must end in {' or '.join(sorted(wanted))}")
    if not is_video and path.suffix.lower() not in IMAGE_SUFFIXES and path.exists():
        log.info("%s: unknown suffix, trying to read it as an image", path)

    config = FaceAnalyzerConfig(max_faces=max_faces)
    with FaceAnalyzer(config) as analyzer:
        pipeline = FaceAnalysisPipeline(analyzer, identity=IdentityEncoder() if identity else None)
        if is_video:
            _analyze_video(pipeline, path, json_out, annotate_out, plot_out)
        else:
            _analyze_image(pipeline, path, json_out, annotate_out)


def _analyze_image(pipeline: FaceAnalysisPipeline, path: Path, json_out, annotate_out) -> ImageAnalysis:
    image = load_image(path)
    result = pipeline.image(image, source=str(path)).require_face(path)
    console.print(faces_table(result.faces, f"{path.name}: {len(result.faces)} face(s)"))
    if json_out:
        result.save_json(json_out)
        console.print(f"wrote {json_out}")
    if annotate_out:
        save_png(annotate(image, result.faces), annotate_out)
        console.print(f"wrote {annotate_out}")
    return result


def save_png(image: np.ndarray, path: Path) -> Path:
    """Write an RGB array as PNG/JPEG/WebP (by suffix), atomically."""
    fmt = {".jpg": "JPEG", ".jpeg": "JPEG", ".webp": "WEBP"}.get(path.suffix.lower(), "PNG")
    with atomic_write(path, "wb") as f:
        Image.fromarray(image).save(f, format=fmt)
    return path


def _analyze_video(pipeline: FaceAnalysisPipeline, path: Path, json_out, annotate_out, plot_out) -> VideoAnalysis:
    from generation.video_writer import VideoWriter

    info = video_info(path)
    writer = VideoWriter(annotate_out, info.fps) if annotate_out else None
    columns = [TextColumn("analysing {task.description}"), BarColumn(), MofNCompleteColumn(), TimeRemainingColumn()]
    try:
        with Progress(*columns, console=console, transient=True) as progress:
            task = progress.add_task(path.name, total=info.frame_count or None)

            def on_frame(seconds: float, frame: np.ndarray, analysis: FaceAnalysis | None) -> None:
                if writer is not None:
                    writer.write(annotate(frame, [analysis]) if analysis else frame)
                progress.advance(task)

            result = pipeline.video(iter_frames(path), info.fps, source=str(path), on_frame=on_frame)
        if writer is not None:
            writer.close()
    except BaseException:
        if writer is not None:
            writer.abort()
        raise
    result.require_face(path)
    _print_video_summary(path, result)
    if json_out:
        result.save_json(json_out)
        console.print(f"wrote {json_out}")
        plot_out = plot_out or json_out.with_name(json_out.stem + "_emotion.png")
    if plot_out:
        plot_emotion_over_time(result.times, result.probabilities, plot_out, f"{path.name}: emotion over time")
        console.print(f"wrote {plot_out}")
    if annotate_out:
        console.print(f"wrote {annotate_out}")
    return result


def read_transcript(transcript: Path | None, text: str | None, audio: Path | None = None) -> str | None:
    """The transcript from `--transcript FILE` or `--text`, with one-line errors; None if neither. With a
    speech file `audio`, `--text` is its transcript rather than words to speak, and the user is told so."""
    if transcript is not None and text is not None:
        raise AffectStudioError("give either --transcript or --text, not both")
    if transcript is None:
        if audio is not None and text:
            log.warning("%s is animated; --text is used as its transcript, not spoken", audio)
        return text
    try:
        return transcript.read_text(encoding="utf-8")
    except FileNotFoundError:
        raise InputFileError(transcript, "file not found") from None
    except UnicodeDecodeError:
        raise InputFileError(transcript, "not a UTF-8 text file") from None
    except OSError as error:
        raise InputFileError(transcript, (error.strerror or str(error)).lower()) from None


def _analyze_speech(path: Path, transcript: str | None, json_out: Path | None, plot_out: Path | None) -> None:
    from recognition.audio import load_audio
    from recognition.speech_analysis import SpeechAnalysisPipeline
    from studio.plots import plot_speech_analysis
    from studio.report import speech_table

    audio = load_audio(path)
    with console.status(f"analysing {path.name} ({audio.duration:.1f} s)"):
        analysis = SpeechAnalysisPipeline()(audio, transcript)
    console.print(speech_table(analysis))
    if json_out:
        analysis.save_json(json_out)
        console.print(f"wrote {json_out}")
        plot_out = plot_out or json_out.with_name(json_out.stem + "_emotion.png")
    if plot_out:
        plot_speech_analysis(analysis, plot_out)
        console.print(f"wrote {plot_out}")


def _print_video_summary(path: Path, result: VideoAnalysis) -> None:
    from studio.report import video_summary_table

    console.print(video_summary_table(result, f"{path.name}: {len(result.frames)} frames at {result.fps:.2f} fps"))
