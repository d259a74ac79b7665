"""Rasa 3.x NLU YAML -> training records: the Python twin of src/rasa.rs.

Both readers must give the same examples; tests/rasa_eval.rs runs
    python training/rasa_nlu.py --check tests/data/nlu.yml tests/data/nlu.expected.jsonl
which parses the YAML here and compares it with a MASSIVE-format jsonl (the Rust test compares the
Rust reader with the same file).

Read: the top-level `nlu:` list; each `intent:` item's `examples:`, either a block string of `- `
lines or Rasa's extended list of maps with `text:` (optional `metadata:`). `synonym:`, `regex:` and
`lookup:` items are skipped and counted; other top-level keys are ignored. Annotations:
`[text](entity)`, `[text](entity:value)`, `[text]{"entity": "x", "value": ..., "role": ..., "group": ...}`.
Escaped or unbalanced brackets, nested brackets and `[text]` without an annotation are errors that
name the file, the intent and the example.

Records have the shape of common.load_split's: id, locale, intent, utt, words, labels, types.
The locale is the file stem ("nlu" for data/nlu.yml) unless given.
"""
import argparse
import difflib
import json
import os
import sys

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from parlance_text import make_record, parse_massive_annotation  # noqa: E402

STRIP = " \t\r\n"
ITEM_KINDS = ("intent", "synonym", "regex", "lookup")


class RasaError(ValueError):
    pass


def _valid_entity_name(name):
    return isinstance(name, str) and name != "" and not any(c.isspace() or c in "[](){}#" for c in name)


def _role_or_group(obj, key, surface):
    """A JSON annotation's role or group as text (a string or a number), or None."""
    v = obj.get(key)
    if v is None:
        return None
    if isinstance(v, bool) or not isinstance(v, (str, int, float)):
        raise RasaError(f"`[{surface}]{{...}}`: \"{key}\" must be a string or a number")
    v = v if isinstance(v, str) else json.dumps(v)
    if not _valid_entity_name(v):
        raise RasaError(f"`[{surface}]{{...}}`: bad {key} {v!r} (non-empty, no spaces, brackets or `#`)")
    return v


def parse_rasa_annotation(annot):
    """One annotated example -> (text, [(entity, start, end)]) with char offsets, end exclusive."""
    out, spans, n, i = [], [], 0, 0
    decoder = json.JSONDecoder()
    while True:
        pos = min((p for p in (annot.find("[", i), annot.find("]", i), annot.find("\\", i)) if p >= 0), default=-1)
        if pos < 0:
            out.append(annot[i:])
            break
        out.append(annot[i:pos])
        n += pos - i
        c = annot[pos]
        if c == "\\":
            if annot[pos + 1:pos + 2] in ("[", "]"):
                raise RasaError("escaped bracket (`\\[` or `\\]`): Rasa annotations have no escapes; "
                                "remove the brackets from the text")
            out.append("\\")
            n += 1
            i = pos + 1
            continue
        if c == "]":
            raise RasaError("`]` without an opening `[`")
        body = pos + 1
        close = min((p for p in (annot.find("[", body), annot.find("]", body)) if p >= 0), default=-1)
        if close < 0:
            raise RasaError("`[` without a closing `]`")
        if annot[close] == "[":
            raise RasaError("`[` inside `[...]`: nested or unclosed brackets")
        surface = annot[body:close]
        if not surface.strip(STRIP):
            raise RasaError("empty entity text `[]`")
        t = close + 1
        if annot.startswith("(", t):
            end = annot.find(")", t + 1)
            if end < 0:
                raise RasaError(f"`[{surface}](` without a closing `)`")
            inner = annot[t + 1:end]
            entity = inner.split(":", 1)[0]
            if not _valid_entity_name(entity):
                raise RasaError(f"bad entity name {entity!r} in `[{surface}]({inner})`")
            nxt = end + 1
        elif annot.startswith("{", t):
            try:
                obj, nxt = decoder.raw_decode(annot, t)
            except json.JSONDecodeError as e:
                raise RasaError(f"`[{surface}]{{...}}` is not valid JSON: {e}") from None
            if not isinstance(obj, dict) or "entity" not in obj:
                raise RasaError(f"`[{surface}]{{...}}` has no \"entity\" key")
            entity = obj["entity"]
            if not _valid_entity_name(entity):
                raise RasaError(f"`[{surface}]{{...}}`: \"entity\" must be a non-empty name")
            # a role or group travels in the slot type, as in Parlance's reader (entities::slot_type)
            role, group = _role_or_group(obj, "role", surface), _role_or_group(obj, "group", surface)
            entity += (f"#role={role}" if role is not None else "") + (f"#group={group}" if group is not None else "")
        elif annot.startswith("[", t):
            raise RasaError(f"`[{surface}][...]` (several entities on one text) is not supported")
        else:
            raise RasaError(f"`[{surface}]` is not followed by `(entity)` or `{{\"entity\": ...}}`")
        out.append(surface)
        spans.append((entity, n, n + len(surface)))
        n += len(surface)
        i = nxt
    return "".join(out), spans


