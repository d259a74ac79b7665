//! A project's Rasa synonyms, lookup tables and regexes, gathered at training for parse time
//! (`rasa.json`, applied by `heads::rasa_rules`).
//!
//! As Rasa: `synonym:` items and annotation values that differ from the text (`[NYC](city:New York
//! City)`, `{"value": ...}`) map a surface text to its canonical value; `lookup:` and `regex:`
//! items are extracted as entities only when their name is an entity annotated in the training data
//! (RegexEntityExtractor's rule); the others are reported and left out. A lookup element that names
//! a `.txt` file is read from that file, one element a line, relative to the YAML file — from the
//! command line only, and only inside the project folder ([`LookupFiles`]); over HTTP no file is
//! opened by name (lookups come inline). Each file is read once however often it is named, the
//! elements of an entity are kept once, and all lookup elements together are bounded
//! ([`MAX_LOOKUP_ITEMS`], [`MAX_LOOKUP_BYTES`]) before any pattern is compiled.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};

use serde_norway::Value;

use crate::model::heads::lexical::PatternFeature;
use crate::model::heads::rasa_rules::{compile_list, NamedList, RasaData, RasaRules};
use crate::train::TrainError;

pub const RASA_FILE: &str = "rasa.json";

/// Most lookup elements a project may have, all tables together (after duplicates are dropped).
pub const MAX_LOOKUP_ITEMS: usize = 100_000;
/// Most bytes of lookup elements, all tables together: bounds the size of the compiled patterns.
pub const MAX_LOOKUP_BYTES: usize = 2 << 20;

/// Where a lookup element naming a `.txt` file may be read from.
#[derive(Debug, Clone, Default, PartialEq)]
pub enum LookupFiles {
    /// Nowhere: the data came over HTTP, a file name is a problem (lookups come inline).
    #[default]
    Refused,
    /// Only a file inside one of these folders (the project's, as given to `--data` / `--dev`),
    /// after links and `..` are resolved.
    Inside(Vec<PathBuf>),
}

impl LookupFiles {
    /// The folders of the data paths given on the command line (a file's own folder).
    pub fn inside_data(paths: &[PathBuf]) -> LookupFiles {
        let roots = paths.iter().filter_map(|p| {
            let dir = if p.is_dir() { p.as_path() } else { p.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new(".")) };
            dir.canonicalize().ok()
        });
        LookupFiles::Inside(roots.collect())
    }

    /// The file `item` names, relative to `yaml`, if it may be read; else why not.
    fn allowed(&self, yaml: &Path, item: &str) -> Result<PathBuf, String> {
        let LookupFiles::Inside(roots) = self else {
            return Err("lookup files are not read over HTTP: put the elements in the YAML".into());
        };
        let joined = yaml.parent().unwrap_or(Path::new(".")).join(item);
        // one answer for a missing file and one outside: the error says nothing of the server's files
        let outside = || format!("{item:?} is not a readable file inside the project folder");
        let real = joined.canonicalize().map_err(|_| outside())?;
        if roots.iter().any(|r| real.starts_with(r)) && real.is_file() {
            Ok(real)
        } else {
            Err(outside())
        }
    }
}

/// What was gathered, and notes on what was left out.
#[derive(Debug, Default)]
pub struct Gathered {
    pub data: RasaData,
    pub notes: Vec<String>,
    /// Every lookup table and regex of the project (those left out of entity extraction too), as
    /// the lexical features' pattern columns (Rasa's RegexFeaturizer uses them all), compiled.
    pub pattern_features: Vec<PatternFeature>,
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
    block.lines().filter_map(|l| l.trim().strip_prefix('-')).map(|s| s.trim().trim_matches('"').to_string()).filter(|s| !s.is_empty()).collect()
}

/// The files read so far (each once), the (entity, file) pairs already taken, and the bytes of
/// lookup elements gathered (checked as they come, so no mention can multiply a file's size).
#[derive(Default)]
struct Reader {
    files: std::collections::HashMap<PathBuf, std::rc::Rc<Vec<String>>>,
    taken: std::collections::HashSet<(String, PathBuf)>,
    bytes: usize,
    over: bool,
}

