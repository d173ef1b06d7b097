"""The phonetic language model of allphone decoding: which file, and its bias toward bilabials.

    >>> phone_lm_file("bigram", bilabial_boost=0.85)   # a boosted copy, made once per machine
    '/tmp/affect-studio/phone-lm-bigram-b0.85-....lm'

PocketSphinx reads an LM only from a file, so a boosted model is written once to a cache folder in the
temp directory (atomically: parallel decoding workers may ask at the same time) and reused.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from pathlib import Path

from rigs.assets import model_path as bundled_model

log = logging.getLogger(__name__)

PHONE_LMS = ("bigram", "trigram")
BILABIAL_UNITS = frozenset({"B", "M", "P"})  # as the phone LMs write p, b, m


def phone_lm_path(name: str) -> str:
    """File of the phonetic LM `name` (see `PhoneConfig.phone_lm`)."""
    if name == "bigram":
        return str(bundled_model("en-us-phone-bigram.lm"))
    if name == "trigram":
        from recognition.phonemes.allphone import model_path  # here: allphone imports this module

        return model_path("en-us/en-us-phone.lm.bin")
    raise ValueError(f"PhoneConfig.phone_lm must be one of {', '.join(PHONE_LMS)}, not {name!r}")


def boosted_arpa(arpa: str, units: frozenset[str], log10_boost: float) -> str:
    """ARPA text with log10 P(w | history) raised by `log10_boost` for every n-gram whose last word is
    in `units` (unigrams, bigrams, trigrams alike; back-off weights unchanged). The model no longer sums
    to one, which the decoder does not need: it is a prior that makes those phones likelier wherever the
    sound leaves the choice open."""
    lines = []
    in_ngrams = False
    for line in arpa.splitlines():
        if line.startswith("\\"):
            in_ngrams = line.endswith("-grams:")
        elif in_ngrams and line.strip():
            fields = line.split("\t")
            if fields[1].split()[-1] in units:
                fields[0] = f"{float(fields[0]) + log10_boost:.4f}"
                line = "\t".join(fields)
        lines.append(line)
    return "\n".join(lines) + "\n"


def arpa_text(path: str) -> str:
    """An LM file (ARPA text or PocketSphinx's binary trie) as ARPA text."""
    if not path.endswith(".bin"):
        return Path(path).read_text()
    import pocketsphinx

    logmath = pocketsphinx.LogMath()  # held here: `NGramModel` lets its own go and writes garbage
    model = pocketsphinx.NGramModel(pocketsphinx.Config(), logmath, path)
    with tempfile.TemporaryDirectory() as tmp:
        arpa = Path(tmp) / "phone.lm"
        model.write(str(arpa), pocketsphinx.NGramModel.str_to_type("arpa"))
        return arpa.read_text()


def phone_lm_file(name: str, bilabial_boost: float = 0.0) -> str:
    """File to decode with: the LM `name` itself, or with `bilabial_boost` (log10 units) a copy of it
    whose p, b and m are that much likelier (`boosted_arpa`), cached in the temp directory."""
    source = phone_lm_path(name)
    if not bilabial_boost:
        return source
    stat = os.stat(source)
    what = f"{source}\n{stat.st_size}\n{stat.st_mtime_ns}\n{sorted(BILABIAL_UNITS)}"  # a stale copy is never reused
    key = hashlib.sha1(what.encode()).hexdigest()[:10]
    folder = Path(tempfile.gettempdir()) / "affect-studio"
    path = folder / f"phone-lm-{name}-b{bilabial_boost:g}-{key}.lm"
    if not path.exists():
        try:
            folder.mkdir(parents=True, exist_ok=True)
            partial = folder / f".{path.name}.{os.getpid()}.tmp"
            partial.write_text(boosted_arpa(arpa_text(source), BILABIAL_UNITS, bilabial_boost))
            os.replace(partial, path)
        except OSError as error:  # a full or read-only temp directory: decode without the boost
            log.warning("phone LM: cannot write its p/b/m boost to %s (%s); decoding without it", folder, error)
            return source
    return str(path)
