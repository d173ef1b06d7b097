"""Prosodic features of speech, per frame at a chosen frame rate: pitch, voicing, loudness, spectral
shape, pitch variability and speaking rate.

Everything is computed on a 10 ms analysis grid (frame `k` centred at `k * hop_s` seconds, the grid of
`recognition.audio.frame_rms_db`) and then aggregated onto the output grid (frame `i` centred at
`i / fps`). The audio is analysed in chunks, so memory stays flat for long files.

- f0: `librosa.yin` (pyin is far slower), 60-500 Hz. yin always returns a period, so voicing is decided
  separately: a frame is voiced when it is within the speech energy range *and* periodic (normalised
  autocorrelation at the yin period >= `voicing_periodicity`, i.e. aperiodicity below 1 - that).
- loudness: RMS level in dBFS (25 ms window).
- spectral centroid (Hz) and spectral tilt: the alpha ratio, 10*log10(E[1-5 kHz] / E[50 Hz-1 kHz]) in dB
  (eGeMAPS); less negative = flatter spectrum = more vocal effort.
- pitch variability: standard deviation of f0 in semitones over a sliding window of voiced frames.
- speaking rate in *syllables per second of speech*: from a `PhoneTimeline` when given (each vowel phone
  is one syllable nucleus; `phone_rate` then also gives all phones per second of speech), else from
  syllable nuclei found as peaks of the 300-3000 Hz band-energy envelope (after de Jong & Wempe 2009).
  Syllables, not phones, so the two paths share one unit.

Undefined values are NaN: f0 in unvoiced frames, spectral features in silence, rate/variability where
the window holds too little speech.
"""

from __future__ import annotations

import logging
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass

import numpy as np

from recognition.audio import SILENCE_DBFS, Audio, frame_rms_db, speech_segments
from recognition.models import worker_count
from recognition.phonemes.timeline import PhoneTimeline
from rigs.errors import AffectStudioError
from rigs.frames import FrameSeries

log = logging.getLogger(__name__)

# ARPAbet vowels (flite also prints the schwas "ax"/"axr"): one per syllable.
VOWELS = frozenset({"aa", "ae", "ah", "ao", "aw", "ax", "axr", "ay", "eh", "er", "ey", "ih", "ix", "iy", "ow",
                    "oy", "uh", "uw"})  # fmt: skip


@dataclass
class ProsodyConfig:
    hop_s: float = 0.01  # analysis grid
    window_s: float = 0.025  # loudness, spectrum and periodicity window
    fmin: float = 60.0  # Hz
    fmax: float = 500.0  # Hz
    yin_frame_length: int = 1024  # samples at 16 kHz (64 ms): holds two periods of fmin
    yin_threshold: float = 0.1  # yin's trough threshold
    voicing_periodicity: float = 0.6  # normalised autocorrelation at the period needed to call a frame voiced
    speech_range_db: float = 35.0  # frames quieter than the loud level (95th percentile) minus this are silence
    variability_window_s: float = 1.0  # sliding window for pitch variability
    min_voiced_s: float = 0.1  # voiced time a variability window needs
    rate_window_s: float = 2.0  # sliding window for speaking rate
    min_rate_speech_s: float = 0.4  # speech time a rate window needs
    nucleus_prominence_db: float = 2.0  # dip needed on both sides of a syllable-nucleus peak
    nucleus_floor_db: float = 25.0  # nuclei must be within this of the band's loud level
    min_nucleus_gap_s: float = 0.06  # shortest time between two nuclei
    chunk_s: float = 30.0  # analysis chunk length (memory)


@dataclass
class Prosody(FrameSeries):
    """Per-frame prosodic features at `fps`; every array is `(frames,) float32`, frame `i` at `i / fps` s."""

    f0_hz: np.ndarray  # fundamental frequency, Hz; NaN where unvoiced
    voicing: np.ndarray  # fraction of the frame that is voiced, 0-1
    periodicity: np.ndarray  # normalised autocorrelation at the pitch period, 0-1 (1 - aperiodicity)
    loudness_db: np.ndarray  # RMS level, dBFS
    spectral_centroid_hz: np.ndarray  # Hz; NaN in silence
    spectral_tilt_db: np.ndarray  # alpha ratio E[1-5k]/E[50-1k] in dB; NaN in silence
    pitch_variability_st: np.ndarray  # f0 standard deviation over a sliding window, semitones; NaN without voice
    speaking_rate: np.ndarray  # syllables per second of speech over a sliding window; NaN without speech
    phone_rate: np.ndarray  # phones per second of speech (timeline only; NaN otherwise)
    presence: np.ndarray  # fraction of the frame inside speech (voice activity), 0-1
    fps: float
    rate_source: str = "energy"  # "phones" (from a PhoneTimeline) or "energy" (syllable nuclei)
    loud_level_db: float = -120.0  # the utterance's loud level (95th percentile of frame dBFS)

    @property
    def num_frames(self) -> int:
        return len(self.loudness_db)


