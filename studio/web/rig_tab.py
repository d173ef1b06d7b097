"""The Rig Curves tab: speech (a file, the microphone, or typed text) + an emotion -> ARKit 52 curves, head
and eye rotation, a curve plot, an interactive 3D preview of the animated face mesh (the glTF export in
`gr.Model3D`) and downloads in every export format.

It calls what `affect-studio rig` calls: `RigCurvesPipeline` with the `rigs.export` formats, and the
same `studio.plots.plot_motion_curves` plot.
"""

from __future__ import annotations

from pathlib import Path

import gradio as gr

from rigs.errors import AffectStudioError
from studio.web.context import StudioContext
from studio.web.controls import CLASS, emotion_controls, emotion_text, motion_controls, voice_dropdown
from studio.web.jobs import Job, run_job, zip_files

FPS_CHOICES = [24, 25, 30, 50, 60]
FORMAT_LABELS = {
    "livelink": "Live Link Face CSV (Unreal)",
    "metahuman": "MetaHuman curves CSV",
    "gltf": "glTF .glb, 52 morph targets (Blender, three.js, Unity)",
    "json": "JSON",
    "rhubarb": "Rhubarb mouth cues TSV (2D)",
    "rhubarb_json": "Rhubarb mouth cues JSON",
}


def format_choices() -> list[tuple[str, str]]:
    from rigs.export import available_formats

    return [(FORMAT_LABELS.get(name, name), name) for name in available_formats()]


def make_curves(
    ctx: StudioContext,
    job: Job,
    audio: str | None,
    text: str | None,
    voice: str | None,
    emotion: str,
    fps: int | str,
    formats: list[str] | None,
    head_motion: float,
    blink_rate: float,
    expression_scale: float,
    seed: float,
    mouth_amplitude: float,
    gaze: bool,
):
    """The job behind the Generate button; returns the values of the tab's outputs."""
    from generation.motion import MotionConfig
    from recognition.audio import load_audio
    from recognition.emotion_spec import parse_emotion_spec
    from rigs.export import ExportInput, check_formats, export_all
    from studio.plots import plot_motion_curves

    spoken = ctx.check_text(text)
    if not audio and not spoken:
        raise AffectStudioError("add speech: upload or record audio, or type a text to speak")
    wanted = check_formats(name for name in (formats or []) if name)
    if not wanted:
        raise AffectStudioError("choose at least one export format")
    spec = parse_emotion_spec(emotion)
    config = MotionConfig(
        fps=float(fps), seed=int(seed or 0), mouth_amplitude=float(mouth_amplitude),
        expression_scale=float(expression_scale), blink_rate=float(blink_rate), gaze=bool(gaze),
        head_motion=float(head_motion),
    )  # fmt: skip
    job.step(0.05, "loading models" if not ctx.models.is_loaded("speech") else "reading the speech")
    sound = None
    name = "speech"
    if audio:
        sound = load_audio(ctx.check_audio(audio))
        ctx.check_audio_length(sound, Path(audio).name)
        name = Path(audio).stem or "speech"
        sound.source = Path(audio).name  # exports record the file's name, not the server's temporary path
    pipeline = ctx.models.rig_curves(config)
    job.step(0.2, "speech to phones, emotion and curves")
    out = job.folder / "curves"
    result = pipeline(
        audio=sound, text=spoken if sound is None else None, transcript=spoken if sound is not None else None,
        emotion=spec, voice=voice or None, out_dir=out, formats=wanted, name=name,
    )  # fmt: skip
    job.step(0.8, "plotting and packing the files")
    files = dict(result.files)
    motion = result.motion
    plot = plot_motion_curves(
        motion, out / f"{name}_curves.png", result.speech.timeline,
        f"{name}: rig curves, emotion {spec.text} ({motion.fps:g} fps)",
    )  # fmt: skip
    glb = files.get("gltf")
    if glb is None:  # the 3D preview needs the glTF even when it is not a chosen download
        preview = ExportInput(motion, result.mouth_cues, sound.source if sound else None, spec.text, name)
        glb = export_all(preview, job.folder / "preview", ["gltf"])["gltf"]
    downloads = list(files.values())
    bundle = zip_files([*downloads, plot], job.folder / f"{name}_curves_all.zip", out)
    speech_path = files.get("speech") or (Path(audio) if audio else None)
    return (
        str(glb),
        str(plot),
        _summary(result, spec.text),
        str(speech_path) if speech_path else None,
        [str(bundle), *(str(path) for path in downloads)],
    )


