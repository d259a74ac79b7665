//! Rasa 3.x NLU YAML as labelled examples, for `parlance eval` (and, in Python, for training:
//! `training/rasa_nlu.py` is the twin of this reader and must agree with it; both are checked
//! against `tests/data/nlu.expected.jsonl`).
//!
//! What is read: the top-level `nlu:` list; each `intent:` item's `examples:`, either a block
//! string of `- ` lines or Rasa's extended list of maps with `text:` (and optional `metadata:`).
//! `synonym:`, `regex:` and `lookup:` items are skipped and counted; other top-level keys
//! (`version`, `rules`, `stories`, `responses`, ...) are ignored.
//!
//! Entity annotations, stripped into plain text plus (entity, start, end) char spans, end
//! exclusive, as `massive::parse_annotation` gives for MASSIVE:
//! * `[text](entity)`
//! * `[text](entity:value)` (synonym shorthand; the value is not kept)
//! * `[text]{"entity": "x", "value": "...", "role": "...", "group": "..."}` (JSON; `entity` required;
//!   a role or group is kept in the span's type, `x#role=R#group=G`: `entities::slot_type`)
//!
//! Rasa has no escapes: a `\[` or `\]`, a `[` or `]` without its partner, nested brackets, or
//! `[text]` with no `(entity)` or `{...}` after it is an error naming the file, the intent and the
//! example. Nothing here panics on bad input.

use std::collections::BTreeMap;
use std::path::Path;

use serde_norway::Value;

use crate::data::{DataError, Example};

/// Characters stripped from both ends of an example's text (the same set in `rasa_nlu.py`).
const STRIP: &[char] = &[' ', '\t', '\r', '\n'];

/// What a Rasa NLU file held.
#[derive(Debug, Clone, Default)]
pub struct RasaNlu {
    pub examples: Vec<Example>,
    /// Items skipped by kind (`synonym`, `regex`, `lookup`) and how many of each.
    pub skipped: BTreeMap<String, usize>,
}

impl RasaNlu {
    /// One line on the skipped items, e.g. "skipped 1 lookup, 1 regex, 1 synonym item(s)", or
    /// `None` when nothing was skipped.
    pub fn skipped_note(&self) -> Option<String> {
        if self.skipped.is_empty() {
            return None;
        }
        let parts: Vec<String> = self.skipped.iter().map(|(k, n)| format!("{n} {k}")).collect();
        Some(format!("skipped {} item(s) (not intent examples)", parts.join(", ")))
    }
}

/// Reads a Rasa NLU YAML file. Every example's locale is the file stem ("nlu" for `data/nlu.yml`);
/// use [`read_rasa_nlu_with_locale`] to set another. Skipped items are logged at info level.
pub fn read_rasa_nlu(path: &Path) -> Result<Vec<Example>, DataError> {
    read_rasa_nlu_with_locale(path, None)
}

/// [`read_rasa_nlu`] with the locale given by the caller (`None`: the file stem).
pub fn read_rasa_nlu_with_locale(path: &Path, locale: Option<&str>) -> Result<Vec<Example>, DataError> {
    let nlu = load_rasa_nlu(path, locale)?;
    if let Some(note) = nlu.skipped_note() {
        tracing::info!(file = %path.display(), "{note}");
    }
    Ok(nlu.examples)
}

/// Reads a Rasa NLU file and says what was skipped.
pub fn load_rasa_nlu(path: &Path, locale: Option<&str>) -> Result<RasaNlu, DataError> {
    let text = std::fs::read_to_string(path).map_err(|source| DataError::Read { path: path.to_path_buf(), source })?;
    let locale = match locale {
        Some(l) => l.to_string(),
        None => path.file_stem().map(|s| s.to_string_lossy().into_owned()).unwrap_or_else(|| "nlu".into()),
    };
    parse_rasa_nlu(&text, &path.display().to_string(), &locale).map_err(DataError::Invalid)
}

/// Deepest flow nesting (`[`, `{`) a Rasa file may have; Rasa's own files nest 3 or 4 levels.
pub const MAX_YAML_FLOW_DEPTH: usize = 64;
/// Widest block nesting (indentation plus compact `- ` markers) of a line, in characters.
pub const MAX_YAML_BLOCK_WIDTH: usize = 256;