def _examples_of(value, at):
    if value is None:
        raise RasaError(at("no `examples:`"))
    if isinstance(value, str):
        out = []
        for line in value.splitlines():
            line = line.strip(STRIP)
            if not line:
                continue
            if not line.startswith("-"):
                raise RasaError(at(f"example line {line!r} does not start with `- `"))
            ex = line[1:].strip(STRIP)
            if not ex:
                raise RasaError(at("an example line is empty (`-` alone)"))
            out.append(ex)
        return out
    if isinstance(value, list):
        out = []
        for j, e in enumerate(value, 1):
            if not isinstance(e, dict):
                raise RasaError(at(f"examples item {j} is not a mapping with `text:`"))
            for k in e:
                if k not in ("text", "metadata"):
                    raise RasaError(at(f"examples item {j}: unknown key `{k}`"))
            t = e.get("text")
            if not isinstance(t, str):
                raise RasaError(at(f"examples item {j}: `text:` missing or not a string"))
            t = t.strip(STRIP)
            if not t:
                raise RasaError(at(f"examples item {j}: empty `text:`"))
            out.append(t)
        return out
    raise RasaError(at("`examples:` must be a block string of `- ` lines or a list of `text:` maps"))


def yaml12_loader():
    """PyYAML's safe loader with YAML 1.2's booleans (true/false only), as Rasa reads its files
    (ruamel.yaml, YAML 1.2) and as the Rust reader does: `- intent: yes` is the intent "yes", not
    True. YAML 1.1's yes/no/on/off booleans are dropped."""
    import re
    import yaml

    class Yaml12Loader(yaml.SafeLoader):
        pass

    bool_tag = "tag:yaml.org,2002:bool"
    Yaml12Loader.yaml_implicit_resolvers = {
        first: [(tag, rx) for tag, rx in resolvers if tag != bool_tag]
        for first, resolvers in yaml.SafeLoader.yaml_implicit_resolvers.items()
    }
    Yaml12Loader.add_implicit_resolver(bool_tag, re.compile(r"^(?:true|True|TRUE|false|False|FALSE)$"), list("tTfF"))
    return Yaml12Loader


def parse_rasa_nlu(text, source, locale):
    """-> (examples as (intent, text, [(entity, start, end)]), {skipped kind: count})."""
    import yaml
    try:
        doc = yaml.load(text, Loader=yaml12_loader())
    except yaml.YAMLError as e:
        raise RasaError(f"{source}: not valid YAML: {e}") from None
    if not isinstance(doc, dict):
        raise RasaError(f"{source}: not a Rasa NLU file: the top level is not a mapping with an `nlu:` key")
    if "nlu" not in doc:
        raise RasaError(f"{source}: not a Rasa NLU file: no top-level `nlu:` key")
    items = doc["nlu"]
    if items is None:
        raise RasaError(f"{source}: `nlu:` is empty")
    if not isinstance(items, list):
        raise RasaError(f"{source}: `nlu:` must be a list of items (`- intent: ...`)")
    examples, skipped = [], {}
    for i, item in enumerate(items, 1):
        where = f"{source}: nlu item {i}"
        if not isinstance(item, dict):
            raise RasaError(f"{where}: not a mapping (`- intent: name`)")
        kind = next((k for k in ITEM_KINDS if k in item), None)
        if kind is None:
            raise RasaError(f"{where}: has none of `intent`, `synonym`, `regex`, `lookup`")
        if kind != "intent":
            skipped[kind] = skipped.get(kind, 0) + 1
            continue
        intent = item["intent"]
        if not isinstance(intent, str) or not intent.strip():
            raise RasaError(f"{where}: `intent:` must be a non-empty string")
        for k in item:
            if not isinstance(k, str):
                raise RasaError(f"{source}: intent {intent!r}: a key is not a string")
            if k not in ("intent", "examples", "metadata"):
                raise RasaError(f"{source}: intent {intent!r}: unknown key `{k}`")

        def at(msg, intent=intent):
            return f"{source}: intent {intent!r}: {msg}"

        raw = _examples_of(item.get("examples"), at)
        if not raw:
            raise RasaError(at("no examples"))
        for ex in raw:
            try:
                utt, ents = parse_rasa_annotation(ex)
            except RasaError as e:
                raise RasaError(f"{source}: intent {intent!r}, example {ex!r}: {e}") from None
            if not utt.strip(STRIP):
                raise RasaError(f"{source}: intent {intent!r}, example {ex!r}: empty text")
            examples.append((intent, utt, ents))
    return examples, skipped


