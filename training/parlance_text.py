"""Text to words: the Python twin of src/text.rs (docs/bundle.md, "Text to words to tokens").

Training and serving must split text the same way, or the slot head reads the wrong sub-token.
Both sides are checked against tests/data/text_cases.json.
"""
import re
import unicodedata

APOSTROPHES = "\u2019\u2018\u02bc\u00b4`"
EDGE_PUNCT = set('.,!?;:"\u00ab\u00bb()[]{}\u2026')


def normalize_word(word: str, lowercase: bool) -> str:
    w = unicodedata.normalize("NFC", word)
    for a in APOSTROPHES:
        w = w.replace(a, "'")
    return w.lower() if lowercase else w


def split_words(text: str):
    """Return [(start, end), ...] char spans of words in `text` (end exclusive)."""
    spans = []
    for m in re.finditer(r"\S+", text):
        s, e = m.start(), m.end()
        lead, trail = [], []
        while s < e and text[s] in EDGE_PUNCT:
            lead.append((s, s + 1))
            s += 1
        while e > s and text[e - 1] in EDGE_PUNCT:
            trail.append((e - 1, e))
            e -= 1
        spans.extend(lead)
        if s < e:
            spans.append((s, e))
        spans.extend(reversed(trail))
    return spans


def words(text: str, lowercase: bool = True):
    """Normalised words and their char spans in the original text."""
    spans = split_words(text)
    return [normalize_word(text[s:e], lowercase) for s, e in spans], spans


def parse_massive_annotation(annot: str):
    """MASSIVE `annot_utt` -> (utt, [(slot_type, start, end)]) with char offsets into utt."""
    out, ents, pos = [], [], 0
    for m in re.finditer(r"\[(\S+?) : (.*?)\]", annot):
        out.append(annot[pos:m.start()])
        start = sum(len(x) for x in out)
        out.append(m.group(2))
        ents.append((m.group(1), start, start + len(m.group(2))))
        pos = m.end()
    out.append(annot[pos:])
    return "".join(out), ents


def bio_labels(spans, entities):
    """BIO label per word, given word spans and entity char spans (words inside an entity)."""
    labels = ["O"] * len(spans)
    for typ, es, ee in entities:
        first = True
        for i, (s, e) in enumerate(spans):
            if s >= es and e <= ee:
                labels[i] = ("B-" if first else "I-") + typ
                first = False
    return labels


def make_record(id_, locale, intent, utt, ents, raw_utt=None):
    """One training record: `ents` are (slot_type, start, end) char spans of `utt`; the record's
    "utt" is `raw_utt` when given (MASSIVE's own `utt` field), else `utt`."""
    ws, spans = words(utt, lowercase=True)
    return {"id": id_, "locale": locale, "intent": intent, "utt": utt if raw_utt is None else raw_utt,
            "words": ws, "labels": bio_labels(spans, ents),
            "types": [e[0] for e in ents]}
