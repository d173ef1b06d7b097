"""Phones of audio of any length: cut at pauses, decode chunks in parallel, join with their offsets.

    >>> timeline = phone_timeline(audio)                         # allphone
    >>> timeline = phone_timeline(audio, "What she said ...")    # aligned (words filled)

One PocketSphinx utterance costs time and memory that grow faster than its length (aligning 600 s as
one utterance took 36 s and 8 GB), so audio longer than `PhoneConfig.max_chunk_s` is cut into chunks of
about `chunk_s` seconds, each cut in the middle of the longest pause near its target (`plan_chunks`;
pauses from the energy VAD, run on 60 s blocks). Chunks are decoded independently by a pool of
processes, one per core (PocketSphinx holds the GIL while it decodes: two threads took as long as one
after the other), with at most two chunks per worker in flight. Times are shifted by each chunk's
start; a pause split between two chunks becomes one "sil". Silent chunks (nothing above -55 dBFS) are
not decoded. Measured (`bench/phonemes.py`, 2026-12-03, workers started beforehand): on 2 cores 600 s
took 0.020 x real time for allphone and 0.021-0.023 aligned (0.041 and 0.038-0.041 on one core; 60 s:
0.021 and 0.026-0.027, 0.038 and 0.038-0.041); workers peaked at 86 MB (allphone) and 129 MB
(aligned), and the main process grew by 29 MB (allphone) and 56 MB (aligned: it holds an aligner too)
over its size with the audio loaded.

Aligned mode shares the transcript among the chunks in order. Each chunk but the last is given a
window of what is left of the transcript around its expected share (from the speaking rate); its job
runs pass 1 over a grammar that may stop after any word of the window from a minimum on, reports how
many words that is to this process at once (a queue given to the workers when the pool starts), and
runs pass 2 on that same decode. The next chunk's job is made when the count arrives, so pass 1 runs
one chunk after another while the pass 2s (the longer: ~0.022 against ~0.014 x real time) run beside
them. (Counting in a pass of its own before both passes cost a third more CPU: 2 cores 60 s 0.031-0.035,
one core 0.046-0.051.) Cuts are in pauses, so a word is rarely split; an error in one chunk's word count
stays at that chunk's edges. A chunk whose words will not align falls back to allphone phones (its words
are then missing, with a warning).

The process pool uses the "spawn" start method (safe beside threads of ONNX Runtime or torch), so a
script that calls this on long audio needs the usual `if __name__ == "__main__":` guard.
"""

from __future__ import annotations

import functools
import itertools
import logging
import math
import multiprocessing
import os
import time
from collections import deque
from collections.abc import Callable, Iterable, Iterator
from concurrent.futures import Executor, Future, ProcessPoolExecutor, ThreadPoolExecutor
from concurrent.futures.process import BrokenProcessPool
from itertools import pairwise

import numpy as np

from recognition.audio import SILENCE_DBFS, Audio, frame_rms_db, speech_segments
from recognition.phonemes.align import (
    align_spoken_words,
    align_words,
    aligner,
    prepare_words,
    silence_timeline,
    transcript_problem,
)
from recognition.phonemes.allphone import PhoneConfig, check_sample_rate, merge_phones, recognize_phones
from recognition.phonemes.timeline import PhoneTimeline

log = logging.getLogger(__name__)

Span = tuple[float, float]


def worker_count(config: PhoneConfig) -> int:
    """Decoding processes: `config.workers`, else `AFFECT_STUDIO_THREADS`, else the usable cores."""
    if config.workers:
        return max(1, config.workers)
    env = os.environ.get("AFFECT_STUDIO_THREADS")
    if env:
        return max(1, int(env))
    return len(os.sched_getaffinity(0)) if hasattr(os, "sched_getaffinity") else (os.cpu_count() or 1)


