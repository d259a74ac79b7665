//! A project's Rasa synonyms, lookup tables and regexes, gathered at training for parse time
//! (`rasa.json`, applied by `heads::rasa_rules`).
//!
//! As Rasa: `synonym:` items and annotation values that differ from the text (`[NYC](city:New York
//! City)`, `{"value": ...}`) map a surface text to its canonical value; `lookup:` and `regex:`
//! items are extracted as entities only when their name is an entity annotated in the training data
//! (RegexEntityExtractor's rule); the others are reported and left out. A lookup element that names
//! a `.txt` file is read from that file, one element a line, relative to the YAML file.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::model::heads::rasa_rules::{NamedList, RasaData, RasaRules};
use crate::train::TrainError;

pub const RASA_FILE: &str = "rasa.json";

/// What was gathered, and notes on what was left out.
#[derive(Debug, Default)]
pub struct Gathered {
    pub data: RasaData,
    pub notes: Vec<String>,
}

impl Gathered {
    /// The JSON of `rasa.json`, or None when there is nothing to apply.
    pub fn to_json(&self) -> Option<serde_json::Value> {
        let d = &self.data;
        let empty = d.synonyms.is_empty() && d.lookups.is_empty() && d.regexes.is_empty();
        (!empty).then(|| serde_json::to_value(d).expect("plain data"))
    }
}

/// The lines of a Rasa block of `- ` items (quotes around an item removed).
fn block_items(v: Option<&Value>) -> Vec<String> {
    let Some(Value::String(block)) = v else { return Vec::new() };
    block
        .lines()
        .filter_map(|l| l.trim().strip_prefix('-'))
        .map(|s| s.trim().trim_matches('"').to_string())
        .filter(|s| !s.is_empty())
        .collect()
}

/// Lookup elements, `.txt` files read.
fn lookup_items(raw: Vec<String>, yaml: &Path, name: &str, problems: &mut Vec<String>) -> Vec<String> {
    let mut out = Vec::new();
    for item in raw {
        if item.ends_with(".txt") && !item.contains(char::is_whitespace) {
            let path = yaml.parent().unwrap_or(Path::new(".")).join(&item);
            match std::fs::read_to_string(&path) {
                Ok(t) => out.extend(t.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string)),
                Err(e) => problems.push(format!("{}: lookup {name:?}: file {} cannot be read: {e}", yaml.display(), path.display())),
            }
        } else {
            out.push(item);
        }
    }
    out
}

/// `[text](entity:value)` and `[text]{"entity": .., "value": ..}` pairs (text, value) of a file.
fn annotation_values(text: &str) -> Vec<(String, String)> {
    let mut out = Vec::new();
    let mut from = 0;
    while let Some(pos) = text[from..].find(']').map(|p| p + from) {
        from = pos + 1;
        let Some(open) = text[..pos].rfind('[') else { continue };
        let surface = &text[open + 1..pos];
        let tail = &text[pos + 1..];
        let value = if let Some(paren) = tail.strip_prefix('(') {
            paren.find(')').and_then(|end| paren[..end].split_once(':').map(|(_, v)| v.to_string()))
        } else if tail.starts_with('{') {
            let mut it = serde_json::Deserializer::from_str(tail).into_iter::<serde_json::Value>();
            match it.next() {
                Some(Ok(v)) => v.get("value").and_then(|v| v.as_str()).map(str::to_string),
                _ => None,
            }
        } else {
            None
        };
        if let Some(v) = value.filter(|v| v != surface) {
            out.push((surface.to_string(), v));
        }
    }
    out
}

/// Reads one file's synonym, lookup and regex items into `g`.
fn gather_file(path: &Path, g: &mut Gathered, problems: &mut Vec<String>) {
    let Ok(text) = std::fs::read_to_string(path) else { return };
    let Ok(doc) = serde_norway::from_str::<Value>(&text) else { return };
    for (surface, value) in annotation_values(&text) {
        g.data.synonyms.insert(surface.to_lowercase(), value);
    }
    let Some(Value::Sequence(items)) = doc.get("nlu") else { return };
    for item in items {
        let name = |k: &str| item.get(k).and_then(Value::as_str).map(str::to_string);
        if let Some(canonical) = name("synonym") {
            for s in block_items(item.get("examples")) {
                g.data.synonyms.insert(s.to_lowercase(), canonical.clone());
            }
        } else if let Some(entity) = name("lookup") {
            let raw = match item.get("examples") {
                Some(Value::String(s)) if !s.trim_start().starts_with('-') => vec![s.trim().to_string()],
                v => block_items(v),
            };
            let items = lookup_items(raw, path, &entity, problems);
            g.data.lookups.push(NamedList { entity, items });
        } else if let Some(entity) = name("regex") {
            let patterns = block_items(item.get("examples"));
            for p in &patterns {
                if let Err(e) = regex::Regex::new(&crate::model::heads::rasa_rules::regex_pattern(p)) {
                    problems.push(format!("{}: regex {entity:?}: pattern {p:?} does not compile: {e}", path.display()));
                }
            }
            g.data.regexes.push(NamedList { entity, items: patterns });
        }
    }
}

/// Gathers every Rasa file's synonyms, lookups and regexes; keeps the lookups and regexes named
/// after an entity of `entities`. Bad regexes and missing lookup files are errors.
pub fn collect(files: &[PathBuf], entities: &BTreeSet<String>) -> Result<Gathered, TrainError> {
    let mut g = Gathered::default();
    let mut problems = Vec::new();
    for f in files {
        gather_file(f, &mut g, &mut problems);
    }
    if !problems.is_empty() {
        return Err(TrainError::Invalid(problems));
    }
    let (mut lookups, mut regexes) = (std::mem::take(&mut g.data.lookups), std::mem::take(&mut g.data.regexes));
    let mut keep = |lists: &mut Vec<NamedList>, what: &str| {
        let merged: BTreeMap<String, Vec<String>> = lists.drain(..).fold(BTreeMap::new(), |mut m, l| {
            m.entry(l.entity).or_default().extend(l.items);
            m
        });
        for (entity, items) in merged {
            if entities.contains(&entity) {
                lists.push(NamedList { entity, items });
            } else {
                g.notes.push(format!(
                    "{what} {entity:?} left out: no training example annotates an entity {entity:?} (Rasa's RegexEntityExtractor rule)"
                ));
            }
        }
    };
    keep(&mut lookups, "lookup");
    keep(&mut regexes, "regex");
    g.data.lookups = lookups;
    g.data.regexes = regexes;
    let d = &g.data;
    g.notes.insert(0, format!("rasa: {} synonym(s), {} lookup table(s), {} regex(es) kept for parse time", d.synonyms.len(), d.lookups.len(), d.regexes.len()));
    RasaRules::compile(g.data.clone()).map_err(TrainError::Invalid)?;
    Ok(g)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn annotation_values_are_synonyms() {
        let v = annotation_values(r#"- a [NYC](city:New York City) b [Lyon]{"entity": "place", "value": "lyon", "role": "to"} [x](y)"#);
        assert_eq!(v, [("NYC".to_string(), "New York City".to_string()), ("Lyon".to_string(), "lyon".to_string())]);
    }
}