/// Refuses a YAML text nested deeper than a Rasa file ever is, before a parser sees it: a YAML
/// parser spends time quadratic in the nesting (200,000 levels in 400 KB once took 80 s). One
/// linear pass: block scalars (`examples: |`) are skipped, quotes and comments respected.
pub fn check_yaml_depth(yaml: &str, source: &str) -> Result<(), String> {
    let mut block: Option<usize> = None; // indentation of the line that opened a block scalar
    let mut flow = 0usize;
    for (n, line) in yaml.lines().enumerate() {
        let indent = line.len() - line.trim_start_matches(' ').len();
        let rest = &line[indent..];
        if let Some(opened) = block {
            if rest.trim().is_empty() || indent > opened {
                continue;
            }
            block = None;
        }
        let markers = rest.len() - rest.trim_start_matches(['-', '?', ' ']).len();
        if indent + markers > MAX_YAML_BLOCK_WIDTH {
            return Err(format!("{source}: line {}: nested deeper than a Rasa file is ({} columns of indentation)", n + 1, indent + markers));
        }
        let ((deepest, after), code) = flow_depth(rest, flow);
        if deepest > MAX_YAML_FLOW_DEPTH {
            return Err(format!("{source}: line {}: `[` / `{{` nested over {MAX_YAML_FLOW_DEPTH} levels deep", n + 1));
        }
        flow = after;
        let code = code.trim_end();
        let opens_block = code.rsplit_once(['|', '>']).is_some_and(|(before, mods)| {
            mods.chars().all(|c| c == '-' || c == '+' || c.is_ascii_digit()) && (before.is_empty() || before.ends_with([' ', ':', '-']))
        });
        if flow == 0 && opens_block {
            block = Some(indent);
        }
    }
    Ok(())
}

/// The deepest flow nesting reached on `line` starting at `flow` and the nesting at its end, and
/// the line without its comment.
fn flow_depth(line: &str, mut flow: usize) -> ((usize, usize), &str) {
    let (mut max, mut quote, mut escaped) = (flow, None::<char>, false);
    let mut prev = ' ';
    for (i, c) in line.char_indices() {
        match quote {
            Some('"') if escaped => escaped = false,
            Some('"') if c == '\\' => escaped = true,
            Some(q) if c == q => quote = None,
            Some(_) => {}
            None => match c {
                '"' | '\'' if prev == ' ' || prev == '[' || prev == '{' || prev == ',' || prev == ':' || i == 0 => quote = Some(c),
                '#' if prev == ' ' || i == 0 => return ((max, flow), &line[..i]),
                '[' | '{' => {
                    flow += 1;
                    max = max.max(flow);
                }
                ']' | '}' => flow = flow.saturating_sub(1),
                _ => {}
            },
        }
        prev = c;
    }
    ((max, flow), line)
}

/// Parses the text of a Rasa NLU file; `source` names it in errors.
pub fn parse_rasa_nlu(yaml: &str, source: &str, locale: &str) -> Result<RasaNlu, String> {
    check_yaml_depth(yaml, source)?;
    let doc: Value = serde_norway::from_str(yaml).map_err(|e| format!("{source}: not valid YAML: {e}"))?;
    let top = doc.as_mapping().ok_or_else(|| format!("{source}: not a Rasa NLU file: the top level is not a mapping with an `nlu:` key"))?;
    let nlu = top.get("nlu").ok_or_else(|| format!("{source}: not a Rasa NLU file: no top-level `nlu:` key"))?;
    let items = match nlu {
        Value::Sequence(items) => items,
        Value::Null => return Err(format!("{source}: `nlu:` is empty")),
        _ => return Err(format!("{source}: `nlu:` must be a list of items (`- intent: ...`)")),
    };
    let mut out = RasaNlu::default();
    for (i, item) in items.iter().enumerate() {
        let where_ = format!("{source}: nlu item {}", i + 1);
        let map = item.as_mapping().ok_or_else(|| format!("{where_}: not a mapping (`- intent: name`)"))?;
        let kind = ["intent", "synonym", "regex", "lookup"]
            .into_iter()
            .find(|k| map.contains_key(*k))
            .ok_or_else(|| format!("{where_}: has none of `intent`, `synonym`, `regex`, `lookup`"))?;
        if kind != "intent" {
            *out.skipped.entry(kind.to_string()).or_default() += 1;
            continue;
        }
        let intent = match map.get("intent") {
            Some(Value::String(s)) if !s.trim().is_empty() => s.clone(),
            _ => return Err(format!("{where_}: `intent:` must be a non-empty string")),
        };
        for (k, _) in map.iter() {
            match k.as_str() {
                Some("intent" | "examples" | "metadata") => {}
                Some(other) => return Err(format!("{source}: intent {intent:?}: unknown key `{other}`")),
                None => return Err(format!("{source}: intent {intent:?}: a key is not a string")),
            }
        }
        let raw = examples_of(map.get("examples"), source, &intent)?;
        if raw.is_empty() {
            return Err(format!("{source}: intent {intent:?}: no examples"));
        }
        for ex in raw {
            let (text, spans) = parse_rasa_annotation(&ex).map_err(|e| format!("{source}: intent {intent:?}, example {ex:?}: {e}"))?;
            if text.trim_matches(STRIP).is_empty() {
                return Err(format!("{source}: intent {intent:?}, example {ex:?}: empty text"));
            }
            out.examples.push(Example { locale: locale.to_string(), text, intent: intent.clone(), spans });
        }
    }
    Ok(out)
}