def plan_chunks(audio: Audio, speech: list[Span], config: PhoneConfig = PhoneConfig(), workers: int = 1) -> list[Span]:
    """Contiguous `[(start_s, end_s), ...]` covering [0, audio.duration], cut in the middle of pauses
    between the `speech` segments.

    The chunk length aims at `config.chunk_s`, adjusted so the number of chunks is a multiple of `workers`
    (equal shares keep every core busy to the end; audio shorter than `MIN_PARALLEL_S` stays whole, and
    so does audio up to `max_chunk_s` on one worker). The target of each cut is an equal share of what is
    left. Each cut is the pause whose middle lies between half and 1.6 times the target after the previous
    cut (never beyond `max_chunk_s`) and scores best on length / (1 + distance from the target in chunk
    lengths); with several workers, the pause nearest the target, since the longest chunk sets when the
    last worker ends (the 60 s bench clip for 2 workers was cut into 18.9/14.8/18.0/8.3 s by pause
    length). With no pause there, the quietest 10 ms frame of that stretch (mid-speech: logged).
    """
    duration = audio.duration
    count = max(1, math.ceil(duration / config.chunk_s))
    if workers > 1 and duration >= MIN_PARALLEL_S:
        count = math.ceil(count / workers) * workers
    elif duration <= config.max_chunk_s:
        count = 1
    if count == 1:
        return [(0.0, duration)]
    length = duration / count
    pauses = [(a_end, b_start) for (_, a_end), (b_start, _) in pairwise(speech)]
    cuts = [0.0]
    while len(cuts) < count and duration - cuts[-1] > 1.3 * length:
        start = cuts[-1]
        length = (duration - start) / (count - len(cuts) + 1)
        target = start + length
        lo, hi = start + length / 2, start + min(config.max_chunk_s, 1.6 * length)
        candidates = [(a, b) for a, b in pauses if lo <= (a + b) / 2 <= hi]
        if workers > 1 and candidates:  # the pause nearest the target
            a, b = min(candidates, key=lambda p: abs((p[0] + p[1]) / 2 - target))
            cut = (a + b) / 2
        elif candidates:
            a, b = max(candidates, key=lambda p: (p[1] - p[0]) / (1 + abs((p[0] + p[1]) / 2 - target) / length))
            cut = (a + b) / 2
        else:
            level = frame_rms_db(audio.slice(lo, hi).samples, audio.sample_rate, 0.01)
            cut = lo + int(np.argmin(level)) / 100 if len(level) else target
            log.info("no pause between %.1f s and %.1f s: cutting the audio at %.2f s", lo, hi, cut)
        cuts.append(round(cut, 3))
    cuts.append(duration)
    return list(pairwise(cuts))


MIN_PARALLEL_S = 12.0  # below this, starting a second decode costs more than it saves
SHARE_TIMEOUT_S = 60.0  # plus 10 s per second of chunk: how long to wait for a chunk's word count
VAD_BLOCK_S = 60.0


def speech_spans(audio: Audio, config: PhoneConfig = PhoneConfig()) -> list[Span]:
    """`speech_segments` of `audio` (pauses of at least `config.min_pause_s`), computed on 60 s blocks
    and joined: it makes float64 copies of its whole input, so this keeps memory flat. Each block is
    judged against its own loud level. A hint for where to cut, not a verdict on silence: it finds
    nothing in a block that is less than ~5% speech."""
    if audio.duration <= 1.5 * VAD_BLOCK_S:
        return speech_segments(audio, min_silence_s=config.min_pause_s)
    spans: list[Span] = []
    for start in np.arange(0.0, audio.duration, VAD_BLOCK_S):
        block = audio.slice(float(start), float(start) + VAD_BLOCK_S)
        for a, b in speech_segments(block, min_silence_s=config.min_pause_s):
            a, b = a + float(start), b + float(start)
            if spans and a - spans[-1][1] < config.min_pause_s:
                spans[-1] = (spans[-1][0], b)
            else:
                spans.append((a, b))
    return spans


def is_silent(samples: np.ndarray) -> bool:
    """No sample louder than `SILENCE_DBFS` (-55 dBFS): nothing to decode. (No copy of `samples`.)"""
    return len(samples) == 0 or max(float(samples.max()), -float(samples.min())) < 10 ** (SILENCE_DBFS / 20)


