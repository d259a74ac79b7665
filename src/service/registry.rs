//! The served models: several named bundles at once, a default, optional routing by language, and
//! reloads that swap a model without dropping a request.
//!
//! Each name holds an `ArcSwap` of the parser now serving it. A request takes a snapshot (an
//! `Arc`) and keeps it to the end, so a reload never changes a model under a request: the new
//! bundle is loaded beside the old one, checked and warmed up, then swapped in atomically; the old
//! one's inference workers finish what they hold and stop when the last request using it is done.
//! A bundle that fails any check is refused and the old one keeps serving.

use std::collections::BTreeMap;
use std::path::PathBuf;
use std::sync::{Arc, Mutex};
use std::time::{Duration, SystemTime};

use arc_swap::ArcSwap;
use serde::Serialize;

use crate::model::BundleError;
use crate::model::SessionSettings;
use crate::pipeline::{Checked, Fallback, ParseError, ParseInput, ParseResult, Parser};
use crate::service::models::{ConfigError, LoadSettings, ModelSpec, ModelsConfig};

/// What one name serves now.
pub struct Served {
    pub parser: Parser,
    /// The bundle folder it was loaded from.
    pub path: PathBuf,
    pub loaded_at: SystemTime,
    /// 1 for the first load, +1 per successful reload.
    pub generation: u64,
}

struct Entry {
    spec: Mutex<ModelSpec>,
    current: ArcSwap<Served>,
    /// One reload of a name at a time; a second waits for the first.
    reloading: tokio::sync::Mutex<()>,
}

/// One line of `GET /v1/models`.
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct ModelSummary {
    /// The name it is served under.
    pub id: String,
    /// The bundle's own name and version.
    pub name: String,
    pub version: String,
    /// "parlance" or "hugging_face".
    pub format: crate::model::BundleFormat,
    pub languages: Vec<String>,
    pub intents: usize,
    /// Slot types; empty for an intent-only model.
    pub slot_types: Vec<String>,
    pub default: bool,
    /// Languages routed to it.
    pub routes: Vec<String>,
    pub fallback: Fallback,
    pub path: String,
    /// RFC 3339.
    pub loaded_at: String,
    pub generation: u64,
}

/// Why a reload did not happen.
#[derive(Debug, thiserror::Error)]
pub enum ReloadError {
    #[error("unknown model {0:?}")]
    UnknownModel(String),
    #[error("{0}")]
    Refused(BundleError),
    #[error("{0}")]
    Conflict(String),
    #[error("reload failed: {0}")]
    Failed(String),
}

pub struct Registry {
    /// Copy-on-write: a model added at run time (trained over HTTP, found in the models folder)
    /// swaps in a new map; requests keep the snapshot they took.
    entries: ArcSwap<BTreeMap<String, Arc<Entry>>>,
    /// One addition at a time (reloads of one name have their own lock).
    adding: tokio::sync::Mutex<()>,
    default: String,
    routes: BTreeMap<String, String>,
    settings: LoadSettings,
    reload_timeout: Duration,
}

/// How long a reload may take (reading, checking, building sessions, warming up) before it is
/// abandoned with an error; the old model keeps serving.
pub const DEFAULT_RELOAD_TIMEOUT: Duration = Duration::from_secs(120);

fn load_parser(spec: &ModelSpec, settings: &LoadSettings) -> Result<Parser, BundleError> {
    let parser = Parser::load_as(&spec.name, &spec.path, &settings.session, settings.batch.clone(), settings.workers, settings.limits.clone())?;
    Ok(parser.with_fallback(spec.fallback()))
}

fn publish_info(parser: &Parser, previous: Option<&Parser>) {
    let g = &crate::metrics::METRICS.model_info;
    if let Some(p) = previous {
        let _ = g.remove_label_values(&[p.id(), &p.manifest().name, &p.manifest().version]);
    }
    g.with_label_values(&[parser.id(), &parser.manifest().name, &parser.manifest().version]).set(1);
}

impl Registry {
    /// Loads every model of a config; the first bundle that fails stops the start, naming the model.
    pub fn load(config: ModelsConfig, settings: LoadSettings) -> Result<Registry, ConfigError> {
        config.check().map_err(|p| ConfigError::Invalid(format!("models config: {}", p.join("; "))))?;
        let mut parsers = Vec::new();
        for spec in &config.models {
            let parser = load_parser(spec, &settings).map_err(|source| ConfigError::Model { name: spec.name.clone(), source })?;
            parsers.push(parser);
        }
        Registry::from_parsers(config, parsers, settings)
    }