def read_rasa_nlu(path, locale=None, quiet=False):
    """Training records (common.load_split's shape) from a Rasa NLU YAML file."""
    stem = os.path.splitext(os.path.basename(path))[0]
    locale = stem if locale is None else locale
    with open(path, encoding="utf-8") as f:
        text = f.read()
    examples, skipped = parse_rasa_nlu(text, path, locale)
    if skipped and not quiet:
        parts = ", ".join(f"{n} {k}" for k, n in sorted(skipped.items()))
        print(f"{path}: skipped {parts} item(s) (not intent examples)", file=sys.stderr)
    return [make_record(f"{stem}-{i + 1}", locale, intent, utt, ents)
            for i, (intent, utt, ents) in enumerate(examples)]


def massive_annotation(utt, ents):
    """(text, spans) -> MASSIVE `annot_utt` ("wake me at [time : nine]")."""
    out, pos = [], 0
    for typ, start, end in sorted(ents, key=lambda e: e[1]):
        out += [utt[pos:start], f"[{typ} : {utt[start:end]}]"]
        pos = end
    out.append(utt[pos:])
    return "".join(out)


def read_rasa_massive(path, locale=None, quiet=False):
    """The file as MASSIVE-format rows: locale, intent, utt, annot_utt (and spans, for checks)."""
    stem = os.path.splitext(os.path.basename(path))[0]
    locale = stem if locale is None else locale
    with open(path, encoding="utf-8") as f:
        examples, _ = parse_rasa_nlu(f.read(), path, locale)
    return [{"locale": locale, "intent": intent, "utt": utt, "annot_utt": massive_annotation(utt, ents),
             "spans": [list(e) for e in ents]} for intent, utt, ents in examples]


def check(yml, expected):
    """0 when the YAML parses to exactly the MASSIVE-format jsonl `expected` (same locale, intent,
    text and entity spans, and so the same training records), else 1 with a diff."""
    got_rows = read_rasa_massive(yml)
    got_records = read_rasa_nlu(yml, quiet=True)
    want_rows, want_records = [], []
    with open(expected, encoding="utf-8") as f:
        for line_no, line in enumerate(f, 1):
            if not line.strip():
                continue
            r = json.loads(line)
            utt, ents = parse_massive_annotation(r["annot_utt"])
            if utt != r["utt"]:
                print(f"{expected}:{line_no}: annot_utt does not give back utt", file=sys.stderr)
                return 1
            locale = r.get("locale", "all")
            want_rows.append({"locale": locale, "intent": r["intent"], "utt": utt, "annot_utt": r["annot_utt"],
                              "spans": [list(e) for e in ents]})
            want_records.append(make_record(None, locale, r["intent"], utt, ents))

    def lines(rows):
        return [json.dumps(r, ensure_ascii=False) for r in rows]

    def records(recs):
        return lines([{k: v for k, v in r.items() if k != "id"} for r in recs])

    ok = True
    for what, want, got in (("examples", lines(want_rows), lines(got_rows)),
                            ("training records", records(want_records), records(got_records))):
        if want != got:
            ok = False
            print(f"--- {what} differ:")
            print("\n".join(difflib.unified_diff(want, got, fromfile=expected, tofile=yml, lineterm="")))
    if not ok:
        print(f"MISMATCH: {yml} does not parse to {expected}", file=sys.stderr)
        return 1
    print(f"ok: {yml} parses to the {len(got_rows)} examples of {expected}")
    return 0


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("path", nargs="?", help="print this Rasa file as MASSIVE-format jsonl")
    ap.add_argument("--check", nargs=2, metavar=("NLU_YML", "EXPECTED_JSONL"),
                    help="exit 1 with a diff unless NLU_YML parses to EXPECTED_JSONL")
    ap.add_argument("--locale", default=None, help="locale of the examples (default: the file stem)")
    args = ap.parse_args()
    try:
        if args.check:
            sys.exit(check(*args.check))
        if not args.path:
            ap.error("give a file, or --check NLU_YML EXPECTED_JSONL")
        for r in read_rasa_massive(args.path, locale=args.locale):
            del r["spans"]
            print(json.dumps(r, ensure_ascii=False))
    except (RasaError, OSError) as e:
        print(f"error: {e}", file=sys.stderr)
        sys.exit(2)


if __name__ == "__main__":
    main()
