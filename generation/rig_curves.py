"""`RigCurvesPipeline`: speech (or text) + emotion -> facial rig curves and their exports.

    >>> result = RigCurvesPipeline()(audio=load_audio("line.wav"), emotion="happy:0.8", out_dir="out")
    >>> result.files["livelink"]   # out/line.csv, ready for Unreal's Live Link Face importer

Text alone is spoken first (offline TTS), and its exact phone timings are used.
"""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from pathlib import Path

from generation.motion import MotionConfig, generate_motion
from generation.motion.mouth_cues import mouth_cues
from recognition.audio import Audio, load_audio
from recognition.emotion_spec import EmotionSpec, parse_emotion_spec
from recognition.emotion_track import EmotionTrack
from recognition.fusion import apply_override, estimate_needed
from recognition.phonemes.chunking import worker_pool
from recognition.speech_analysis import SpeechAnalysis, SpeechAnalysisPipeline
from rigs.errors import AffectStudioError
from rigs.export import ExportInput, export_all
from rigs.motion import FaceMotion
from rigs.visemes import MouthCue


@dataclass
class RigCurvesResult:
    motion: FaceMotion
    speech: SpeechAnalysis
    emotion: EmotionTrack  # what drove the face: the estimate, or the user's override of it
    mouth_cues: list[MouthCue]
    files: dict[str, Path] = field(default_factory=dict)  # format -> written file
    seconds: dict[str, float] = field(default_factory=dict)  # wall-clock time per stage


class RigCurvesPipeline:
    """Speech or text + emotion -> `RigCurvesResult`. Build once, call many times."""

    def __init__(self, speech: SpeechAnalysisPipeline | None = None, motion: MotionConfig | None = None):
        self.speech = speech or SpeechAnalysisPipeline()
        self.motion = motion or MotionConfig()

    def __call__(
        self,
        audio: Audio | str | Path | None = None,
        text: str | None = None,
        transcript: str | None = None,
        emotion: str | EmotionSpec = "auto",
        voice: str | None = None,
        out_dir: str | Path | None = None,
        formats: list[str] | None = None,
        name: str | None = None,
    ) -> RigCurvesResult:
        """Give `audio` (an `Audio` or a file's path, with an optional `transcript`) or `text` alone (spoken by
        `voice`).

        When both `audio` and `text` are given, the audio wins and the text is used as its transcript.
        Files are written to `out_dir` only if it is given (with `speech.wav` when the text was spoken here).
        """
        spec = parse_emotion_spec(emotion) if isinstance(emotion, str) else emotion
        seconds: dict[str, float] = {}
        loading = self.speech.load_models()  # once per speech pipeline
        if loading:
            seconds["loading models (once)"] = loading
        timeline, spoken = None, None
        if audio is None:
            if not text or not text.strip():
                raise AffectStudioError("give speech audio or a text to speak")
            from recognition.tts import DEFAULT_VOICE, synthesize

            clock = time.perf_counter()
            spoken = synthesize(text, voice or DEFAULT_VOICE)
            seconds["text to speech"] = time.perf_counter() - clock
            audio, timeline, transcript = spoken.audio, spoken.phones, text
        else:
            if not isinstance(audio, Audio):
                audio = load_audio(audio)  # one-line errors for missing, corrupt, empty or too long files
            if text and not transcript:
                transcript = text

        fps = self.motion.fps
        fusion = self.speech.fusion
        speech = self.speech(audio, transcript, fps, timeline, estimate_emotion=estimate_needed(spec, fusion))
        seconds.update(speech.seconds)

        clock = time.perf_counter()
        driving = apply_override(speech.emotion, spec, fps, audio.duration, fusion)
        motion = generate_motion(speech.timeline, driving, audio, self.motion)
        motion.metadata.update({"source_audio": audio.source, "emotion": spec.text, "transcript": transcript})
        cues = mouth_cues(speech.timeline, motion.duration)
        seconds["motion"] = time.perf_counter() - clock

        result = RigCurvesResult(motion, speech, driving, cues, seconds=seconds)
        if out_dir is not None:
            clock = time.perf_counter()
            stem = name or (Path(audio.source).stem if audio.source else "take")
            data = ExportInput(motion, cues, audio.source, spec.text, stem)
            result.files = export_all(data, out_dir, formats, executor=worker_pool())  # the idle phone workers
            if spoken is not None:  # the speech was made here: it goes with the curves
                result.files["speech"] = spoken.save_wav(Path(out_dir) / "speech.wav")
            seconds["exports"] = time.perf_counter() - clock
        return result