def _summary(result, emotion: str) -> str:
    motion = result.motion
    timeline = result.speech.timeline
    seconds = sum(v for k, v in result.seconds.items() if not k.startswith("loading"))
    driving = ""
    if emotion == "auto":
        from collections import Counter

        most = Counter(result.emotion.dominant()).most_common(1)
        driving = f" (read from the speech: mostly **{most[0][0]}**)" if most else ""
    return (
        f"**{motion.duration:.1f} s**, {motion.num_frames} frames at {motion.fps:g} fps · "
        f"{len(timeline.speech_phones)} phones ({timeline.method}) · emotion `{emotion}`{driving} · "
        f"made in {seconds:.2f} s"
    )


def build(ctx: StudioContext) -> None:
    """The tab's components and events (inside a `gr.Tab`)."""
    samples = ctx.workspace.copy_samples(["speech.wav", "speech.txt"])
    with gr.Row(equal_height=False):
        with gr.Column(scale=5, min_width=320):
            audio = gr.Audio(label="Speech (upload or record)", type="filepath", sources=["upload", "microphone"])
            with gr.Row(equal_height=True):
                text = gr.Textbox(
                    value="",
                    label="Text", lines=2, scale=2, max_length=ctx.settings.max_text_chars,
                    placeholder="Spoken by the offline voice if there is no audio; with audio, its transcript.",
                )  # fmt: skip
                voice = voice_dropdown()
            emotion = emotion_controls(CLASS, "happy", 0.7, prefix="rig-emotion")
            formats = gr.CheckboxGroup(
                format_choices(), value=[value for _, value in format_choices()], label="Export formats"
            )
            with gr.Accordion("Motion", open=False):
                motion = motion_controls()
                with gr.Row():
                    mouth = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Mouth amplitude",
                                      info="Lip-sync articulation")  # fmt: skip
                    fps = gr.Radio(FPS_CHOICES, value=60, label="Frame rate")
                gaze = gr.Checkbox(True, label="Eye saccades (gaze)")
            with gr.Row():
                generate = gr.Button("Make curves", variant="primary", scale=3)
                stop = gr.Button("Stop", variant="stop", scale=1)
            examples = gr.Examples(
                [
                    [str(samples["speech.wav"]), samples["speech.txt"].read_text().strip(), CLASS, "happy", 0.7],
                    [None, "Wait... you did what? That is amazing!", CLASS, "surprised", 0.9],
                    [None, "I am so sorry. I really thought it would work.", CLASS, "sad", 0.8],
                ],
                [audio, text, emotion.mode, emotion.emotion, emotion.intensity],
                label="One-click examples",
                example_labels=["Sample speech · happy", "Typed text · surprised", "Typed text · sad"],
            )
        with gr.Column(scale=6, min_width=360):
            preview = gr.Model3D(
                label="3D preview: the canonical face mesh with the 52 ARKit morph targets, animated "
                "(drag to turn, scroll to zoom)",
                height=380, clear_color=(0.96, 0.96, 0.98, 1.0), camera_position=(90, 90, 0.45),
                interactive=False,
            )  # fmt: skip
            summary = gr.Markdown("Curves appear here: add speech or text, pick an emotion, Make curves.")
            speech = gr.Audio(label="The speech the curves follow", type="filepath", interactive=False)
            with gr.Tabs():
                with gr.Tab("Curves"):
                    plot = gr.Image(label="Rig curves", type="filepath", interactive=False)
                with gr.Tab("Downloads"):
                    files = gr.File(label="Every chosen format, all as one zip", file_count="multiple",
                                    interactive=False)  # fmt: skip

    inputs = [audio, text, voice, *emotion.inputs, fps, formats, *motion.inputs, mouth, gaze]
    outputs = [preview, plot, summary, speech, files]

    async def rig_curves(
        audio, text, voice, mode, emotion_class, intensity, valence, arousal, timeline, fps, formats,
        head_motion, blink_rate, expression_scale, seed, mouth_amplitude, gaze, progress=gr.Progress(),
    ):  # fmt: skip
        def work(job: Job):
            spec = emotion_text(mode, emotion_class, intensity, valence, arousal, timeline)
            return make_curves(ctx, job, audio, text, voice, spec, fps, formats, head_motion, blink_rate,
                               expression_scale, seed, mouth_amplitude, gaze)  # fmt: skip

        return await run_job(ctx.workspace, "rig", work, progress)

    run = {"concurrency_id": "cpu", "concurrency_limit": ctx.settings.workers, "show_progress_on": preview}
    event = generate.click(rig_curves, inputs, outputs, api_name="rig_curves", **run)
    example_event = examples.load_input_event.then(rig_curves, inputs, outputs, api_visibility="private", **run)
    stop.click(None, cancels=[event, example_event], api_visibility="private")