    /// Builds a registry from parsers already loaded, in the order of `config.models`.
    pub fn from_parsers(config: ModelsConfig, parsers: Vec<Parser>, settings: LoadSettings) -> Result<Registry, ConfigError> {
        config.check().map_err(|p| ConfigError::Invalid(format!("models config: {}", p.join("; "))))?;
        if parsers.len() != config.models.len() {
            return Err(ConfigError::Invalid("one parser per model".into()));
        }
        for (language, name) in &config.routes {
            let i = config.models.iter().position(|m| &m.name == name).expect("checked");
            if !parsers[i].manifest().languages.contains(language) {
                return Err(ConfigError::Invalid(format!(
                    "route {language:?} goes to {name:?}, whose bundle serves {}",
                    parsers[i].manifest().languages.join(", ")
                )));
            }
        }
        let default = config.default.clone().unwrap_or_else(|| config.models[0].name.clone());
        let mut entries = BTreeMap::new();
        for (spec, parser) in config.models.into_iter().zip(parsers) {
            publish_info(&parser, None);
            let served = Served { parser, path: spec.path.clone(), loaded_at: SystemTime::now(), generation: 1 };
            let entry = Entry { spec: Mutex::new(spec.clone()), current: ArcSwap::from_pointee(served), reloading: tokio::sync::Mutex::new(()) };
            entries.insert(spec.name, Arc::new(entry));
        }
        Ok(Registry {
            entries: ArcSwap::from_pointee(entries),
            adding: tokio::sync::Mutex::new(()),
            default,
            routes: config.routes,
            settings,
            reload_timeout: DEFAULT_RELOAD_TIMEOUT,
        })
    }

    /// The same registry with another reload time limit.
    pub fn with_reload_timeout(mut self, limit: Duration) -> Registry {
        self.reload_timeout = limit;
        self
    }

    /// A registry of one parser, served as its id (tests and embedding).
    pub fn single(parser: Parser) -> Registry {
        let spec = ModelSpec::new(parser.id(), PathBuf::new(), *parser.fallback());
        let config = ModelsConfig { default: None, routes: BTreeMap::new(), models: vec![spec] };
        let settings = LoadSettings {
            session: SessionSettings::default(),
            batch: parser.batcher().settings().clone(),
            workers: 1,
            limits: parser.limits().clone(),
        };
        Registry::from_parsers(config, vec![parser], settings).expect("a lone parser makes a valid registry")
    }

    /// The names served now, sorted.
    pub fn names(&self) -> Vec<String> {
        self.entries.load().keys().cloned().collect()
    }

    fn entry(&self, name: &str) -> Option<Arc<Entry>> {
        self.entries.load().get(name).cloned()
    }

    /// The model served under `name` now.
    pub fn get(&self, name: &str) -> Option<Arc<Served>> {
        self.entry(name).map(|e| e.current.load_full())
    }

    pub fn default_name(&self) -> &str {
        &self.default
    }

    /// The default model now.
    pub fn default_model(&self) -> Arc<Served> {
        self.get(&self.default).expect("the default is a listed model")
    }

    /// The model for a request without a model name: by language when routes are set (detecting
    /// it here, once, when the request does not say), else the default.
    pub fn route(&self, input: &mut ParseInput) -> Arc<Served> {
        if self.routes.is_empty() {
            return self.default_model();
        }
        let code = input.language().code;
        self.routes.get(&code).and_then(|name| self.get(name)).unwrap_or_else(|| self.default_model())
    }

    /// Parses texts that may route to different models; results in input order. Every input is
    /// checked by its model before any is queued.
    pub async fn parse_routed(&self, inputs: Vec<ParseInput>) -> Result<Vec<ParseResult>, ParseError> {
        let n = inputs.len();
        let mut groups: Vec<(Arc<Served>, Vec<usize>, Vec<Checked>)> = Vec::new();
        for (i, mut input) in inputs.into_iter().enumerate() {
            let served = self.route(&mut input);
            let checked = served.parser.check(input)?;
            match groups.iter_mut().find(|(s, _, _)| Arc::ptr_eq(s, &served)) {
                Some((_, idx, items)) => {
                    idx.push(i);
                    items.push(checked);
                }
                None => groups.push((served, vec![i], vec![checked])),
            }
        }
        let runs = groups.iter_mut().map(|(s, _, items)| s.parser.parse_checked(std::mem::take(items)));
        let outputs = futures_util::future::join_all(runs).await;
        let mut results: Vec<Option<ParseResult>> = (0..n).map(|_| None).collect();
        for ((_, idx, _), out) in groups.iter().zip(outputs) {
            for (i, r) in idx.iter().zip(out?) {
                results[*i] = Some(r);
            }
        }
        Ok(results.into_iter().map(|r| r.expect("every input has a result")).collect())
    }

