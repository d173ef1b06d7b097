"""The Talking Face tab: a portrait + speech (a file, the microphone, or typed text) + an emotion -> an MP4
of that face speaking, its score card, its curves and downloads.

It calls what `affect-studio talk` calls: `TalkingFacePipeline` with `studio.scoring.score_talking_face`,
then the rig exporters and the curve plot exactly as `affect-studio demo` writes them.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from rigs.errors import AffectStudioError
from studio.commands.options import CREASE_DEPTH
from studio.web.context import StudioContext
from studio.web.controls import (
    CLASS,
    TIMELINE,
    TIMELINE_HINT,
    emotion_controls,
    emotion_text,
    motion_controls,
    voice_dropdown,
)
from studio.web.jobs import Job, run_job, table_rows, zip_files

RESOLUTIONS = [256, 512, 1024]
FPS_CHOICES = [24, 25, 30]
FRAMING_CHOICES = [("Whole picture", "portrait"), ("Face close-up", "face")]  # TalkingFaceConfig.framing
SCORE_HEADERS = ["measure", "value", "what it means"]


def portrait_image(**kwargs) -> gr.Image:
    """`gr.Image` whose unreadable uploads fail with one line naming the file, not Gradio's long message.

    (Wrapped per instance: a subclass of a Gradio component makes Gradio write a `.pyi` stub beside
    this file.)"""
    image = gr.Image(**kwargs)
    preprocess = image.preprocess

    def checked(payload):
        try:
            return preprocess(payload)
        except gr.Error:
            raise
        except Exception:
            name = getattr(payload, "orig_name", None) or "the image"
            raise gr.Error(
                f"{name}: not an image, or a corrupt one", title="Can't do that", duration=None, print_exception=False
            ) from None

    image.preprocess = checked
    return image


def render(
    ctx: StudioContext,
    job: Job,
    portrait: str | None,
    audio: str | None,
    text: str | None,
    voice: str | None,
    emotion: str,
    head_motion: float,
    blink_rate: float,
    expression_scale: float,
    seed: float,
    resolution: int | str,
    fps: int | str,
    score: bool,
    wrinkles: float,
    framing: str = "portrait",
    face_number: float = 1,
):
    """The job behind the Generate button; returns the values of the tab's outputs."""
    from generation.motion import MotionConfig
    from generation.talking_face.pipeline import TalkingFaceConfig
    from recognition.audio import load_audio
    from recognition.emotion_spec import parse_emotion_spec
    from rigs.export import ExportInput, export_all
    from studio.plots import plot_motion_curves

    if not portrait:
        raise AffectStudioError("add a portrait: upload a photo with a face, or take one with the webcam")
    portrait_path = ctx.check_image(portrait)
    spoken = ctx.check_text(text)
    if not audio and not spoken:
        raise AffectStudioError("add speech: upload or record audio, or type a text to speak")
    spec = parse_emotion_spec(emotion)
    motion = MotionConfig(
        fps=float(fps), seed=int(seed or 0), head_motion=float(head_motion), expression_scale=float(expression_scale),
        blink_rate=float(blink_rate),
    )  # fmt: skip
    config = TalkingFaceConfig(
        resolution=int(resolution), fps=float(fps), motion=motion, wrinkle_depth=float(wrinkles), framing=framing,
        face_index=max(0, int(face_number or 1) - 1),
    )  # fmt: skip

    job.step(0.02, "loading models" if not ctx.models.is_loaded("speech") else "reading the inputs")
    sound = None
    if audio:
        sound = load_audio(ctx.check_audio(audio))
        ctx.check_audio_length(sound, Path(audio).name)
        sound.source = Path(audio).name  # messages and exports name the file, not the server's temporary path

    def scorer(result, picture):
        job.step(0.86, "scoring the video (re-detecting every frame)")
        return ctx.models.score_talking_face(result, picture)

    pipeline = ctx.models.talking_face(config, scorer=scorer if score else None)
    job.step(0.05, "fitting the face and analysing the speech")
    out = job.folder
    result = pipeline(
        portrait_path, audio=sound, text=spoken, emotion=spec, output=out / "talking_face.mp4", voice=voice or None,
        progress=job.frames("rendering frame", 0.1, 0.85),
    )  # fmt: skip
    job.step(0.95, "exporting curves")
    source = sound.source if sound is not None else None
    files = export_all(
        ExportInput(result.motion, result.curves.mouth_cues, source, spec.text, "talking_face"), out / "curves"
    )
    motion_result = result.motion
    curves_png = plot_motion_curves(
        motion_result, out / "curves" / "talking_face_curves.png", result.curves.speech.timeline,
        f"rig curves, emotion {spec.text} ({motion_result.fps:g} fps)",
    )  # fmt: skip
    downloads = [result.video_path]
    score_rows, score_png = [], None
    if result.score is not None:
        score_rows = table_rows(result.score.table())[1]
        downloads.append(result.score.save_json(out / "talking_face.score.json"))
        score_png = result.score.plot(out / "talking_face.score.png")
        downloads.append(score_png)
    downloads += list(files.values())
    bundle = zip_files([*downloads, curves_png], out / "talking_face_all.zip", out)
    return (
        str(result.video_path),
        _summary(result, spec.text, score, job.warnings),
        {"headers": SCORE_HEADERS, "data": score_rows} if score_rows else None,
        str(score_png) if score_png else None,
        str(curves_png),
        [str(bundle), *(str(path) for path in downloads)],
    )


