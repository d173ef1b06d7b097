"""Loading speech the way users have it (WAV, FLAC, OGG, MP3, M4A, a video's audio track) and finding
where the speech is. Everything downstream works on mono float32 at 16 kHz.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from pathlib import Path

import av
import numpy as np
import soundfile

from rigs.errors import InputFileError

log = logging.getLogger(__name__)

AUDIO_SUFFIXES = frozenset({".wav", ".flac", ".ogg", ".oga", ".opus", ".mp3", ".m4a", ".aac", ".wma", ".aiff", ".aif"})
SAMPLE_RATE = 16_000
MAX_DURATION_S = 2 * 3600.0  # refuse longer inputs (configurable per call)
SILENCE_DBFS = -55.0  # quieter than this throughout counts as silence


@dataclass
class Audio:
    """`samples` is `(n,) float32` mono in [-1, 1] at `sample_rate` Hz."""

    samples: np.ndarray
    sample_rate: int = SAMPLE_RATE
    source: str | None = None
    original_sample_rate: int | None = None
    original_channels: int | None = None

    @property
    def duration(self) -> float:
        return len(self.samples) / self.sample_rate

    @property
    def peak(self) -> float:
        return float(np.abs(self.samples).max()) if len(self.samples) else 0.0

    @property
    def peak_dbfs(self) -> float:
        return 20 * np.log10(max(self.peak, 1e-10))

    @property
    def clipped_fraction(self) -> float:
        """Fraction of samples at full scale: a sign of clipping when it is above ~0.1%."""
        return float(np.mean(np.abs(self.samples) >= 0.999)) if len(self.samples) else 0.0

    def slice(self, start: float, end: float) -> Audio:
        """The part between `start` and `end` seconds."""
        a, b = int(round(start * self.sample_rate)), int(round(end * self.sample_rate))
        return Audio(self.samples[max(0, a) : b], self.sample_rate, self.source)


def load_audio(path: str | Path, sample_rate: int = SAMPLE_RATE, max_duration: float = MAX_DURATION_S) -> Audio:
    """Decode any audio file, or the audio track of a video, to mono float32 at `sample_rate`.

    Raises `InputFileError` (one line: the file and the problem) for a missing, non-audio, corrupt,
    empty or too long file. Decoding streams, so memory is the decoded result only.
    """
    path = Path(path)
    if not path.exists():
        raise InputFileError(path, "file not found")
    if path.is_dir():
        raise InputFileError(path, "is a folder, expected an audio file")
    if path.stat().st_size == 0:
        raise InputFileError(path, "is empty (0 bytes)")
    wav = _read_mono_wav(path, sample_rate, max_duration)
    if wav is not None:
        return _checked(Audio(wav, sample_rate, str(path), sample_rate, 1))
    try:
        container = av.open(str(path))
    except PermissionError:
        raise InputFileError(path, "permission denied") from None
    except (av.error.FFmpegError, OSError, UnicodeDecodeError):
        raise InputFileError(path, "not an audio file (or an unsupported format)") from None
    with container:
        if not container.streams.audio:
            raise InputFileError(path, "has no audio track")
        stream = container.streams.audio[0]
        original_rate, channels = stream.rate, stream.channels
        resampler = av.AudioResampler(format="flt", layout="mono", rate=sample_rate)
        chunks: list[np.ndarray] = []
        total = 0
        limit = int(max_duration * sample_rate)
        try:
            for frame in container.decode(stream):
                for out in resampler.resample(frame):
                    chunk = out.to_ndarray().reshape(-1)
                    chunks.append(chunk)
                    total += len(chunk)
                if total > limit:
                    raise _too_long(path, max_duration)
            for out in resampler.resample(None):
                chunks.append(out.to_ndarray().reshape(-1))
        except av.error.FFmpegError as error:
            if not chunks:
                raise InputFileError(path, f"corrupt audio ({error.__class__.__name__})") from None
            log.warning("%s: audio is truncated or damaged; using the %d decodable samples", path, total)
    samples = np.concatenate(chunks).astype(np.float32) if chunks else np.zeros(0, np.float32)
    if len(samples) == 0:
        raise InputFileError(path, "contains no audio samples (0 s long)")
    return _checked(Audio(samples, sample_rate, str(path), original_rate, channels))


def _read_mono_wav(path: Path, sample_rate: int, max_duration: float) -> np.ndarray | None:
    """The samples of a mono WAV file already at `sample_rate`, read whole by libsndfile (60 s: ~5 ms,
    against ~100 ms decoding it frame by frame through FFmpeg), as float32 exactly as FFmpeg converts
    them; None for any other file, or one libsndfile cannot read whole (the FFmpeg path then decodes
    what it can and says what is wrong)."""
    if path.suffix.lower() not in (".wav", ".wave"):
        return None
    try:
        info = soundfile.info(str(path))
        if info.samplerate != sample_rate or info.channels != 1 or info.frames <= 0:
            return None
        if info.frames > max_duration * sample_rate:
            raise _too_long(path, max_duration)
        samples, _ = soundfile.read(str(path), dtype="float32")
    except (RuntimeError, OSError):  # soundfile.LibsndfileError is a RuntimeError
        return None
    return samples if len(samples) == info.frames else None


def _too_long(path: Path, max_duration: float) -> InputFileError:
    return InputFileError(path, f"audio is longer than the {max_duration / 60:.0f} min limit (max_duration)")


def _checked(audio: Audio) -> Audio:
    """`audio` with its samples clipped to [-1, 1]; warns about a low original rate or clipping."""
    audio.samples = np.clip(audio.samples, -1.0, 1.0)
    rate = audio.original_sample_rate
    if rate and rate < 16_000:
        log.warning("%s: recorded at %d Hz; phone timings are less accurate below 16 kHz", audio.source, rate)
    if audio.clipped_fraction > 0.001:
        log.warning("%s: %.1f%% of samples are clipped", audio.source, 100 * audio.clipped_fraction)
    return audio


def frame_rms_db(samples: np.ndarray, sample_rate: int, hop_s: float = 0.01, window_s: float = 0.025) -> np.ndarray:
    """RMS level per frame in dBFS: `(frames,) float32`, frame `i` centred at `i * hop_s` seconds.

    Computed in blocks of about a minute, so memory stays small for hour-long inputs.
    """
    hop, window = int(hop_s * sample_rate), int(window_s * sample_rate)
    padded = np.pad(samples.astype(np.float32), (window // 2, window // 2))
    count = max(1, 1 + (len(padded) - window) // hop)
    out = np.empty(count, np.float32)
    block = max(1, (60 * sample_rate) // hop)  # frames per block
    for first in range(0, count, block):
        last = min(count, first + block)
        chunk = padded[first * hop : (last - 1) * hop + window].astype(np.float64)
        power = np.concatenate([[0.0], np.cumsum(chunk**2)])
        starts = np.arange(last - first) * hop
        mean_square = (power[starts + window] - power[starts]) / window
        out[first:last] = 10 * np.log10(np.maximum(mean_square, 1e-12))
    return out


def speech_segments(
    audio: Audio, min_speech_s: float = 0.1, min_silence_s: float = 0.25, dynamic_range_db: float = 35.0
) -> list[tuple[float, float]]:
    """Voice activity by energy: `[(start_s, end_s), ...]` of the speech in `audio`.

    A frame is speech when it is within `dynamic_range_db` of the speech's loud level (the 95th percentile
    of the frames above the silence floor, so a short sentence in a long recording still counts) and
    above that floor; pauses shorter than `min_silence_s` are bridged and blips shorter than
    `min_speech_s` dropped. Returns [] for silence.
    """
    hop = 0.01
    level = frame_rms_db(audio.samples, audio.sample_rate, hop)
    audible = level[level > SILENCE_DBFS]
    if len(audible) == 0:
        return []
    loud = float(np.percentile(audible, 95))
    active = level > max(SILENCE_DBFS, loud - dynamic_range_db)
    segments: list[list[float]] = []
    for i in np.flatnonzero(np.diff(np.concatenate([[0], active.astype(np.int8), [0]])) != 0).reshape(-1, 2):
        start, end = i[0] * hop, i[1] * hop
        if segments and start - segments[-1][1] < min_silence_s:
            segments[-1][1] = end
        else:
            segments.append([start, end])
    duration = audio.duration
    return [(round(s, 3), round(min(e, duration), 3)) for s, e in segments if e - s >= min_speech_s]