    /// What `GET /v1/models` lists.
    pub fn summaries(&self) -> Vec<ModelSummary> {
        self.names().iter().filter_map(|n| self.summary(n)).collect()
    }

    pub fn summary(&self, name: &str) -> Option<ModelSummary> {
        let served = self.get(name)?;
        let m = served.parser.manifest();
        let loaded: chrono::DateTime<chrono::Utc> = served.loaded_at.into();
        Some(ModelSummary {
            id: name.to_string(),
            name: m.name.clone(),
            version: m.version.clone(),
            format: m.format,
            languages: m.languages.clone(),
            intents: m.intents.len(),
            slot_types: m.slot_types(),
            default: name == self.default,
            routes: self.routes.iter().filter(|(_, n)| n.as_str() == name).map(|(l, _)| l.clone()).collect(),
            fallback: *served.parser.fallback(),
            path: served.path.display().to_string(),
            loaded_at: loaded.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            generation: served.generation,
        })
    }

    /// Loads `name`'s bundle again (from `path` when given, which then becomes its path), beside
    /// the one serving; swaps it in only when it loaded, passed every check and warmed up.
    pub async fn reload(&self, name: &str, path: Option<PathBuf>) -> Result<Arc<Served>, ReloadError> {
        let entry = self.entry(name).ok_or_else(|| ReloadError::UnknownModel(name.to_string()))?;
        let _one_at_a_time = entry.reloading.lock().await;
        let mut spec = entry.spec.lock().expect("spec lock").clone();
        if let Some(p) = path {
            spec.path = p;
        }
        let outcome = |ok: bool| {
            let label = if ok { "ok" } else { "refused" };
            crate::metrics::METRICS.reloads.with_label_values(&[name, label]).inc();
        };
        let parser = self.load_within(&spec).await.inspect_err(|_| outcome(false))?;
        // A route must keep going to a model that serves its language.
        for (language, routed) in &self.routes {
            if routed == name && !parser.manifest().languages.contains(language) {
                outcome(false);
                return Err(ReloadError::Conflict(format!(
                    "language {language:?} is routed to {name:?} but the new bundle serves {}",
                    parser.manifest().languages.join(", ")
                )));
            }
        }
        let previous = entry.current.load_full();
        publish_info(&parser, Some(&previous.parser));
        let served = Arc::new(Served { parser, path: spec.path.clone(), loaded_at: SystemTime::now(), generation: previous.generation + 1 });
        entry.current.store(served.clone());
        *entry.spec.lock().expect("spec lock") = spec;
        outcome(true);
        tracing::info!(model = name, bundle = %served.parser.manifest().name, version = %served.parser.manifest().version,
            generation = served.generation, "model reloaded");
        Ok(served)
    }

    /// Loads a bundle as `spec` says, off the async workers (building sessions and the warm-up
    /// batch are blocking work), within the reload time limit. Past the limit the load is
    /// abandoned: its thread finishes on its own and what it built is dropped.
    async fn load_within(&self, spec: &ModelSpec) -> Result<Parser, ReloadError> {
        let (settings, load_spec, limit) = (self.settings.clone(), spec.clone(), self.reload_timeout);
        let started = std::time::Instant::now();
        let loaded = tokio::time::timeout(limit, tokio::task::spawn_blocking(move || load_parser(&load_spec, &settings))).await;
        // a load seen done only after the limit is past its limit too (the timer polls the load
        // first: a load that finished while this task waited for a core would otherwise pass)
        let in_time = started.elapsed() <= limit;
        match loaded {
            Ok(Ok(Ok(p))) if in_time => Ok(p),
            Ok(Ok(Ok(_))) => Err(self.abandoned(spec, limit)),
            Ok(Ok(Err(e))) => {
                crate::model::runtime::release_freed_memory(); // what the refused bundle's load allocated
                Err(ReloadError::Refused(e))
            }
            Ok(Err(e)) => Err(ReloadError::Failed(e.to_string())),
            Err(_) => Err(self.abandoned(spec, limit)),
        }
    }

