"""Cut the `pocketsphinx` wheel's phonetic trigram LM down to a bigram LM, for faster allphone decoding.

    python scripts/convert_phone_lm.py --out assets/models     # writes en-us-phone-bigram.lm

Allphone decoding looks up the phone LM for every phone it may enter next, every 10 ms frame: with the
wheel's quantised trigram trie (`en-us/en-us-phone.lm.bin`, 43 phones, 1,509 bigrams, 21,837 trigrams)
those lookups were 45 % of the decoder's time (py-spy), as much as the acoustic model. The same LM without
its trigrams keeps the phonotactics one phone deep and decodes a third faster. Measured on flite speech
(`bench/phonemes.py`, `bench/lipsync.py --phone-lm`), the phone error rate and the lip sync did not move
beyond noise; see `PhoneConfig.phone_lm`.

The cut is exact ARPA surgery, no re-estimation: the unigrams (with their back-off weights) and the
bigram probabilities are copied as the wheel's model writes them, the bigrams' back-off weights (which
only trigrams use) and the trigrams are dropped. A bigram the model lacks still backs off to
back-off(w1) x P(w2), as before. Deterministic: the same wheel gives the same bytes (checked by
`scripts/build_assets.py` against `assets/SHA256SUMS`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from recognition.phonemes.phone_lm import arpa_text, phone_lm_path  # noqa: E402

BIGRAM_LM = "en-us-phone-bigram.lm"


def bigram_arpa(arpa: str) -> str:
    """ARPA text of an n-gram model (n >= 2) -> the same model's unigrams and bigrams as a bigram model."""
    lines: list[str] = []
    order = 0  # n of the section being read; 0 in the header and after it
    for line in arpa.splitlines():
        if line.startswith("\\") and line.endswith("-grams:"):
            order = int(line[1:].split("-")[0])
        elif line == "\\end\\":
            order = 0
        elif line.startswith("ngram ") and int(line[len("ngram ") :].split("=")[0]) > 2:
            continue
        if order > 2:
            continue
        if order == 2 and line and not line.startswith("\\"):
            line = "\t".join(line.split("\t")[:3])  # log10 P(w2 | w1), w1, w2; the back-off weight goes
        lines.append(line)
    return "\n".join(lines) + "\n"


def convert(out_dir: Path) -> Path:
    """Write `BIGRAM_LM` (ARPA text, ~30 KB) into `out_dir` from the installed `pocketsphinx` wheel's
    trigram LM (the one Rhubarb Lip Sync uses)."""
    out_dir.mkdir(parents=True, exist_ok=True)
    path = out_dir / BIGRAM_LM
    path.write_text(bigram_arpa(arpa_text(phone_lm_path("trigram"))))
    return path


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--out", type=Path, default=Path(__file__).resolve().parents[1] / "assets" / "models")
    print(convert(parser.parse_args().out))


if __name__ == "__main__":
    main()
