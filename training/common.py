"""Shared helpers for the training scripts: data loading and word/label preparation."""
import json
import os

from parlance_text import bio_labels, parse_massive_annotation, words

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.environ.get("PARLANCE_MASSIVE", os.path.join(HERE, "..", "..", "shared", "data", "massive"))
LOCALES = ("en-US", "fr-FR")


def load_split(data_dir, locale, split):
    rows = []
    with open(os.path.join(data_dir, f"{locale}.{split}.jsonl"), encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            utt, ents = parse_massive_annotation(r["annot_utt"])
            ws, spans = words(utt, lowercase=True)
            rows.append({"id": r["id"], "locale": locale, "intent": r["intent"], "utt": r["utt"],
                         "words": ws, "labels": bio_labels(spans, ents),
                         "types": [e[0] for e in ents]})
    return rows
