"""Write the bundled sample speech, `assets/samples/speech.wav` and its transcript `speech.txt`.

    python scripts/make_sample_speech.py

Spoken by flite's `slt` voice (Debian package `flite`) with the studio's own TTS wrapper, so the exact
phone timings are known too. The text is ours; the audio is generated, with no third-party recording.
"""

from __future__ import annotations

import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(REPO))

from recognition.tts import synthesize  # noqa: E402

TEXT = (
    "Hello! I'm so glad you could make it today. "
    "We built this studio to bring portraits to life, right on your own computer. "
    "Pick a photo, press play, and watch me speak."
)


def main() -> None:
    samples = REPO / "assets" / "samples"
    speech = synthesize(TEXT, "flite:slt")
    speech.save_wav(samples / "speech.wav")
    (samples / "speech.txt").write_text(TEXT + "\n")
    print(f"wrote {samples / 'speech.wav'} ({speech.duration:.1f} s) and speech.txt")


if __name__ == "__main__":
    main()
