"""`SpeechAnalysisPipeline`: everything recognition hears in speech — phones, words, speech segments,
speech emotion, text emotion — fused into one per-frame `EmotionTrack`.

    >>> analysis = SpeechAnalysisPipeline()(load_audio("speech.wav"), transcript="Hello there.")
    >>> analysis.timeline.phones[:3], analysis.emotion.dominant()[:3]
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from recognition.audio import Audio, speech_segments
from recognition.emotion_track import EmotionTrack
from recognition.fusion import FusionConfig, fuse
from recognition.phonemes import PhoneTimeline, phone_timeline
from recognition.ser import SpeechEmotionRecognizer
from recognition.text_emotion import TextEmotion, TextEmotionRecognizer, place_on_timeline
from rigs.atomic import atomic_write
from rigs.errors import InputFileError


@dataclass
class SpeechAnalysis:
    audio: Audio
    segments: list[tuple[float, float]]  # speech (voice activity), seconds
    timeline: PhoneTimeline
    speech_emotion: EmotionTrack | None  # None when no estimate was asked for (`estimate_emotion=False`)
    text_emotions: list[TextEmotion]
    emotion: EmotionTrack | None  # fused from the speech and text estimates; None as `speech_emotion`
    transcript: str | None = None
    seconds: dict[str, float] = field(default_factory=dict)  # wall-clock time per stage

    def to_dict(self) -> dict[str, Any]:
        track = self.emotion
        emotion_track = None
        if track is not None:
            emotion_track = {
                "fps": track.fps,
                "channels": ["probabilities[7]", "valence", "arousal", "intensity"],
                "dominant": track.dominant(),
                "embedding": track.embedding.round(4).tolist(),
            }
        return {
            "source": self.audio.source,
            "duration": round(self.audio.duration, 3),
            "peak_dbfs": round(self.audio.peak_dbfs, 2),
            "speech_segments": [[round(a, 3), round(b, 3)] for a, b in self.segments],
            "transcript": self.transcript,
            "phones": self.timeline.to_dict(),
            "text_emotion": [t.to_dict() for t in self.text_emotions],
            "emotion_track": emotion_track,
            "notes": "speech emotion is a prosodic estimate (loudness, pitch, rate, spectrum), not a trained "
            "classifier; valence from speech is weak and weighted low",
            "stage_seconds": {k: round(v, 4) for k, v in self.seconds.items()},
        }

    def save_json(self, path: str | Path) -> Path:
        with atomic_write(path, "w") as f:
            json.dump(self.to_dict(), f)
        return Path(path)


class SpeechAnalysisPipeline:
    """Audio (+ transcript) -> `SpeechAnalysis`. Components are built once and reused."""

    def __init__(
        self,
        ser: SpeechEmotionRecognizer | None = None,
        text: TextEmotionRecognizer | None = None,
        fusion: FusionConfig | None = None,
    ):
        self.ser = ser or SpeechEmotionRecognizer()
        self.text = text
        self.fusion = fusion or FusionConfig()
        self._loading = threading.Lock()
        self._loaded = False

    def load_models(self) -> float:
        """Load the text encoder, compile the prosody code and start the phone decoding workers now (all
        happen on first use otherwise), so per-stage timings measure work, not start-up. Does it once per
        pipeline; returns the seconds it took (0 when already done)."""
        import numpy as np

        from recognition.phonemes.chunking import warm_up

        with self._loading:
            if self._loaded:
                return 0.0
            clock = time.perf_counter()
            warm_up()
            self.text = self.text or TextEmotionRecognizer()
            self.text.recognize("Warm up.")
            tone = np.sin(np.arange(8000) * 2 * np.pi * 150 / 16000).astype(np.float32) * 0.3
            self.ser.recognize(Audio(tone), 30.0)
            self._loaded = True
            return time.perf_counter() - clock

    def __call__(
        self,
        audio: Audio,
        transcript: str | None = None,
        fps: float = 30.0,
        timeline: PhoneTimeline | None = None,
        estimate_emotion: bool = True,
    ) -> SpeechAnalysis:
        """Analyse `audio`. Pass `timeline` when the phones are already known (TTS), to skip recognition,
        and `estimate_emotion=False` when the emotion is the user's anyway: no speech or text emotion is
        computed then (`emotion` and `speech_emotion` are None), which saves ~a fifth of the rig's time.

        Raises `InputFileError` for audio without speech (silence).
        """
        seconds: dict[str, float] = {}
        clock = time.perf_counter()
        segments = speech_segments(audio)
        if not segments:
            raise InputFileError(
                audio.source or "audio", f"no speech found: the {audio.duration:.1f} s of audio are silent"
            )
        seconds["voice activity"] = time.perf_counter() - clock

        clock = time.perf_counter()
        if timeline is None:
            timeline = phone_timeline(audio, transcript)
        seconds["phones"] = time.perf_counter() - clock

        if not estimate_emotion:
            return SpeechAnalysis(audio, segments, timeline, None, [], None, transcript, seconds)
        clock = time.perf_counter()
        speech_track = self.ser.recognize(audio, fps, timeline)
        seconds["speech emotion"] = time.perf_counter() - clock

        clock = time.perf_counter()
        text_results: list[TextEmotion] = []
        tracks = [speech_track]
        if transcript and transcript.strip():
            self.text = self.text or TextEmotionRecognizer()
            text_results = self.text.recognize(transcript)
            tracks.append(place_on_timeline(text_results, timeline, audio.duration, fps))
        seconds["text emotion"] = time.perf_counter() - clock

        clock = time.perf_counter()
        fused = fuse(tracks, fps, audio.duration, self.fusion)
        seconds["fusion"] = time.perf_counter() - clock
        return SpeechAnalysis(audio, segments, timeline, speech_track, text_results, fused, transcript, seconds)
