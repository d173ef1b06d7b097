"""The Analyze tab: an image, a video or speech -> what recognition sees, with plots.

- image: every face (largest first) drawn on the picture, a table (top emotions, derived valence/arousal,
  head pose, strongest blendshapes and action units), the faces on the valence/arousal plane, and the
  first face's blendshapes;
- video: the main face tracked through every frame, drawn on a copy of the video; emotion over time,
  the valence/arousal trajectory and the blendshapes that move most;
- speech: phones, words, speech segments and the emotion fused from prosody and the transcript.

It calls what `affect-studio analyze` calls (`FaceAnalysisPipeline`, `SpeechAnalysisPipeline`) and the
same tables, drawings and plots.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr
import numpy as np

from rigs.errors import AffectStudioError, InputFileError
from studio.web.context import AUDIO_SUFFIXES, IMAGE_SUFFIXES, VIDEO_SUFFIXES, StudioContext, media_kind
from studio.web.jobs import Job, run_job, table_rows

ACCEPTED = sorted(IMAGE_SUFFIXES | VIDEO_SUFFIXES | AUDIO_SUFFIXES)  # what `media_kind` tells apart
NOTE = "Valence and arousal of faces are *derived* from the 7 expression probabilities (Russell's circumplex)."


def analyze(ctx: StudioContext, job: Job, path: str | None, transcript: str | None, max_faces: int | float):
    """The job behind the Analyze button; returns the values of the tab's outputs."""
    if not path:
        raise AffectStudioError("add an image, a video or a speech file to analyse")
    kind = media_kind(path)
    name = Path(path).name
    if kind == "image":
        return _image(ctx, job, Path(path), name, int(max_faces or 5))
    if kind == "video":
        return _video(ctx, job, Path(path), name)
    return _speech(ctx, job, Path(path), name, ctx.check_text(transcript))


def _outputs(summary, image=None, video=None, plots=(), table=None, files=()):
    """The tab's outputs in order: the annotated image or video (only one shows), plots, table, files."""
    headers, rows = table if table is not None else ([], [])
    return (
        summary,
        str(image) if image else None,
        str(video) if video else None,
        [(str(path), caption) for path, caption in plots],
        {"headers": headers, "data": rows} if rows else None,
        [str(path) for path in files],
    )


def _image(ctx: StudioContext, job: Job, path: Path, name: str, max_faces: int):
    from recognition.image_io import load_image
    from studio.annotate import annotate
    from studio.commands.analyze import save_png
    from studio.plots import plot_blendshapes, plot_valence_arousal_path
    from studio.report import faces_table

    job.step(0.1, "finding faces")
    image = load_image(path)
    result = ctx.models.face_analysis().image(image, source=name).require_face(name)
    result.faces = result.faces[:max_faces]
    job.step(0.7, "drawing and plotting")
    out = job.folder
    stem = path.stem
    annotated = save_png(annotate(image, result.faces), out / f"{stem}_faces.png")
    va = plot_valence_arousal_path(
        [f.emotion.valence for f in result.faces], [f.emotion.arousal for f in result.faces], out / f"{stem}_va.png",
        f"{name}: faces on the valence/arousal plane (derived)", labels=[f"#{i + 1}" for i in range(len(result.faces))],
    )  # fmt: skip
    shapes = plot_blendshapes(result.faces[0].face.blendshapes, out / f"{stem}_blendshapes.png",
                              f"{name}: face #1, strongest blendshapes")  # fmt: skip
    data = result.save_json(out / f"{stem}_analysis.json")
    first = result.faces[0]
    summary = (
        f"**{len(result.faces)} face(s)** in {name} ({result.width}x{result.height}) · face #1 looks "
        f"**{first.emotion.top}** ({first.emotion.ranked()[0][1]:.0%}) · {NOTE}"
    )
    table = table_rows(faces_table(result.faces, name))
    plots = [(va, "valence / arousal (derived)"), (shapes, "blendshapes, face #1")]
    return _outputs(summary, image=annotated, plots=plots, table=table, files=[data, annotated, va, shapes])