def _summary(result, emotion: str, scored: bool, warnings: list[str]) -> str:
    motion = result.motion
    seconds = result.seconds
    work = sum(v for k, v in seconds.items() if not k.startswith("loading") and k != "scoring")
    lines = [
        f"**{motion.duration:.1f} s** of video, {motion.num_frames} frames at {motion.fps:g} fps · emotion "
        f"`{emotion}` · made in {work:.1f} s"
        + (f", scored in {seconds['scoring']:.1f} s" if "scoring" in seconds else ""),
    ]
    report = result.score
    if report is not None:
        acc = "—" if report.emotion_accuracy is None else f"{report.emotion_accuracy:.0%}"
        csim = "—" if report.identity_mean is None else f"{report.identity_mean:.2f}"
        lag = "—" if report.lipsync_lag_ms is None else f"{report.lipsync_lag_ms:+.0f} ms"
        lines.append(
            f"Emotion readable on **{acc}** of frames · identity **{csim}** · lip-sync lag **{lag}** · "
            f"face re-detected in **{report.detected_fraction:.0%}** of frames"
        )
    elif not scored:
        lines.append("Not scored (turn on *Score the video* for the score card).")
    lines += [f"⚠ {warning}" for warning in warnings]
    return "\n\n".join(lines)


def build(ctx: StudioContext) -> None:
    """The tab's components and events (inside a `gr.Tab`)."""
    samples = ctx.workspace.copy_samples(["portrait.png", "hopper.jpg", "speech.wav", "speech.txt"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=320):
            portrait = portrait_image(
                label="Portrait", type="filepath", sources=["upload", "webcam", "clipboard"], image_mode=None,
                height=300, placeholder="Drop a photo with a face here, or use the webcam", elem_id="talk-portrait",
            )  # fmt: skip
            audio = gr.Audio(
                label="Speech (upload or record)", type="filepath", sources=["upload", "microphone"],
                elem_id="talk-audio",
            )  # fmt: skip
            with gr.Row(equal_height=True):
                text = gr.Textbox(
                    value="",
                    label="Text",
                    placeholder="Spoken by the offline voice if there is no audio; with audio, its transcript.",
                    lines=2,
                    max_length=ctx.settings.max_text_chars,
                    scale=2,
                )
                voice = voice_dropdown()
            emotion = emotion_controls(CLASS, "happy", 0.8, prefix="talk-emotion")
            with gr.Accordion("Motion and quality", open=False, elem_id="talk-options"):
                motion = motion_controls()
                with gr.Row():
                    resolution = gr.Radio(
                        RESOLUTIONS, value=512, label="Face resolution (px)", info="256 is fastest",
                        elem_id="talk-resolution",
                    )  # fmt: skip
                    fps = gr.Radio(FPS_CHOICES, value=25, label="Frame rate")
                with gr.Row():
                    wrinkles = gr.Slider(
                        0.0, 1.0, value=CREASE_DEPTH, step=0.05, label="Expression creases",
                        info="Folds on the nose, brows and forehead as the face moves; 0: none",
                    )  # fmt: skip
                    score = gr.Checkbox(True, label="Score the video", info="Re-detects every frame: about +1 s per s")
                with gr.Row():
                    framing = gr.Radio(
                        FRAMING_CHOICES, value="portrait", label="Framing", elem_id="talk-framing",
                        info="The whole picture, or a close-up of the head (face resolution, cut to the picture)",
                    )  # fmt: skip
                    face_number = gr.Number(
                        1, precision=0, minimum=1, label="Face", elem_id="talk-face",
                        info="In a group photo, which face: #1 is the largest (as the Analyze tab labels them)",
                    )  # fmt: skip
            with gr.Row():
                generate = gr.Button("Generate video", variant="primary", scale=3, elem_id="talk-generate")
                stop = gr.Button("Stop", variant="stop", scale=1, elem_id="talk-stop")
            examples = gr.Examples(
                [
                    [str(samples["portrait.png"]), str(samples["speech.wav"]),
                     samples["speech.txt"].read_text().strip(), CLASS, "happy", 0.8, TIMELINE_HINT],
                    [str(samples["hopper.jpg"]), None, "Hello! It is so good to see you again.", TIMELINE, "happy",
                     0.8, "0s:neutral, 1s:happy:0.8, 2.5s:surprised"],
                    [str(samples["portrait.png"]), str(samples["speech.wav"]), "", CLASS, "surprised", 1.0,
                     TIMELINE_HINT],
                ],
                [portrait, audio, text, emotion.mode, emotion.emotion, emotion.intensity, emotion.timeline],
                label="One-click examples (bundled samples)",
                example_labels=[
                    "Astronaut · sample speech · happy",
                    "Admiral · typed text · neutral → happy → surprised",
                    "Astronaut · sample speech · surprised",
                ],
            )  # fmt: skip
        with gr.Column(scale=6, min_width=360):
            video = gr.Video(label="Talking face", interactive=False, height=420, elem_id="talking-face-video")
            summary = gr.Markdown(
                "Your video appears here: add a portrait and speech, pick an emotion, Generate.", elem_id="talk-summary"
            )
            with gr.Tabs():
                with gr.Tab("Score card"):
                    gr.Markdown(
                        "The generated video is analysed again, frame by frame: lip sync, emotion readability "
                        "(Acc_emo), identity (CSIM), motion fidelity and stability."
                    )
                    score_table = gr.Dataframe(
                        visible=False,
                        headers=SCORE_HEADERS, label="Score card (the generated video, re-measured)",
                        interactive=False, wrap=True, column_widths=["22%", "16%", "62%"], max_height=640,
                    )  # fmt: skip
                with gr.Tab("Score plot"):
                    score_plot = gr.Image(
                        label="Requested vs re-detected curves, emotion and lip-sync lag", type="filepath",
                        interactive=False, visible=False,
                    )  # fmt: skip
                with gr.Tab("Curves"):
                    curves_plot = gr.Image(label="Rig curves", type="filepath", interactive=False)
                with gr.Tab("Downloads"):
                    files = gr.File(label="MP4, score card, curves in every format, all as one zip",
                                    file_count="multiple", interactive=False)  # fmt: skip

    inputs = [portrait, audio, text, voice, *emotion.inputs, *motion.inputs, resolution, fps, score, wrinkles, framing,
              face_number]  # fmt: skip
    outputs = [video, summary, score_table, score_plot, curves_plot, files]

    async def talking_face(
        portrait, audio, text, voice, mode, emotion_class, intensity, valence, arousal, timeline,
        head_motion, blink_rate, expression_scale, seed, resolution, fps, score, wrinkles, framing, face_number,
        progress=gr.Progress(),
    ):  # fmt: skip
        def work(job: Job):
            spec = emotion_text(mode, emotion_class, intensity, valence, arousal, timeline)
            return render(ctx, job, portrait, audio, text, voice, spec, head_motion, blink_rate, expression_scale, seed,
                          resolution, fps, score, wrinkles, framing, face_number)  # fmt: skip

        return await run_job(ctx.workspace, "talk", work, progress)

    def show_score(plot):  # the score card shows only when there is one (the API returns plain values)
        return gr.update(visible=plot is not None), gr.update(visible=plot is not None)

    run = {"concurrency_id": "cpu", "concurrency_limit": ctx.settings.workers, "show_progress_on": video}
    hidden = {"queue": False, "show_progress": "hidden", "api_visibility": "private"}
    event = generate.click(talking_face, inputs, outputs, api_name="talking_face", **run)
    example_event = examples.load_input_event.then(talking_face, inputs, outputs, api_visibility="private", **run)
    for done in (event, example_event):
        done.success(show_score, score_plot, [score_table, score_plot], **hidden)
    stop.click(None, cancels=[event, example_event], api_visibility="private")