/// Lookup elements, `.txt` files read (each file once, where `policy` allows).
fn lookup_items(raw: Vec<String>, yaml: &Path, name: &str, ctx: &mut Context) -> Vec<String> {
    let mut out = Vec::new();
    for item in raw {
        if !item.ends_with(".txt") || item.contains(char::is_whitespace) {
            ctx.spend(std::slice::from_ref(&item), &mut out);
            continue;
        }
        let path = match ctx.policy.allowed(yaml, &item) {
            Ok(p) => p,
            Err(why) => {
                ctx.problems.push(format!("{}: lookup {name:?}: {why}", yaml.display()));
                continue;
            }
        };
        if !ctx.reader.taken.insert((name.to_string(), path.clone())) {
            continue; // this entity has this file's elements already
        }
        let lines = match ctx.reader.files.get(&path) {
            Some(lines) => lines.clone(),
            None => match read_lines(&path) {
                Ok(lines) => ctx.reader.files.entry(path).or_insert(std::rc::Rc::new(lines)).clone(),
                Err(e) => {
                    ctx.problems.push(format!("{}: lookup {name:?}: file {item:?} cannot be read: {e}", yaml.display()));
                    continue;
                }
            },
        };
        ctx.spend(&lines, &mut out);
    }
    out
}

/// A lookup file's elements, one a line; at most [`MAX_LOOKUP_BYTES`] read.
fn read_lines(path: &Path) -> Result<Vec<String>, String> {
    use std::io::Read;
    let mut text = String::new();
    let file = std::fs::File::open(path).map_err(|e| e.to_string())?;
    file.take(MAX_LOOKUP_BYTES as u64 + 1).read_to_string(&mut text).map_err(|e| e.to_string())?;
    if text.len() > MAX_LOOKUP_BYTES {
        return Err(format!("over {} MiB of lookup elements", MAX_LOOKUP_BYTES >> 20));
    }
    Ok(text.lines().map(str::trim).filter(|l| !l.is_empty()).map(str::to_string).collect())
}

/// What gathering carries from file to file.
struct Context<'a> {
    policy: &'a LookupFiles,
    reader: Reader,
    problems: Vec<String>,
}

impl Context<'_> {
    /// Adds `items` to `out` while the lookup budget lasts; past it, one problem and nothing more.
    fn spend(&mut self, items: &[String], out: &mut Vec<String>) {
        for item in items {
            self.reader.bytes += item.len() + 1;
            if self.reader.bytes > MAX_LOOKUP_BYTES {
                if !self.reader.over {
                    self.reader.over = true;
                    self.problems
                        .push(format!("lookup tables hold over {} MiB of elements; that is the most a project may have", MAX_LOOKUP_BYTES >> 20));
                }
                return;
            }
            out.push(item.clone());
        }
    }
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
fn gather_file(path: &Path, g: &mut Gathered, ctx: &mut Context) {
    let Ok(text) = std::fs::read_to_string(path) else { return };
    if crate::data::rasa::check_yaml_depth(&text, "").is_err() {
        return; // told by the reader of the examples, which reads the same file first
    }
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
            let items = lookup_items(raw, path, &entity, ctx);
            g.data.lookups.push(NamedList { entity, items });
        } else if let Some(entity) = name("regex") {
            let patterns = block_items(item.get("examples"));
            for p in &patterns {
                if let Err(e) = regex::Regex::new(&crate::model::heads::rasa_rules::regex_pattern(p)) {
                    ctx.problems.push(format!("{}: regex {entity:?}: pattern {p:?} does not compile: {e}", path.display()));
                }
            }
            g.data.regexes.push(NamedList { entity, items: patterns });
        }
    }
}