def speech_in(span: Span, speech: list[Span]) -> float:
    """Seconds of `speech` inside `span`."""
    return sum(max(0.0, min(b, span[1]) - max(a, span[0])) for a, b in speech)


# --- work done in the pool's processes (top-level functions, so they pickle) -------------------------


def _allphone_job(samples: np.ndarray, source: str | None, config: PhoneConfig) -> tuple[PhoneTimeline, str]:
    return recognize_phones(Audio(samples, source=source), config), ""


def _aligned_job(
    samples: np.ndarray, source: str | None, words: list[str], pronunciations: dict[str, str], config: PhoneConfig
) -> tuple[PhoneTimeline, str]:
    """Align one chunk; on failure its allphone phones and a note for the caller to log."""
    audio = Audio(samples, source=source)
    if not words:
        return recognize_phones(audio, config), "speech without transcript words"
    timeline = align_words(audio, words, config, pronunciations)
    if timeline is None:
        return recognize_phones(audio, config), f"its {len(words)} words could not be aligned"
    return timeline, ""


def _counting_job(
    key: tuple[int, int], samples: np.ndarray, source: str | None, window: list[str], min_words: int,
    expected: int, pronunciations: dict[str, str], config: PhoneConfig,
) -> tuple[PhoneTimeline, str]:  # fmt: skip
    """Align one chunk that speaks the first words of `window`, at least `min_words` of them: count them
    (pass 1), report how many to the process sharing out the transcript (`key`: its run and this chunk's
    index), then align them (pass 2). When they cannot be counted, the chunk takes the `expected` number."""
    audio = Audio(samples, source=source)
    shares: list[int] = []

    def report(count: int | None) -> None:
        shares.append(min(len(window), expected) if count is None else count)
        _share_reports().put((key, shares[0]))

    try:
        count, timeline = align_spoken_words(audio, window, min_words, config, pronunciations, report)
    finally:
        if not shares:  # failed before counting: the sharing must go on (the caller sees the exception)
            report(None)
    if count is None:
        timeline, note = _aligned_job(samples, source, window[: shares[0]], pronunciations, config)
        return timeline, f"could not count its words, assumed {shares[0]}" + (f"; {note}" if note else "")
    if timeline is None:
        return recognize_phones(audio, config), (
            "speech without transcript words" if count == 0 else f"its {count} words could not be aligned"
        )
    return timeline, ""


# The queue a decoding job reports its chunk's word count on (see `_counting_job`): in a pool worker the
# one its pool was made with, in this process `_share_reports()`'s own. A SimpleQueue: its `put` writes
# at once, where a Queue's background thread would wait for the GIL that pass 2 then holds.
_pool_reports = None


@functools.cache
def _local_reports():
    return multiprocessing.get_context("spawn").SimpleQueue()


def _share_reports():
    return _pool_reports if _pool_reports is not None else _local_reports()


def _use_reports(reports) -> None:
    """A pool worker's initializer: report word counts on `reports`."""
    global _pool_reports
    _pool_reports = reports


_runs = itertools.count()


def _wait_for_share(key: tuple[int, int], job: Future | None, timeout_s: float) -> int | None:
    """The word count the job `key` reported, or None once `job` (its future; None: it ran here) ended
    without a report (its worker died) or after `timeout_s` (it hangs). Reports from an earlier,
    abandoned run are dropped."""
    reports = _local_reports()
    deadline = time.monotonic() + timeout_s
    while time.monotonic() < deadline:
        if not reports.empty():
            reported, share = reports.get()
            if reported == key:
                return share
        elif job is None or job.done():  # a report is written before its job ends
            if reports.empty():
                return None
        else:
            time.sleep(0.002)
    return None


# --- running and joining -----------------------------------------------------------------------------


