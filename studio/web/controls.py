"""Controls more than one tab uses: the emotion picker and the motion sliders.

The emotion picker offers what the CLI's options offer (`--emotion`, `--valence/--arousal`,
`--emotion-track`, or nothing: from the speech) and turns the choice into the same spec string through
the CLI's own `emotion_option`, which `recognition.emotion_spec.parse_emotion_spec` then reads.
"""

from __future__ import annotations

from dataclasses import dataclass

import gradio as gr

from rigs.emotions import EMOTIONS

AUTO, CLASS, VA, TIMELINE = "From the speech", "Emotion + intensity", "Valence / arousal", "Timeline"
EMOTION_MODES = (CLASS, VA, TIMELINE, AUTO)
TIMELINE_HINT = "0s:neutral, 1s:happy:0.8, 2.5s:surprised"


def emotion_text(mode: str, emotion: str, intensity: float, valence: float, arousal: float, timeline: str) -> str:
    """The picker's state as an emotion spec string (`happy:0.8`, `va:0.6,0.4`, keyframes or `auto`)."""
    from rigs.errors import AffectStudioError
    from studio.commands.options import emotion_option

    if mode == CLASS:
        return emotion_option(f"{emotion or 'neutral'}:{float(intensity):.2f}", None, None, None)
    if mode == VA:
        return emotion_option(None, round(float(valence), 3), round(float(arousal), 3), None)
    if mode == TIMELINE:
        if not (timeline or "").strip():
            raise AffectStudioError(f"write the emotion timeline as keyframes, e.g. {TIMELINE_HINT}")
        return emotion_option(None, None, None, timeline.strip())
    if mode == AUTO:
        return emotion_option(None, None, None, None)
    raise AffectStudioError(f"unknown emotion mode {mode!r}; choose one of: {', '.join(EMOTION_MODES)}")


def nearest_emotion(valence: float, arousal: float) -> str:
    """What a valence/arousal point reads as (the circumplex class nearest to it)."""
    from rigs.emotions import circumplex_probabilities

    probabilities = circumplex_probabilities(float(valence), float(arousal))
    return EMOTIONS[int(probabilities.argmax())]


@dataclass
class EmotionControls:
    mode: gr.Radio
    emotion: gr.Dropdown
    intensity: gr.Slider
    valence: gr.Slider
    arousal: gr.Slider
    timeline: gr.Textbox

    @property
    def inputs(self) -> list:
        return [self.mode, self.emotion, self.intensity, self.valence, self.arousal, self.timeline]


def emotion_controls(
    mode: str = CLASS, emotion: str = "happy", intensity: float = 0.8, prefix: str = "emotion"
) -> EmotionControls:
    """The emotion picker: a mode, and the fields of that mode (the others hide); `prefix` starts the
    components' element ids (`{prefix}-mode`, `{prefix}-class`, ...)."""
    radio = gr.Radio(
        list(EMOTION_MODES),
        value=mode,
        label="Emotion",
        elem_id=f"{prefix}-mode",
        info="A class and its strength, a point on the valence/arousal plane, keyframes, or read from the speech",
    )
    with gr.Row(visible=mode == CLASS) as class_row:
        emotion_box = gr.Dropdown(
            list(EMOTIONS), value=emotion, label="Class", scale=1, min_width=120, elem_id=f"{prefix}-class"
        )
        intensity_slider = gr.Slider(
            0.0, 1.0, value=intensity, step=0.05, label="Intensity", scale=2, elem_id=f"{prefix}-intensity"
        )
    with gr.Group(visible=mode == VA) as va_group:
        with gr.Row():
            valence = gr.Slider(-1.0, 1.0, value=0.6, step=0.05, label="Valence (unpleasant → pleasant)")
            arousal = gr.Slider(-1.0, 1.0, value=0.4, step=0.05, label="Arousal (calm → excited)")
        reads_as = gr.Markdown(f"Reads as **{nearest_emotion(0.6, 0.4)}** on Russell's circumplex.", padding=True)
    timeline = gr.Textbox(
        label="Keyframes (time: emotion[:intensity]; each holds until the next, with a smooth ramp)",
        placeholder=TIMELINE_HINT,
        value=TIMELINE_HINT,
        visible=mode == TIMELINE,
        lines=1,
        elem_id=f"{prefix}-timeline",
    )

    def show(selected: str):
        return (
            gr.update(visible=selected == CLASS),
            gr.update(visible=selected == VA),
            gr.update(visible=selected == TIMELINE),
        )

    radio.change(show, radio, [class_row, va_group, timeline], queue=False, show_progress="hidden",
                 api_visibility="private")  # fmt: skip
    for slider in (valence, arousal):
        slider.change(
            lambda v, a: f"Reads as **{nearest_emotion(v, a)}** on Russell's circumplex.",
            [valence, arousal],
            reads_as,
            queue=False,
            show_progress="hidden",
            api_visibility="private",
        )
    return EmotionControls(radio, emotion_box, intensity_slider, valence, arousal, timeline)


@dataclass
class MotionControls:
    head_motion: gr.Slider
    blink_rate: gr.Slider
    expression_scale: gr.Slider
    seed: gr.Number

    @property
    def inputs(self) -> list:
        return [self.head_motion, self.blink_rate, self.expression_scale, self.seed]


def motion_controls() -> MotionControls:
    """`MotionConfig`'s user-facing knobs (the CLI's --head-motion, --blink-rate, --expression-scale, --seed)."""
    with gr.Row():
        head = gr.Slider(0.0, 2.0, value=1.0, step=0.1, label="Head motion", info="0 keeps the head still")
        blink = gr.Slider(0.0, 3.0, value=1.0, step=0.1, label="Blink rate", info="× a natural rate; 0: no blinks")
    with gr.Row():
        scale = gr.Slider(0.0, 2.0, value=1.0, step=0.05, label="Expression scale", info="Emotion strength")
        seed = gr.Number(0, label="Seed", precision=0, info="Blinks, gaze and head motion", minimum=0)
    return MotionControls(head, blink, scale, seed)


def voice_dropdown() -> gr.Dropdown:
    """The offline voices installed here (the CLI's --voice), for typed text without audio."""
    from recognition.tts import DEFAULT_VOICE, list_voices

    names = [voice.name for voice in list_voices() if voice.available] or [DEFAULT_VOICE]
    return gr.Dropdown(
        names, value=DEFAULT_VOICE if DEFAULT_VOICE in names else names[0], label="Voice",
        info="For typed text", min_width=180, scale=1,
    )  # fmt: skip
