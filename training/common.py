"""Shared helpers for the training scripts: data loading and word/label preparation."""
import json
import os

from parlance_text import make_record, parse_massive_annotation

HERE = os.path.dirname(os.path.abspath(__file__))
DEFAULT_DATA = os.environ.get("PARLANCE_MASSIVE", os.path.join(HERE, "..", "..", "shared", "data", "massive"))
LOCALES = ("en-US", "fr-FR")


def load_split(data_dir, locale, split):
    rows = []
    with open(os.path.join(data_dir, f"{locale}.{split}.jsonl"), encoding="utf-8") as f:
        for line in f:
            r = json.loads(line)
            utt, ents = parse_massive_annotation(r["annot_utt"])
            rows.append(make_record(r["id"], locale, r["intent"], utt, ents, raw_utt=r["utt"]))
    return rows


def load_massive_file(path):
    """Any MASSIVE-format jsonl file (`locale` per row, "all" when absent, as `parlance eval`)."""
    rows = []
    stem = os.path.splitext(os.path.basename(path))[0]
    with open(path, encoding="utf-8") as f:
        for i, line in enumerate(f):
            if not line.strip():
                continue
            r = json.loads(line)
            utt, ents = parse_massive_annotation(r["annot_utt"])
            if utt != r["utt"]:
                raise ValueError(f"{path}:{i + 1}: annot_utt does not give back utt")
            rows.append(make_record(str(r.get("id", f"{stem}-{i + 1}")), r.get("locale", "all"), r["intent"],
                                    utt, ents))
    return rows


def load_file(path, locale=None):
    """Records from a Rasa NLU YAML file (.yml/.yaml; locale = file stem unless given) or a
    MASSIVE jsonl file (anything else)."""
    if path.lower().endswith((".yml", ".yaml")):
        from rasa_nlu import read_rasa_nlu  # needs PyYAML; imported only for Rasa data
        return read_rasa_nlu(path, locale=locale)
    rows = load_massive_file(path)
    if locale is not None:
        for r in rows:
            r["locale"] = locale
    return rows
