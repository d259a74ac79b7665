//! Which models a server serves: `--models` (a TOML file of names, paths, fallbacks and language
//! routes) or one bundle, and how each is loaded.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use serde::{Deserialize, Serialize};

use crate::batcher::BatchSettings;
use crate::lang;
use crate::model::SessionSettings;
use crate::pipeline::{Fallback, Limits};

/// A models config, or the models it names, that cannot be served: the message says which and why.
#[derive(Debug, thiserror::Error)]
pub enum ConfigError {
    #[error("cannot read {}", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("{}", path.display())]
    Toml { path: PathBuf, source: toml::de::Error },
    /// The config names what cannot be served together (each problem said).
    #[error("{0}")]
    Invalid(String),
    #[error("model {name:?}")]
    Model { name: String, source: crate::model::BundleError },
}

/// How every model is loaded (the `serve` flags); the same for reloads.
#[derive(Debug, Clone)]
pub struct LoadSettings {
    pub session: SessionSettings,
    pub batch: BatchSettings,
    pub workers: usize,
    pub limits: Limits,
}

/// One model in the config file.
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelSpec {
    /// URL-safe name: letters, digits, `-`, `_`, `.`.
    pub name: String,
    /// Bundle folder; relative paths are relative to the config file.
    pub path: PathBuf,
    /// Fallback policy (`pipeline::Fallback`): below this top-1 confidence → `nlu_fallback`.
    #[serde(default)]
    pub threshold: f32,
    /// Below this top-1 minus top-2 gap → `nlu_fallback`.
    #[serde(default)]
    pub ambiguity_margin: f32,
}

impl ModelSpec {
    pub fn new(name: &str, path: PathBuf, fallback: Fallback) -> ModelSpec {
        ModelSpec { name: name.into(), path, threshold: fallback.threshold, ambiguity_margin: fallback.ambiguity_margin }
    }

    pub fn fallback(&self) -> Fallback {
        Fallback { threshold: self.threshold, ambiguity_margin: self.ambiguity_margin, similarity: None }
    }
}

/// The models config file (TOML), e.g.
///
/// ```toml
/// default = "general"
/// [routes]          # optional: detected (or requested) language -> model
/// fr = "general-fr"
/// [[models]]
/// name = "general"
/// path = "models/default"
/// threshold = 0.3          # optional fallback policy
/// ambiguity_margin = 0.05
/// ```
#[derive(Debug, Clone, Serialize, Deserialize, PartialEq)]
#[serde(deny_unknown_fields)]
pub struct ModelsConfig {
    /// The model `/v1/parse` uses when no route applies; default: the first listed.
    #[serde(default)]
    pub default: Option<String>,
    /// Language code ("fr", "en") → model name.
    #[serde(default)]
    pub routes: BTreeMap<String, String>,
    pub models: Vec<ModelSpec>,
}

/// A model name is a plain folder name: it starts with a letter or a digit, then letters, digits,
/// `-`, `_` or `.`; at most 64. So never `.`, `..`, a hidden folder (`.train-x`, `.old-x`: the
/// trainer's own) nor a path, and it is checked before anything touches the disk.
pub fn valid_name(name: &str) -> bool {
    let first_plain = name.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric());
    first_plain && name.len() <= 64 && name.bytes().all(|b| b.is_ascii_alphanumeric() || b"-_.".contains(&b))
}

/// What [`valid_name`] accepts, in words (error messages).
pub const NAME_RULE: &str = "a letter or digit first, then letters, digits, '-', '_' or '.'; at most 64";

impl ModelsConfig {
    /// Reads a config file; relative bundle paths become relative to the file's folder.
    pub fn read(path: &Path) -> Result<ModelsConfig, ConfigError> {
        let text = std::fs::read_to_string(path).map_err(|source| ConfigError::Read { path: path.to_path_buf(), source })?;
        let mut config: ModelsConfig = toml::from_str(&text).map_err(|source| ConfigError::Toml { path: path.to_path_buf(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        for m in &mut config.models {
            if m.path.is_relative() {
                m.path = base.join(&m.path);
            }
        }
        config.check().map_err(|problems| ConfigError::Invalid(format!("{}: {}", path.display(), problems.join("; "))))?;
        Ok(config)
    }

    /// One model, served as "default" (what `serve --model` means).
    pub fn single(path: PathBuf, fallback: Fallback) -> ModelsConfig {
        ModelsConfig { default: None, routes: BTreeMap::new(), models: vec![ModelSpec::new("default", path, fallback)] }
    }

    /// Every problem with names, routes and fallback settings (the bundles are checked at load).
    pub fn check(&self) -> Result<(), Vec<String>> {
        let mut problems = Vec::new();
        if self.models.is_empty() {
            problems.push("no [[models]] listed".to_string());
        }
        let mut seen = std::collections::HashSet::new();
        for m in &self.models {
            if !valid_name(&m.name) {
                problems.push(format!("model name {:?} is not a plain folder name ({NAME_RULE})", m.name));
            }
            if !seen.insert(m.name.as_str()) {
                problems.push(format!("model name {:?} is listed twice", m.name));
            }
            if let Err(e) = m.fallback().check() {
                problems.push(format!("model {:?}: {e}", m.name));
            }
        }
        let known = |n: &str| self.models.iter().any(|m| m.name == n);
        if let Some(d) = &self.default {
            if !known(d) {
                problems.push(format!("default {d:?} is not a listed model"));
            }
        }
        for (language, model) in &self.routes {
            if !lang::SUPPORTED.contains(&language.as_str()) {
                problems.push(format!("route {language:?}: languages are {}", lang::SUPPORTED.join(", ")));
            }
            if !known(model) {
                problems.push(format!("route {language:?} goes to {model:?}, which is not a listed model"));
            }
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(problems)
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn names_are_plain_folder_names() {
        for ok in ["mood", "shop-bot_2", "bot.v2", "A1"] {
            assert!(valid_name(ok), "{ok}");
        }
        let long = "x".repeat(65);
        for bad in ["", ".", "..", "...", ".hidden", ".old-mood", ".train-x", "-rf", "_x", "a/b", "../x", "a b", long.as_str()] {
            assert!(!valid_name(bad), "{bad:?}");
        }
    }
}