@functools.cache
def shared_process_pool(workers: int) -> ProcessPoolExecutor:
    """One pool of decoding processes per process, kept for its lifetime: starting a worker (imports and
    decoders) costs ~1 s of CPU, more than decoding a minute of speech gains from a second core."""
    return ProcessPoolExecutor(
        workers, mp_context=multiprocessing.get_context("spawn"), initializer=_use_reports, initargs=(_local_reports(),)
    )


def worker_pool(config: PhoneConfig = PhoneConfig()) -> ProcessPoolExecutor | None:
    """The decoders' shared process pool, or None when phones are decoded in this process (one core,
    or `parallel` is not "process"). Between decodes its workers are idle: other CPU-bound steps that
    follow the phones (the rig exports) may use them."""
    workers = worker_count(config)
    if config.parallel != "process" or workers <= 1:
        return None
    return shared_process_pool(workers)


def warm_up(config: PhoneConfig = PhoneConfig()) -> None:
    """Start the shared pool's workers and build their decoders now (e.g. while models load)."""
    pool = worker_pool(config)
    if pool is None:
        return
    tone = (0.3 * np.sin(np.arange(8000) * 2 * np.pi * 150 / 16000)).astype(np.float32)
    for future in [pool.submit(_allphone_job, tone, None, config) for _ in range(worker_count(config))]:
        future.result()


def _executor(config: PhoneConfig, jobs: int) -> Executor | None:
    """None (run in this process), or an executor; the process pool is shared (see `shared_process_pool`)."""
    workers = min(worker_count(config), jobs)
    if config.parallel == "serial" or workers <= 1:
        return None
    if config.parallel == "thread":
        return ThreadPoolExecutor(workers)
    if config.parallel != "process":
        raise ValueError(f"PhoneConfig.parallel must be 'process', 'thread' or 'serial', not {config.parallel!r}")
    return worker_pool(config)


def _run(
    jobs: Iterable[tuple[Callable, tuple]], executor: Executor | None, window: int, submitted: list[Future]
) -> Iterator:
    """Results of `fn(*args)` for `jobs` in order, with at most `window` submitted and unfinished; each
    job's future is appended to `submitted` as it is submitted (none without an executor)."""
    if executor is None:
        for fn, args in jobs:
            yield fn(*args)
        return
    pending: deque = deque()
    for fn, args in jobs:
        pending.append(executor.submit(fn, *args))
        submitted.append(pending[-1])
        if len(pending) >= window:
            yield pending.popleft().result()
    while pending:
        yield pending.popleft().result()


def join_chunks(parts: list[tuple[Span, PhoneTimeline]], source: str | None, method: str) -> PhoneTimeline:
    """One timeline from per-chunk timelines (each over [0, chunk length]): shifted by the chunk starts,
    with the silences on either side of a cut merged into one "sil"."""
    phones, words = [], []
    for (start, _), timeline in parts:
        shifted = timeline.shifted(start)
        phones += shifted.phones
        words += shifted.words
    for phone in phones:
        phone.start, phone.end = round(phone.start, 4), round(phone.end, 4)
    for word in words:
        word.start, word.end = round(word.start, 4), round(word.end, 4)
    return PhoneTimeline(merge_phones(phones), words, source, method)


def _count_window(audio: Audio, span: Span, speech: list[Span], rate: float, remaining: list[str]):
    """For a chunk that is not the last: the transcript words it may speak, the fewest it must, and how
    many it is expected to (from the speaking rate `rate`, words per second of speech)."""
    expected = rate * speech_in(span, speech)
    # the window also covers speech the energy VAD missed (sparse speech in a quiet block)
    window = remaining[: int(1.6 * max(expected, 0.5 * rate * (span[1] - span[0]))) + 8]
    return window, int(0.4 * expected), min(len(remaining), round(expected))