/// Gathers every Rasa file's synonyms, lookups and regexes; keeps the lookups and regexes named
/// after an entity of `entities`. Bad regexes, lookup files that cannot (or may not) be read and
/// lookups over the budget are errors.
pub fn collect(files: &[PathBuf], entities: &BTreeSet<String>, policy: &LookupFiles) -> Result<Gathered, TrainError> {
    let mut g = Gathered::default();
    let mut ctx = Context { policy, reader: Reader::default(), problems: Vec::new() };
    for f in files {
        gather_file(f, &mut g, &mut ctx);
    }
    if !ctx.problems.is_empty() {
        return Err(TrainError::Invalid(ctx.problems));
    }
    let (mut lookups, mut regexes) = (std::mem::take(&mut g.data.lookups), std::mem::take(&mut g.data.regexes));
    let mut keep = |lists: &mut Vec<NamedList>, what: &'static str| {
        // an element named twice (or a file named by every mention) is kept once
        let merged: BTreeMap<String, (Vec<String>, BTreeSet<String>)> = lists.drain(..).fold(BTreeMap::new(), |mut m, l| {
            let (items, seen) = m.entry(l.entity).or_default();
            items.extend(l.items.into_iter().filter(|i| seen.insert(i.clone())));
            m
        });
        let merged = merged.into_iter().map(|(e, (items, _))| (e, items));
        for (entity, items) in merged {
            g.pattern_features.push(PatternFeature { kind: what.into(), name: entity.clone(), items: items.clone() });
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
    check_budget(&lookups)?;
    g.data.lookups = lookups;
    g.data.regexes = regexes;
    let d = &g.data;
    if !files.is_empty() {
        // a table or MASSIVE jsonl has none of these: no note
        g.notes.insert(
            0,
            format!("rasa: {} synonym(s), {} lookup table(s), {} regex(es) kept for parse time", d.synonyms.len(), d.lookups.len(), d.regexes.len()),
        );
    }
    RasaRules::compile(g.data.clone()).map_err(TrainError::Invalid)?;
    // the pattern columns' matchers: regexes were all checked as read, kept lookups just above
    let left_out = g.pattern_features.iter().filter(|p| p.kind == "lookup" && !entities.contains(&p.name));
    let problems = left_out.filter_map(|p| compile_list(&p.kind, &NamedList { entity: p.name.clone(), items: p.items.clone() }).err());
    let problems: Vec<String> = problems.collect();
    if !problems.is_empty() {
        return Err(TrainError::Invalid(problems));
    }
    Ok(g)
}

/// All lookup elements together within [`MAX_LOOKUP_ITEMS`] and [`MAX_LOOKUP_BYTES`].
fn check_budget(lookups: &[NamedList]) -> Result<(), TrainError> {
    let items: usize = lookups.iter().map(|l| l.items.len()).sum();
    let bytes: usize = lookups.iter().flat_map(|l| l.items.iter()).map(|i| i.len() + 1).sum();
    if items > MAX_LOOKUP_ITEMS || bytes > MAX_LOOKUP_BYTES {
        return Err(TrainError::Invalid(vec![format!(
            "lookup tables hold {items} elements ({bytes} bytes); at most {MAX_LOOKUP_ITEMS} elements and {} MiB together",
            MAX_LOOKUP_BYTES >> 20
        )]));
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn project(lookup_lines: &str, mentions: usize, file_text: &str) -> (tempfile::TempDir, PathBuf) {
        let d = tempfile::tempdir().unwrap();
        std::fs::write(d.path().join("cities.txt"), file_text).unwrap();
        let mut yaml = String::from("nlu:\n- intent: a\n  examples: |\n    - x [Paris](city)\n");
        for _ in 0..mentions {
            yaml.push_str(&format!("- lookup: city\n  examples: |\n{lookup_lines}"));
        }
        let path = d.path().join("nlu.yml");
        std::fs::write(&path, yaml).unwrap();
        (d, path)
    }

    fn city() -> BTreeSet<String> {
        ["city".to_string()].into()
    }

    /// A file named by every one of 200 mentions is read once and its elements kept once (the
    /// same request once peaked at 23.8 GB).
    #[test]
    fn a_lookup_file_named_often_is_read_once() {
        let lines: String = (0..5000).map(|i| format!("town number {i}\n")).collect();
        let (d, yaml) = project("    - cities.txt\n    - Lyon\n", 200, &lines);
        let g = collect(&[yaml], &city(), &LookupFiles::inside_data(&[d.path().to_path_buf()])).unwrap();
        assert_eq!(g.data.lookups.len(), 1);
        assert_eq!(g.data.lookups[0].items.len(), 5001);
    }

    /// Over HTTP no file is read; from the command line only inside the project folder, with
    /// one message for a missing file and one outside.
    #[test]
    fn lookup_files_only_inside_the_project() {
        let outside = tempfile::tempdir().unwrap();
        std::fs::write(outside.path().join("secret.txt"), "hunter2\n").unwrap();
        let secret = outside.path().join("secret.txt");
        let rel = format!("../{}/secret.txt", outside.path().file_name().unwrap().to_string_lossy());
        for file in [secret.display().to_string(), rel, "missing.txt".into()] {
            let (d, yaml) = project(&format!("    - {file}\n"), 1, "");
            let inside = LookupFiles::inside_data(&[d.path().to_path_buf()]);
            let TrainError::Invalid(p) = collect(std::slice::from_ref(&yaml), &city(), &inside).unwrap_err() else { panic!() };
            assert!(p[0].contains("not a readable file inside the project folder") && !p[0].contains("hunter2"), "{p:?}");
            let TrainError::Invalid(p) = collect(&[yaml], &city(), &LookupFiles::Refused).unwrap_err() else { panic!() };
            assert!(p[0].contains("not read over HTTP"), "{p:?}");
        }
        let (d, yaml) = project("    - cities.txt\n", 1, "Paris\nLyon\n");
        let g = collect(std::slice::from_ref(&yaml), &city(), &LookupFiles::inside_data(std::slice::from_ref(&yaml))).unwrap();
        assert_eq!(g.data.lookups[0].items, ["Paris", "Lyon"]);
        drop(d);
    }

    /// Lookup elements over the budget are refused, inline or from files.
    #[test]
    fn lookups_over_the_budget_are_refused() {
        let big: String = (0..3000).map(|i| format!("{i:0>1000}\n")).collect();
        let (d, yaml) = project("    - cities.txt\n", 1, &big);
        let TrainError::Invalid(p) = collect(&[yaml], &city(), &LookupFiles::inside_data(&[d.path().to_path_buf()])).unwrap_err() else { panic!() };
        assert!(p[0].contains("MiB"), "{p:?}");
        let inline: String = (0..120_000).map(|i| format!("    - c{i}\n")).collect();
        let (_d, yaml) = project(&inline, 1, "");
        let TrainError::Invalid(p) = collect(&[yaml], &city(), &LookupFiles::Refused).unwrap_err() else { panic!() };
        assert!(p[0].contains("at most 100000 elements"), "{p:?}");
    }

    /// Every lookup table and regex is a lexical pattern column, those that entity extraction
    /// leaves out (no example annotates their entity) too.
    #[test]
    fn every_lookup_and_regex_is_a_pattern_feature() {
        let (d, yaml) = project("    - Paris\n    - Lyon\n", 2, "");
        std::fs::write(&yaml, std::fs::read_to_string(&yaml).unwrap() + "- regex: zip\n  examples: |\n    - \\d{5}\n").unwrap();
        let g = collect(std::slice::from_ref(&yaml), &city(), &LookupFiles::Refused).unwrap();
        let features: Vec<(&str, &str, usize)> = g.pattern_features.iter().map(|p| (p.kind.as_str(), p.name.as_str(), p.items.len())).collect();
        assert_eq!(features, [("lookup", "city", 2), ("regex", "zip", 1)]);
        assert!(g.data.regexes.is_empty() && g.notes.iter().any(|n| n.contains("regex \"zip\" left out")), "{:?}", g.notes);
        drop(d);
    }

    #[test]
    fn annotation_values_are_synonyms() {
        let v = annotation_values(r#"- a [NYC](city:New York City) b [Lyon]{"entity": "place", "value": "lyon", "role": "to"} [x](y)"#);
        assert_eq!(v, [("NYC".to_string(), "New York City".to_string()), ("Lyon".to_string(), "lyon".to_string())]);
    }
}