    fn abandoned(&self, spec: &ModelSpec, limit: Duration) -> ReloadError {
        ReloadError::Failed(format!(
            "loading {} took longer than {:.1} s and was abandoned; the model in service is unchanged",
            spec.path.display(),
            limit.as_secs_f64()
        ))
    }

    /// Serves the bundle at `path` under `name`: a reload when the name is served, else a new
    /// model added beside the others (its fallback threshold is the bundle's own).
    pub async fn add_or_reload(&self, name: &str, path: PathBuf) -> Result<Arc<Served>, ReloadError> {
        let _one_at_a_time = self.adding.lock().await;
        if self.entry(name).is_some() {
            return self.reload(name, Some(path)).await;
        }
        if !crate::service::models::valid_name(name) {
            return Err(ReloadError::Failed(format!("{name:?} is not a model name ({})", crate::service::models::NAME_RULE)));
        }
        let spec = ModelSpec::new(name, path, Fallback::default());
        let parser = self.load_within(&spec).await?;
        publish_info(&parser, None);
        let served = Arc::new(Served { parser, path: spec.path.clone(), loaded_at: SystemTime::now(), generation: 1 });
        let entry = Arc::new(Entry { spec: Mutex::new(spec), current: ArcSwap::new(served.clone()), reloading: tokio::sync::Mutex::new(()) });
        self.entries.rcu(|map| {
            let mut map = BTreeMap::clone(map);
            map.insert(name.to_string(), entry.clone());
            map
        });
        crate::metrics::METRICS.reloads.with_label_values(&[name, "ok"]).inc();
        tracing::info!(model = name, bundle = %served.parser.manifest().name, "model added");
        Ok(served)
    }

    /// Reloads every model from its path (SIGHUP). Returns (name, outcome) per model.
    pub async fn reload_all(&self) -> Vec<(String, Result<u64, String>)> {
        let mut out = Vec::new();
        for name in self.names() {
            let name = name.as_str();
            let r = self.reload(name, None).await.map(|s| s.generation).map_err(|e| e.to_string());
            if let Err(e) = &r {
                tracing::warn!(model = %name, error = %e, "reload refused; the old model keeps serving");
            }
            out.push((name.to_string(), r));
        }
        out
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config(text: &str) -> Result<ModelsConfig, String> {
        let c: ModelsConfig = toml::from_str(text).map_err(|e| e.to_string())?;
        c.check().map_err(|p| p.join("; "))?;
        Ok(c)
    }

    #[test]
    fn config_reads_models_routes_and_fallback() {
        let c = config(
            r#"
            default = "b"
            routes = { fr = "a" }
            [[models]]
            name = "a"
            path = "x"
            threshold = 0.4
            [[models]]
            name = "b"
            path = "y"
            "#,
        )
        .unwrap();
        assert_eq!(c.models[0].fallback().threshold, 0.4);
        assert_eq!(c.routes["fr"], "a");
        assert_eq!(c.default.as_deref(), Some("b"));
    }

    #[test]
    fn config_problems_are_all_reported() {
        let e = config(
            r#"
            default = "nope"
            routes = { de = "a", fr = "ghost" }
            [[models]]
            name = "a/b"
            path = "x"
            threshold = 2.0
            [[models]]
            name = "a/b"
            path = "y"
            "#,
        )
        .unwrap_err();
        for part in ["\"a/b\" is not a plain folder name", "listed twice", "outside 0..=1", "default \"nope\"", "route \"de\"", "\"ghost\""] {
            assert!(e.contains(part), "{part} not in {e}");
        }
        assert!(config("models = []").unwrap_err().contains("no [[models]]"));
        assert!(config("[[models]]\nname = \"a\"\npath = \"x\"\ncolour = 1").is_err(), "unknown keys are refused");
    }

    #[test]
    fn relative_paths_are_relative_to_the_config_file() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("models.toml");
        std::fs::write(&file, "[[models]]\nname = \"m\"\npath = \"bundles/m\"\n").unwrap();
        let c = ModelsConfig::read(&file).unwrap();
        assert_eq!(c.models[0].path, dir.path().join("bundles/m"));
    }
}