def _video(ctx: StudioContext, job: Job, path: Path, name: str):
    from generation.video_writer import VideoWriter
    from recognition.video import iter_frames, video_info
    from rigs.emotions import valence_arousal
    from studio.annotate import annotate
    from studio.plots import plot_blendshapes_over_time, plot_emotion_over_time, plot_valence_arousal_path
    from studio.report import video_summary_table

    info = video_info(path)
    duration = info.duration or (info.frame_count / info.fps if info.frame_count else 0.0)
    limit = ctx.settings.max_video_s

    def too_long(seconds: float) -> InputFileError:
        return InputFileError(
            name, f"{seconds:.0f} s of video; the web app takes up to {limit:.0f} s "
            "(use `affect-studio analyze` for longer ones)",
        )  # fmt: skip

    if duration > limit:
        raise too_long(duration)
    out = job.folder
    stem = path.stem
    total = info.frame_count or max(1, int(round(duration * info.fps)))
    report = job.frames("analysing frame", 0.02, 0.85)
    count = 0
    writer = VideoWriter(out / f"{stem}_faces.mp4", info.fps)
    try:

        def on_frame(seconds, frame, analysis) -> None:
            nonlocal count
            if count >= limit * info.fps:  # a container that does not say how long it is
                raise too_long(count / info.fps)
            writer.write(annotate(frame, [analysis]) if analysis else frame)
            count += 1
            report(min(count, total), total)

        result = ctx.models.face_analysis().video(iter_frames(path), info.fps, source=name, on_frame=on_frame)
        writer.close()
    except BaseException:
        writer.abort()
        raise
    result.require_face(name)
    job.step(0.9, "plotting")
    times = result.times
    emotion = plot_emotion_over_time(times, result.probabilities, out / f"{stem}_emotion.png",
                                     f"{name}: emotion over time")  # fmt: skip
    va = valence_arousal(result.probabilities)  # frames without a face (NaN) stay NaN
    trajectory = plot_valence_arousal_path(va[:, 0], va[:, 1], out / f"{stem}_va.png",
                                           f"{name}: valence/arousal trajectory (derived)", times=times)  # fmt: skip
    shapes = np.full((len(result.frames), 52), np.nan)
    for i, frame in enumerate(result.frames):
        if frame is not None:
            shapes[i] = frame.face.blendshapes
    blend = plot_blendshapes_over_time(times, shapes, out / f"{stem}_blendshapes.png",
                                       f"{name}: the blendshapes that move most")  # fmt: skip
    data = result.save_json(out / f"{stem}_frames.json")
    title = f"{name}: {len(result.frames)} frames at {result.fps:.2f} fps"
    summary = (
        f"**{len(result.frames)} frames** ({duration:.1f} s) · face found in **{result.detected_fraction:.0%}** "
        f"of them · {NOTE}"
    )
    plots = [(emotion, "emotion over time"), (trajectory, "valence / arousal trajectory (derived)"),
             (blend, "blendshapes over time")]  # fmt: skip
    video = out / f"{stem}_faces.mp4"
    return _outputs(summary, video=video, plots=plots, table=table_rows(video_summary_table(result, title)),
                    files=[data, video, emotion, trajectory, blend])  # fmt: skip


