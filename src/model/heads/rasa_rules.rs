//! A bundle's Rasa synonyms, lookup tables and regexes (`rasa.json`), applied at parse time as
//! Rasa's EntitySynonymMapper and RegexEntityExtractor do: lookup and regex matches are returned as
//! entities (`source` "lookup" / "regex"), and every entity whose text is a known synonym gets the
//! canonical value.

use std::collections::BTreeMap;
use std::path::Path;

use regex::Regex;
use serde::{Deserialize, Serialize};

use crate::entities::entity::Entity;

/// A named pattern: a Rasa `regex:` item (its patterns) or a `lookup:` table (its elements).
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct NamedList {
    /// The entity the matches are returned as.
    pub entity: String,
    pub items: Vec<String>,
}

/// `rasa.json`.
#[derive(Debug, Clone, Default, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct RasaData {
    /// Lower-cased surface text → canonical value.
    #[serde(default)]
    pub synonyms: BTreeMap<String, String>,
    #[serde(default)]
    pub lookups: Vec<NamedList>,
    #[serde(default)]
    pub regexes: Vec<NamedList>,
}

/// [`RasaData`] with its patterns compiled.
#[derive(Debug)]
pub struct RasaRules {
    synonyms: BTreeMap<String, String>,
    /// (entity, source, pattern)
    patterns: Vec<(String, &'static str, Regex)>,
}

/// The pattern of a lookup table: any element, case-insensitive, on word boundaries (as Rasa).
pub fn lookup_pattern(items: &[String]) -> String {
    let mut sorted: Vec<&String> = items.iter().filter(|s| !s.trim().is_empty()).collect();
    sorted.sort_by_key(|s| std::cmp::Reverse(s.len())); // longest first: "new york city" before "new york"
    let alts: Vec<String> = sorted.iter().map(|s| regex::escape(s.trim())).collect();
    format!(r"(?i)\b(?:{})\b", alts.join("|"))
}

/// A Rasa regex, case-insensitive as RegexEntityExtractor's default.
pub fn regex_pattern(pattern: &str) -> String {
    format!("(?i){pattern}")
}

/// The matcher of a lookup table (one pattern of all its elements; none when it has no element) or
/// of a `regex:` item (one pattern each): what the entity extractor applies, and what the lexical
/// features' pattern columns apply (src/model/heads/lexical.rs).
pub fn compile_list(source: &str, list: &NamedList) -> Result<Vec<Regex>, String> {
    if source == "lookup" {
        if list.items.iter().all(|s| s.trim().is_empty()) {
            return Ok(Vec::new()); // `\b(?:)\b` would match at every word boundary
        }
        return Regex::new(&lookup_pattern(&list.items)).map(|re| vec![re]).map_err(|e| format!("lookup {:?}: {e}", list.entity));
    }
    let compile = |p: &String| Regex::new(&regex_pattern(p)).map_err(|e| format!("regex {:?}: pattern {p:?} does not compile: {e}", list.entity));
    list.items.iter().map(compile).collect()
}

impl RasaRules {
    /// Compiles the patterns; every list that does not compile is a problem.
    pub fn compile(data: RasaData) -> Result<RasaRules, Vec<String>> {
        let mut patterns = Vec::new();
        let mut problems = Vec::new();
        let lists = data.lookups.iter().map(|l| ("lookup", l)).chain(data.regexes.iter().map(|r| ("regex", r)));
        for (source, list) in lists {
            match compile_list(source, list) {
                Ok(res) => patterns.extend(res.into_iter().map(|re| (list.entity.clone(), source, re))),
                Err(e) => problems.push(e),
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        Ok(RasaRules { synonyms: data.synonyms, patterns })
    }

    /// Reads and compiles a bundle's `rasa.json`.
    pub fn load(path: &Path) -> Result<RasaRules, Vec<String>> {
        let text = crate::model::files::read_text(path, crate::model::files::MAX_JSON_BYTES).map_err(|e| vec![e])?;
        let data: RasaData = serde_json::from_str(&text).map_err(|e| vec![format!("not a rasa.json: {e}")])?;
        RasaRules::compile(data)
    }

    /// Adds lookup and regex matches (not already found with the same type and span) and maps
    /// every entity's value through the synonyms.
    pub fn apply(&self, text: &str, entities: &mut Vec<Entity>) {
        for (entity, source, re) in &self.patterns {
            for m in re.find_iter(text) {
                let start = text[..m.start()].chars().count();
                let end = start + m.as_str().chars().count();
                if entities.iter().any(|e| e.entity == *entity && e.start == start && e.end == end) {
                    continue;
                }
                let surface = m.as_str().to_string();
                entities.push(Entity {
                    entity: entity.clone(),
                    value: serde_json::Value::String(surface.clone()),
                    text: surface,
                    start,
                    end,
                    confidence: 1.0,
                    source,
                    role: None,
                    group: None,
                });
            }
        }
        for e in entities.iter_mut() {
            if let Some(canonical) = self.synonyms.get(&e.text.to_lowercase()) {
                e.value = serde_json::Value::String(canonical.clone());
            }
        }
        entities.sort_by_key(|e| (e.start, e.end));
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn lookups_regexes_and_synonyms() {
        let data = RasaData {
            synonyms: BTreeMap::from([("big apple".into(), "New York City".into())]),
            lookups: vec![NamedList { entity: "city".into(), items: vec!["Big Apple".into(), "Paris".into()] }],
            regexes: vec![NamedList { entity: "zipcode".into(), items: vec![r"\d{5}".into()] }],
        };
        let rules = RasaRules::compile(data).unwrap();
        let mut found = Vec::new();
        rules.apply("météo à paris et big apple 75001", &mut found);
        let got: Vec<(&str, &str, usize, &'static str)> =
            found.iter().map(|e| (e.entity.as_str(), e.value.as_str().unwrap(), e.start, e.source)).collect();
        assert_eq!(got, [("city", "paris", 8, "lookup"), ("city", "New York City", 17, "lookup"), ("zipcode", "75001", 27, "regex")]);
        let bad = RasaData { regexes: vec![NamedList { entity: "x".into(), items: vec!["(".into()] }], ..Default::default() };
        let e = RasaRules::compile(bad).unwrap_err();
        assert!(e[0].contains("\"x\"") && e[0].contains("\"(\""), "{e:?}");
        // a table with no element matches nothing (not every word boundary)
        let empty = RasaData { lookups: vec![NamedList { entity: "x".into(), items: vec![" ".into()] }], ..Default::default() };
        let mut found = Vec::new();
        RasaRules::compile(empty).unwrap().apply("any text", &mut found);
        assert!(found.is_empty(), "{found:?}");
    }
}