/// The example strings (still annotated) of one intent item.
fn examples_of(v: Option<&Value>, source: &str, intent: &str) -> Result<Vec<String>, String> {
    let at = |msg: String| format!("{source}: intent {intent:?}: {msg}");
    match v {
        None | Some(Value::Null) => Err(at("no `examples:`".into())),
        // Block string: one example per `- ` line.
        Some(Value::String(block)) => {
            let mut out = Vec::new();
            for line in block.lines() {
                let line = line.trim_matches(STRIP);
                if line.is_empty() {
                    continue;
                }
                let Some(rest) = line.strip_prefix('-') else {
                    return Err(at(format!("example line {line:?} does not start with `- `")));
                };
                let ex = rest.trim_matches(STRIP);
                if ex.is_empty() {
                    return Err(at("an example line is empty (`-` alone)".into()));
                }
                out.push(ex.to_string());
            }
            Ok(out)
        }
        // Extended format: `- text: ...` maps, each with optional `metadata:`.
        Some(Value::Sequence(list)) => {
            let mut out = Vec::new();
            for (j, e) in list.iter().enumerate() {
                let map = e.as_mapping().ok_or_else(|| at(format!("examples item {} is not a mapping with `text:`", j + 1)))?;
                for (k, _) in map.iter() {
                    match k.as_str() {
                        Some("text" | "metadata") => {}
                        Some(other) => return Err(at(format!("examples item {}: unknown key `{other}`", j + 1))),
                        None => return Err(at(format!("examples item {}: a key is not a string", j + 1))),
                    }
                }
                match map.get("text") {
                    Some(Value::String(t)) => {
                        let t = t.trim_matches(STRIP);
                        if t.is_empty() {
                            return Err(at(format!("examples item {}: empty `text:`", j + 1)));
                        }
                        out.push(t.to_string());
                    }
                    _ => return Err(at(format!("examples item {}: `text:` missing or not a string", j + 1))),
                }
            }
            Ok(out)
        }
        Some(_) => Err(at("`examples:` must be a block string of `- ` lines or a list of `text:` maps".into())),
    }
}

/// An entity name: non-empty, no whitespace, no brackets, no `#` (it marks roles and groups in a
/// slot type) (`rasa_nlu.py` has the same rule).
fn valid_entity_name(name: &str) -> bool {
    !name.is_empty() && !name.chars().any(|c| c.is_whitespace() || "[](){}#".contains(c))
}

/// A JSON annotation's `role` or `group`: a string or a number, kept as text (none when absent).
fn role_or_group(v: &serde_json::Value, key: &str, surface: &str) -> Result<Option<String>, String> {
    let text = match v.get(key) {
        None | Some(serde_json::Value::Null) => return Ok(None),
        Some(serde_json::Value::String(s)) => s.clone(),
        Some(serde_json::Value::Number(n)) => n.to_string(),
        Some(_) => return Err(format!("`[{surface}]{{...}}`: \"{key}\" must be a string or a number")),
    };
    if !valid_entity_name(&text) {
        return Err(format!("`[{surface}]{{...}}`: bad {key} {text:?} (non-empty, no spaces, brackets or `#`)"));
    }
    Ok(Some(text))
}

/// (entity, start, end) char spans, end exclusive.
pub type Spans = Vec<(String, usize, usize)>;