def phone_timeline(audio: Audio, transcript: str | None = None, config: PhoneConfig = PhoneConfig()) -> PhoneTimeline:
    """Phones (and words, with a transcript) of `audio`, mono 16 kHz, of any length.

    Without `transcript` (or with an empty one): allphone recognition, method "allphone". With one:
    forced alignment, method "aligned", one `Word` per `transcript_words(transcript)` entry; when the
    transcript has no or too few dictionary words, a warning and the allphone result. The timeline is
    contiguous over [0, audio.duration] s. Silent audio (no sample above -55 dBFS) gives a single "sil"
    without decoding (empty audio: no phones); noise is decoded and comes out as "sil" too (white noise
    did) — whether no speech is an error is the caller's decision.
    """
    check_sample_rate(audio)
    aligned = bool(transcript and transcript.strip())
    words: list[str] = []
    pronunciations: dict[str, str] = {}
    if aligned:
        words, known, pronunciations = prepare_words(aligner(), transcript or "")
        problem = transcript_problem(words, known, config)
        if problem:
            log.warning(
                "%s: %s; using phone recognition without the transcript (allphone)", audio.source or "audio", problem
            )
            aligned = False
    method = "aligned" if aligned else "allphone"
    if is_silent(audio.samples):
        if aligned:
            log.warning("%s: the audio is silent; the transcript is not aligned", audio.source or "audio")
        return silence_timeline(audio, "allphone")
    speech = speech_spans(audio, config)
    chunks = plan_chunks(audio, speech, config, workers=worker_count(config) if config.parallel != "serial" else 1)
    log.debug("%s: %d chunk(s) of ~%.0f s", audio.source or "audio", len(chunks), audio.duration / len(chunks))

    def jobs() -> Iterator[tuple[Callable, tuple]]:
        """One job per chunk. Aligned, each chunk but the last speaks the first words of what is left of
        the transcript: its job counts them and reports the count before aligning them, and the next
        chunk's job is made when that count arrives (one pass 1 per chunk, in the workers)."""
        run, position = next(_runs), 0
        _local_reports()  # made before any job runs: a job in a thread would otherwise race to make its own
        rate = len(words) / (sum(b - a for a, b in speech) or audio.duration)  # words per second of speech
        for index, span in enumerate(chunks):
            samples = audio.slice(*span).samples
            remaining = words[position:]
            if is_silent(samples):
                if remaining and index == len(chunks) - 1:
                    log.warning(
                        "%s: %d transcript words left for silent audio at the end", audio.source or "audio",
                        len(remaining),
                    )  # fmt: skip
                yield silence_timeline, (Audio(samples, source=audio.source), "allphone")
            elif not aligned:
                yield _allphone_job, (samples, audio.source, config)
            elif index == len(chunks) - 1 or not remaining:
                yield _aligned_job, (samples, audio.source, remaining, pronunciations, config)
            else:
                window, min_words, expected = _count_window(audio, span, speech, rate, remaining)
                key = (run, index)
                yield _counting_job, (key, samples, audio.source, window, min_words, expected, pronunciations, config)
                job = submitted[-1] if submitted else None  # None: it has run in this process
                share = _wait_for_share(key, job, timeout_s=SHARE_TIMEOUT_S + 10 * (span[1] - span[0]))
                if share is None:
                    share = expected
                    log.warning("%s: chunk %.1f-%.1f s: no word count; assuming %d", audio.source, *span, share)
                position += share

    executor = _executor(config, len(chunks))
    submitted: list[Future] = []
    parts: list[tuple[Span, PhoneTimeline]] = []
    try:
        results = _run(jobs(), executor, window=2 * worker_count(config), submitted=submitted)
        for span, result in zip(chunks, results, strict=True):
            timeline, note = result if isinstance(result, tuple) else (result, "")
            if note:
                log.warning(
                    "%s: chunk %.1f-%.1f s: %s; using allphone phones there", audio.source or "audio", *span, note
                )
            parts.append((span, timeline))
    except BrokenProcessPool:
        shared_process_pool.cache_clear()  # a worker died (killed, out of memory): start afresh next time
        raise
    finally:
        if isinstance(executor, ThreadPoolExecutor):
            executor.shutdown(cancel_futures=True)
    if aligned and not any(timeline.method == "aligned" for _, timeline in parts):
        method = "allphone"  # no chunk aligned: say so (the warnings above say why)
    return join_chunks(parts, audio.source, method)