def num_output_frames(duration: float, fps: float) -> int:
    """Frames covering `duration` seconds at `fps`: `max(1, round(duration * fps))`."""
    return max(1, int(round(duration * fps)))


def _analysis_frames(samples: np.ndarray, sr: int, cfg: ProsodyConfig) -> dict[str, np.ndarray]:
    """Frame-level features on the `hop_s` grid: f0 (Hz), periodicity, centroid (Hz), tilt (dB), band (dB)."""
    import librosa

    hop = int(round(cfg.hop_s * sr))
    flen = cfg.yin_frame_length
    win = int(round(cfg.window_s * sr))
    n_fft = 1 << int(np.ceil(np.log2(win)))
    n_frames = 1 + len(samples) // hop
    padded = np.pad(samples.astype(np.float32), (flen // 2, flen // 2 + hop))
    max_period = int(np.ceil(sr / cfg.fmin))
    # periodicity window: `win` samples ending at the frame centre, compared with `win` samples T later
    a_start = flen // 2 - win // 2 - max_period // 2
    a_start = max(0, min(a_start, flen - win - max_period - 1))
    idx_a = a_start + np.arange(win)
    spec_start = flen // 2 - win // 2
    window = np.hanning(win).astype(np.float32)
    freqs = np.fft.rfftfreq(n_fft, 1.0 / sr)
    low = (freqs >= 50) & (freqs < 1000)
    high = (freqs >= 1000) & (freqs < 5000)
    band = (freqs >= 300) & (freqs < 3000)
    out = {k: np.empty(n_frames, np.float32) for k in ("f0", "periodicity", "centroid", "tilt", "band")}
    workers = worker_count()
    chunk = max(1, min(int(cfg.chunk_s / cfg.hop_s), -(-n_frames // workers)))  # one chunk per core at least

    def analyse(k0: int) -> None:  # frames k0 .. k0 + chunk; NumPy and SciPy's FFTs release the GIL
        k1 = min(n_frames, k0 + chunk)
        segment = padded[k0 * hop : (k1 - 1) * hop + flen]
        frames = librosa.util.frame(segment, frame_length=flen, hop_length=hop, axis=0)[: k1 - k0]
        f0 = librosa.yin(
            segment, fmin=cfg.fmin, fmax=cfg.fmax, sr=sr, frame_length=flen, hop_length=hop,
            trough_threshold=cfg.yin_threshold, center=False,
        )[: k1 - k0]  # fmt: skip
        period = np.clip(np.rint(sr / f0).astype(np.int64), 1, max_period)
        a = frames[:, idx_a]
        b = np.take_along_axis(frames, idx_a[None, :] + period[:, None], axis=1)
        num = np.einsum("ij,ij->i", a, b)
        den = np.sqrt(np.einsum("ij,ij->i", a, a) * np.einsum("ij,ij->i", b, b)) + 1e-12
        power = np.abs(np.fft.rfft(frames[:, spec_start : spec_start + win] * window, n=n_fft, axis=1)) ** 2
        total = power.sum(axis=1) + 1e-12
        out["f0"][k0:k1] = f0
        out["periodicity"][k0:k1] = np.clip(num / den, 0.0, 1.0)
        out["centroid"][k0:k1] = power @ freqs / total
        out["tilt"][k0:k1] = 10 * np.log10((power[:, high].sum(1) + 1e-12) / (power[:, low].sum(1) + 1e-12))
        out["band"][k0:k1] = 10 * np.log10(power[:, band].sum(1) / n_fft + 1e-12)

    starts = range(0, n_frames, chunk)
    if workers > 1 and len(starts) > 1:
        with ThreadPoolExecutor(min(workers, len(starts))) as pool:
            list(pool.map(analyse, starts))
    else:
        for k0 in starts:
            analyse(k0)
    return out


def _sliding_sum(values: np.ndarray, width: int) -> np.ndarray:
    """Centred moving sum of `(n,)` values over `width` frames (edges use what exists)."""
    c = np.concatenate([[0.0], np.cumsum(values, dtype=np.float64)])
    n = len(values)
    i = np.arange(n)
    lo, hi = np.clip(i - width // 2, 0, n), np.clip(i - width // 2 + width, 0, n)
    return c[hi] - c[lo]


def syllable_nuclei(band_db: np.ndarray, voiced: np.ndarray, hop_s: float, cfg: ProsodyConfig) -> np.ndarray:
    """Indices of syllable nuclei: peaks of the `(n,)` 300-3000 Hz band level (dB, 30 ms smoothed) that
    stand out by `nucleus_prominence_db`, lie within `nucleus_floor_db` of the band's loud level and
    have a voiced frame within 20 ms. On espeak-ng/flite speech this finds 25-29 of 26-27 syllables from
    110 to 240 words/min."""
    from scipy.signal import find_peaks

    if len(band_db) < 3:
        return np.zeros(0, np.int64)
    smooth = np.convolve(band_db, np.ones(3) / 3, mode="same")
    loud = float(np.percentile(smooth, 95))
    peaks, _ = find_peaks(
        smooth, prominence=cfg.nucleus_prominence_db, distance=max(1, int(round(cfg.min_nucleus_gap_s / hop_s)))
    )
    near_voice = np.convolve(voiced.astype(np.float64), np.ones(5), mode="same") > 0
    keep = (smooth[peaks] > loud - cfg.nucleus_floor_db) & near_voice[peaks]
    return peaks[keep]


def _timeline_rates(timeline: PhoneTimeline, n: int, hop_s: float, cfg: ProsodyConfig):
    """Per analysis frame: syllables/s and phones/s over speech in the rate window, and speech coverage."""
    speech = np.zeros(n, np.float64)
    nuclei = np.zeros(n, np.float64)
    phones = np.zeros(n, np.float64)
    for p in timeline.speech_phones:
        a, b = int(round(p.start / hop_s)), int(round(p.end / hop_s))
        speech[max(0, a) : min(n, max(b, a + 1))] = 1.0
        mid = min(n - 1, max(0, int(round(0.5 * (p.start + p.end) / hop_s))))
        phones[mid] += 1
        if p.label in VOWELS:
            nuclei[mid] += 1
    width = max(1, int(round(cfg.rate_window_s / hop_s)))
    speech_s = _sliding_sum(speech, width) * hop_s
    ok = speech_s >= cfg.min_rate_speech_s
    with np.errstate(invalid="ignore", divide="ignore"):
        syl = np.where(ok, _sliding_sum(nuclei, width) / speech_s, np.nan)
        ph = np.where(ok, _sliding_sum(phones, width) / speech_s, np.nan)
    return syl, ph, speech


def _to_fps(values: np.ndarray, weights: np.ndarray, n_out: int, fps: float, hop_s: float) -> np.ndarray:
    """Weighted mean of analysis-grid `values` over each output frame (NaN values and zero weights
    skipped; NaN where nothing is left). For `fps` above the analysis rate, the nearest analysis frame."""
    n = len(values)
    ok = np.isfinite(values) & (weights > 0)
    w = np.where(ok, weights, 0.0)
    v = np.where(ok, values, 0.0)
    if fps * hop_s > 1.0:
        k = np.clip(np.rint(np.arange(n_out) / fps / hop_s).astype(np.int64), 0, n - 1)
        return np.where(ok[k], values[k], np.nan).astype(np.float32)
    j = np.clip(np.rint(np.arange(n) * hop_s * fps).astype(np.int64), 0, n_out - 1)
    total = np.bincount(j, w, minlength=n_out)
    summed = np.bincount(j, w * v, minlength=n_out)
    with np.errstate(invalid="ignore", divide="ignore"):
        return np.where(total > 0, summed / total, np.nan).astype(np.float32)


def extract_prosody(
    audio: Audio, fps: float = 30.0, timeline: PhoneTimeline | None = None, config: ProsodyConfig | None = None
) -> Prosody:
    """Prosodic features of `audio` (mono, any rate; 16 kHz expected) at `fps` frames per second.

    Returns a `Prosody` with `max(1, round(duration * fps))` frames. With a `timeline`, speaking rate
    counts its vowels (syllables) and phones per second of phone-covered speech; without, it counts
    syllable nuclei found in the energy envelope.
    """
    cfg = config or ProsodyConfig()
    if fps <= 0:
        raise AffectStudioError(f"fps must be positive, got {fps}")
    samples = np.asarray(audio.samples, np.float32).reshape(-1)
    if len(samples) == 0:
        raise AffectStudioError(f"{audio.source or 'audio'}: no samples to analyse (0 s long)")
    sr, hop_s = audio.sample_rate, cfg.hop_s
    feats = _analysis_frames(samples, sr, cfg)
    level = frame_rms_db(samples, sr, hop_s, cfg.window_s)
    n = min(len(level), len(feats["f0"]))
    level = level[:n]
    feats = {k: v[:n] for k, v in feats.items()}
    loud = float(np.percentile(level, 95))
    energetic = level > max(SILENCE_DBFS, loud - cfg.speech_range_db)

    presence = np.zeros(n, np.float64)
    for start, end in speech_segments(audio, dynamic_range_db=cfg.speech_range_db):
        presence[int(round(start / hop_s)) : int(round(end / hop_s)) + 1] = 1.0
    presence = presence[:n]
    f0 = feats["f0"]
    voiced = (
        energetic & (presence > 0) & (feats["periodicity"] >= cfg.voicing_periodicity)
        & (f0 > cfg.fmin * 1.02) & (f0 < cfg.fmax * 0.98)
    )  # fmt: skip

    # pitch variability: std of semitones over the window, voiced frames only
    st = np.where(voiced, 12 * np.log2(np.maximum(f0, 1.0) / 100.0), 0.0)
    width = max(1, int(round(cfg.variability_window_s / hop_s)))
    count = _sliding_sum(voiced.astype(np.float64), width)
    mean = _sliding_sum(st, width) / np.maximum(count, 1)
    var = _sliding_sum(st**2, width) / np.maximum(count, 1) - mean**2
    variability = np.where(count * hop_s >= cfg.min_voiced_s, np.sqrt(np.maximum(var, 0.0)), np.nan)

    if timeline is not None and timeline.speech_phones:
        rate, phone_rate, _ = _timeline_rates(timeline, n, hop_s, cfg)
        rate_source = "phones"
    else:
        nuclei = np.zeros(n, np.float64)
        nuclei[syllable_nuclei(feats["band"], voiced, hop_s, cfg)] = 1.0
        width = max(1, int(round(cfg.rate_window_s / hop_s)))
        speech_s = _sliding_sum(presence, width) * hop_s
        with np.errstate(invalid="ignore", divide="ignore"):
            rate = np.where(speech_s >= cfg.min_rate_speech_s, _sliding_sum(nuclei, width) / speech_s, np.nan)
        phone_rate = np.full(n, np.nan)
        rate_source = "energy"

    n_out = num_output_frames(audio.duration, fps)
    ones = np.ones(n)
    active = (energetic & (presence > 0)).astype(np.float64)
    power = 10 ** (level.astype(np.float64) / 10)
    loud_out = 10 * np.log10(np.maximum(_to_fps(power, ones, n_out, fps, hop_s).astype(np.float64), 1e-12))
    log_f0 = _to_fps(np.log(np.where(voiced, f0, np.nan)), ones, n_out, fps, hop_s)
    return Prosody(
        f0_hz=np.exp(log_f0).astype(np.float32),
        voicing=_to_fps(voiced.astype(np.float64), ones, n_out, fps, hop_s),
        periodicity=_to_fps(feats["periodicity"], ones, n_out, fps, hop_s),
        loudness_db=loud_out.astype(np.float32),
        spectral_centroid_hz=_to_fps(feats["centroid"], active, n_out, fps, hop_s),
        spectral_tilt_db=_to_fps(feats["tilt"], active, n_out, fps, hop_s),
        pitch_variability_st=_to_fps(variability, ones, n_out, fps, hop_s),
        speaking_rate=_to_fps(rate, ones, n_out, fps, hop_s),
        phone_rate=_to_fps(phone_rate, ones, n_out, fps, hop_s),
        presence=_to_fps(presence, ones, n_out, fps, hop_s),
        fps=float(fps),
        rate_source=rate_source,
        loud_level_db=loud,
    )