/// One annotated Rasa example → (plain text, [(entity, start, end)]) with char offsets.
pub fn parse_rasa_annotation(annot: &str) -> Result<(String, Spans), String> {
    let mut text = String::new();
    let mut nchars = 0usize;
    let mut spans = Vec::new();
    let mut rest = annot;
    loop {
        let Some(pos) = rest.find(['[', ']', '\\']) else {
            text.push_str(rest);
            break;
        };
        let before = &rest[..pos];
        text.push_str(before);
        nchars += before.chars().count();
        let c = rest.as_bytes()[pos];
        let after = &rest[pos + 1..];
        match c {
            b'\\' => {
                if after.starts_with(['[', ']']) {
                    return Err("escaped bracket (`\\[` or `\\]`): Rasa annotations have no escapes; \
                                remove the brackets from the text"
                        .into());
                }
                text.push('\\');
                nchars += 1;
                rest = after;
            }
            b']' => return Err("`]` without an opening `[`".into()),
            _ => {
                // `[entity text]` then `(entity[:value])` or `{json}`.
                let close = after.find(['[', ']']).ok_or("`[` without a closing `]`")?;
                if after.as_bytes()[close] == b'[' {
                    return Err("`[` inside `[...]`: nested or unclosed brackets".into());
                }
                let surface = &after[..close];
                if surface.trim_matches(STRIP).is_empty() {
                    return Err("empty entity text `[]`".into());
                }
                let tail = &after[close + 1..];
                let (entity, consumed) = if let Some(paren) = tail.strip_prefix('(') {
                    let end = paren.find(')').ok_or_else(|| format!("`[{surface}](` without a closing `)`"))?;
                    let inner = &paren[..end];
                    let entity = inner.split_once(':').map_or(inner, |(e, _)| e);
                    if !valid_entity_name(entity) {
                        return Err(format!("bad entity name {entity:?} in `[{surface}]({inner})`"));
                    }
                    (entity.to_string(), 1 + end + 1)
                } else if tail.starts_with('{') {
                    let mut it = serde_json::Deserializer::from_str(tail).into_iter::<serde_json::Value>();
                    let v = match it.next() {
                        Some(Ok(v)) => v,
                        Some(Err(e)) => return Err(format!("`[{surface}]{{...}}` is not valid JSON: {e}")),
                        None => return Err(format!("`[{surface}]{{` without JSON")),
                    };
                    let consumed = it.byte_offset();
                    let entity = match v.get("entity") {
                        Some(serde_json::Value::String(s)) if valid_entity_name(s) => s.clone(),
                        Some(_) => return Err(format!("`[{surface}]{{...}}`: \"entity\" must be a non-empty name")),
                        None => return Err(format!("`[{surface}]{{...}}` has no \"entity\" key")),
                    };
                    let (role, group) = (role_or_group(&v, "role", surface)?, role_or_group(&v, "group", surface)?);
                    (crate::entities::slot_type(&entity, role.as_deref(), group.as_deref()), consumed)
                } else if tail.starts_with('[') {
                    return Err(format!("`[{surface}][...]` (several entities on one text) is not supported"));
                } else {
                    return Err(format!("`[{surface}]` is not followed by `(entity)` or `{{\"entity\": ...}}`"));
                };
                let start = nchars;
                text.push_str(surface);
                nchars += surface.chars().count();
                spans.push((entity, start, nchars));
                rest = &tail[consumed..];
            }
        }
    }
    Ok((text, spans))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Deep nesting is refused at once, whatever its style; Rasa's own files and text in block
    /// scalars (brackets of annotations, unbalanced or not) pass.
    #[test]
    fn deep_yaml_is_refused_before_parsing() {
        let started = std::time::Instant::now();
        let flow = format!("nlu: {}{}", "[".repeat(200_000), "]".repeat(200_000));
        assert!(check_yaml_depth(&flow, "f").unwrap_err().contains("nested over 64"));
        let compact = format!("nlu:\n{}x\n", "- ".repeat(200_000));
        assert!(check_yaml_depth(&compact, "f").unwrap_err().contains("nested deeper"));
        let block: String = (0..2000).map(|i| format!("{}- a:\n", " ".repeat(i * 2))).collect();
        assert!(check_yaml_depth(&block, "f").is_err());
        let err = parse_rasa_nlu(&flow, "f.yml", "en").unwrap_err();
        assert!(err.starts_with("f.yml: line 1"), "{err}");
        assert!(started.elapsed().as_secs_f64() < 5.0, "linear, not quadratic");
        let fine =
            "nlu:\n- intent: greet\n  examples: |\n    - [[[[[[ hello {{{{ [x](y) \n    - I want [ this\n- lookup: c\n  examples: [a, [b, {c: d}]]\n";
        let many: String = std::iter::repeat_n(fine, 100).collect::<Vec<_>>().join("");
        assert_eq!(check_yaml_depth(&many.replace("nlu:\n", ""), "f"), Ok(()));
        assert_eq!(check_yaml_depth(fine, "f"), Ok(()));
        let ours = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data")).unwrap();
        let rasas = std::fs::read_dir(concat!(env!("CARGO_MANIFEST_DIR"), "/../shared/data/rasa")).expect("../shared/data/rasa beside the repo");
        for f in ours.chain(rasas) {
            let p = f.unwrap().path();
            if p.extension().is_some_and(|e| e == "yml") {
                assert_eq!(check_yaml_depth(&std::fs::read_to_string(&p).unwrap(), "f"), Ok(()), "{}", p.display());
            }
        }
    }

    fn sp(e: &str, s: usize, t: usize) -> (String, usize, usize) {
        (e.to_string(), s, t)
    }

    #[test]
    fn every_annotation_form() {
        let (t, s) = parse_rasa_annotation("réveille-moi à [7h](time) le [lundi](date:monday)").unwrap();
        assert_eq!(t, "réveille-moi à 7h le lundi");
        assert_eq!(s, vec![sp("time", 15, 17), sp("date", 21, 26)]);
        let (t, s) = parse_rasa_annotation(r#"météo à [Paris]{"entity": "place_name", "value": "paris}", "role": "to"} demain"#).unwrap();
        assert_eq!(t, "météo à Paris demain");
        assert_eq!(s, vec![sp("place_name#role=to", 8, 13)]);
        // roles and groups travel in the slot type (`entities::slot_type`), numbers as text
        let (_, s) =
            parse_rasa_annotation(r#"a [large]{"entity": "size", "group": 1} with [ham]{"entity": "topping", "role": "extra", "group": "1"}"#)
                .unwrap();
        assert_eq!(s, vec![sp("size#group=1", 2, 7), sp("topping#role=extra#group=1", 13, 16)]);
        // plain parentheses and braces outside annotations are text
        let (t, s) = parse_rasa_annotation("call me (maybe) {ok}").unwrap();
        assert_eq!((t.as_str(), s.len()), ("call me (maybe) {ok}", 0));
    }

    #[test]
    fn bad_annotations_are_errors() {
        for bad in [
            r"a \[b] c",
            "a [b c",
            "a b] c",
            "a [b [c](x)](y)",
            "a [b] c",
            "a [b](x c",
            "a [b]( x)",
            "a [b]()",
            "a [b]{\"value\": \"x\"}",
            "a [b]{\"entity\": 3}",
            "a [b]{\"entity\": \"x#y\"}",
            "a [b]{\"entity\": \"x\", \"role\": \"a b\"}",
            "a [b]{\"entity\": \"x\", \"group\": [1]}",
            "a [b](x#y)",
            "a [b]{not json}",
            "a [b][{\"entity\": \"x\"}]",
            "a [](x)",
        ] {
            assert!(parse_rasa_annotation(bad).is_err(), "{bad:?} should fail");
        }
    }

    #[test]
    fn errors_name_the_file_intent_and_example() {
        let y = "nlu:\n- intent: alarm_set\n  examples: |\n    - wake me at [7am(time)\n";
        let e = parse_rasa_nlu(y, "data/x.yml", "x").unwrap_err();
        assert!(e.contains("data/x.yml") && e.contains("alarm_set") && e.contains("wake me at"), "{e}");
        let e = parse_rasa_nlu("rules: []\n", "data/x.yml", "x").unwrap_err();
        assert!(e.contains("data/x.yml") && e.contains("nlu"), "{e}");
        let e = parse_rasa_nlu("nlu: [\n", "data/x.yml", "x").unwrap_err();
        assert!(e.contains("data/x.yml") && e.contains("YAML"), "{e}");
    }

    #[test]
    fn both_example_formats_and_skipped_items() {
        let y = r#"
version: "3.1"
nlu:
- intent: greet
  examples: |
    - hi
    - hello [there](person)
- synonym: nyc
  examples: |
    - new york
- intent: greet
  metadata: {sentiment: neutral}
  examples:
  - text: |
      hey
    metadata: {x: 1}
rules: []
"#;
        let r = parse_rasa_nlu(y, "nlu.yml", "nlu").unwrap();
        let texts: Vec<&str> = r.examples.iter().map(|e| e.text.as_str()).collect();
        assert_eq!(texts, ["hi", "hello there", "hey"]);
        assert_eq!(r.examples[1].spans, vec![sp("person", 6, 11)]);
        assert_eq!(r.skipped.get("synonym"), Some(&1));
        assert!(r.skipped_note().unwrap().contains("1 synonym"));
    }
}