def _speech(ctx: StudioContext, job: Job, path: Path, name: str, transcript: str | None):
    from recognition.audio import load_audio
    from studio.plots import plot_speech_analysis, plot_valence_arousal_path
    from studio.report import speech_table

    audio = load_audio(ctx.check_audio(str(path)))
    ctx.check_audio_length(audio, name)
    audio.source = name
    job.step(0.1, "loading models" if not ctx.models.is_loaded("speech") else "phones, words and emotion")
    analysis = ctx.models.speech()(audio, transcript)
    job.step(0.8, "plotting")
    out = job.folder
    stem = path.stem
    plot = plot_speech_analysis(analysis, out / f"{stem}_emotion.png")
    track = analysis.emotion
    trajectory = plot_valence_arousal_path(track.valence, track.arousal, out / f"{stem}_va.png",
                                           f"{name}: valence/arousal (fused)", times=track.times)  # fmt: skip
    data = analysis.save_json(out / f"{stem}_analysis.json")
    timeline = analysis.timeline
    summary = (
        f"**{audio.duration:.1f} s** of audio · {len(timeline.speech_phones)} phones ({timeline.method})"
        + (f", {len(timeline.words)} words" if timeline.words else "")
        + " · speech emotion is a prosodic estimate (loudness, pitch, rate), not a trained classifier"
    )
    plots = [(plot, "speech, words and emotion"), (trajectory, "valence / arousal (fused)")]
    return _outputs(summary, plots=plots, table=table_rows(speech_table(analysis)), files=[data, plot, trajectory])


def build(ctx: StudioContext) -> None:
    """The tab's components and events (inside a `gr.Tab`)."""
    samples = ctx.workspace.copy_samples(["portrait.png", "hopper.jpg", "speech.wav", "speech.txt"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=4, min_width=300):
            media = gr.File(
                label="Image, video or speech", file_types=ACCEPTED, type="filepath", height=200,
            )  # fmt: skip
            transcript = gr.Textbox(
                value="",
                label="Transcript (speech only, optional)", lines=2, max_length=ctx.settings.max_text_chars,
                placeholder="What is said; phones are then aligned to it and the text's emotion is used too.",
            )  # fmt: skip
            max_faces = gr.Slider(1, 5, value=5, step=1, label="Faces to report (images; largest first)")
            with gr.Row():
                run_button = gr.Button("Analyze", variant="primary", scale=3)
                stop = gr.Button("Stop", variant="stop", scale=1)
            examples = gr.Examples(
                [[str(samples["portrait.png"]), ""], [str(samples["hopper.jpg"]), ""],
                 [str(samples["speech.wav"]), samples["speech.txt"].read_text().strip()]],
                [media, transcript],
                label="One-click examples (bundled samples)",
                example_labels=["Astronaut portrait", "Admiral portrait", "Sample speech + transcript"],
            )  # fmt: skip
        with gr.Column(scale=7, min_width=360):
            summary = gr.Markdown("Results appear here: add a photo, a video or a speech recording, then Analyze.")
            image = gr.Image(label="Faces found", type="filepath", interactive=False, visible=False, height=420)
            video = gr.Video(label="Faces tracked", interactive=False, visible=False, height=420)
            plots = gr.Gallery(label="Plots", columns=2, height=380, object_fit="contain", preview=False)
            table = gr.Dataframe(label="Results", interactive=False, wrap=True, visible=False)
            files = gr.File(label="Downloads (JSON with every number, and the pictures)", file_count="multiple",
                            interactive=False)  # fmt: skip

    async def analyze_media(path, transcript, max_faces, progress=gr.Progress()):
        return await run_job(ctx.workspace, "analyze", lambda job: analyze(ctx, job, path, transcript, max_faces),
                             progress)  # fmt: skip

    def show(picture, clip):  # only what this kind of input produced shows (the API returns plain values)
        return gr.update(visible=picture is not None), gr.update(visible=clip is not None), gr.update(visible=True)

    outputs = [summary, image, video, plots, table, files]
    inputs = [media, transcript, max_faces]
    run = {"concurrency_id": "cpu", "concurrency_limit": ctx.settings.workers, "show_progress_on": plots}
    event = run_button.click(analyze_media, inputs, outputs, api_name="analyze", **run)
    example_event = examples.load_input_event.then(analyze_media, inputs, outputs, api_visibility="private", **run)
    for done in (event, example_event):
        done.success(show, [image, video], [image, video, table], queue=False, show_progress="hidden",
                     api_visibility="private")  # fmt: skip
    stop.click(None, cancels=[event, example_event], api_visibility="private")
