//! How an ONNX Runtime session is built, and what a model run gives back.
//!
//! Thread counts are explicit: ONNX Runtime's default of "all cores per session" fights with the
//! HTTP workers and rayon on a small machine (see docs/performance.md).

use std::path::Path;

use ndarray::{Array2, Array3};
use ort::session::builder::GraphOptimizationLevel;
use ort::session::Session;
use serde::Serialize;

/// How an ONNX Runtime session is built.
#[derive(Debug, Clone, Serialize)]
pub struct SessionSettings {
    /// Threads one graph run may use (intra-op parallelism).
    pub intra_threads: usize,
    /// Whether idle intra-op threads spin (lower latency, burns CPU while idle).
    pub spinning: bool,
    /// 0 = none, 1 = basic, 2 = extended, 3 = all.
    pub optimization_level: u8,
    /// ONNX Runtime graph transformers to skip at those levels, by name
    /// (`optimization.disable_specified_optimizers`).
    pub disabled_optimizers: Vec<String>,
    /// Intra-op threads of the latency lane, a wider session one inference worker holds besides its
    /// own and runs while every other worker is idle (0 = no lane; see `crate::layout`).
    pub lane_threads: usize,
}

/// Skipped by default, comma-separated as `--disable-optimizers` takes it: fusing Add +
/// LayerNormalization into SkipLayerNormalization makes the default int8 graph 4–6 % slower on
/// these CPUs, one thread or two, batch 1 to 32 (docs/performance.md, "Where the graph's time goes").
pub const DEFAULT_DISABLED_OPTIMIZERS: &str = "SkipLayerNormFusion";

/// The names of a comma-separated list, blanks dropped.
pub fn optimizer_list(list: &[String]) -> Vec<String> {
    list.iter().flat_map(|s| s.split(',')).map(|s| s.trim().to_string()).filter(|s| !s.is_empty()).collect()
}

impl Default for SessionSettings {
    fn default() -> Self {
        SessionSettings {
            intra_threads: 1,
            spinning: false,
            optimization_level: 3,
            disabled_optimizers: optimizer_list(&[DEFAULT_DISABLED_OPTIMIZERS.to_string()]),
            lane_threads: 0,
        }
    }
}

/// Logits of one batch, rows in the order the items were given.
pub struct ModelOutput {
    /// [batch, intents]
    pub intent_logits: Array2<f32>,
    /// [batch, tokens, slot labels]; rows past an item's own length are padding. An intent-only
    /// model gives [batch, tokens, 0].
    pub slot_logits: Array3<f32>,
    /// Per row, the cosine between its sentence vector and the nearest intent's mean (a trained
    /// bot's heads with `intent.means`; None otherwise).
    pub similarity: Option<Vec<f32>>,
}

/// One item's part of a batch's output: its own tokens only.
#[derive(Debug, Clone)]
pub struct RowOutput {
    pub intent_logits: Vec<f32>,
    /// [its own tokens, slot labels]: the padding rows cut off.
    pub slot_logits: Array2<f32>,
    pub similarity: Option<f32>,
}

impl SessionSettings {
    /// The latency lane's session settings: the same, with the lane's threads (none without a lane).
    pub fn lane(&self) -> Option<SessionSettings> {
        (self.lane_threads > self.intra_threads).then(|| SessionSettings { intra_threads: self.lane_threads, lane_threads: 0, ..self.clone() })
    }
}

/// A session that could not be built: ONNX Runtime itself is missing, or it refused the graph.
#[derive(Debug, thiserror::Error)]
pub enum SessionError {
    #[error(transparent)]
    Runtime(#[from] crate::model::runtime::RuntimeError),
    #[error("ONNX Runtime cannot load the graph")]
    Graph(#[source] ort::Error),
}

/// An ONNX Runtime session on a graph file, built with `settings`.
pub fn build_session(path: &Path, settings: &SessionSettings) -> Result<Session, SessionError> {
    let env = crate::model::runtime::environment()?;
    let level = match settings.optimization_level {
        0 => GraphOptimizationLevel::Disable,
        1 => GraphOptimizationLevel::Level1,
        2 => GraphOptimizationLevel::Level2,
        _ => GraphOptimizationLevel::All,
    };
    Session::builder(env)
        .and_then(|b| Ok(b.with_optimization_level(level)?))
        .and_then(|b| Ok(b.with_intra_threads(settings.intra_threads.max(1))?))
        .and_then(|b| Ok(b.with_inter_threads(1)?))
        .and_then(|b| Ok(b.with_intra_op_spinning(settings.spinning)?))
        // Measuring aid (docs/performance.md, "Workers share one session and its weights"): no memory arena and
        // no memory pattern, so that each run hands back what it used.
        .and_then(|b| {
            if std::env::var("PARLANCE_CPU_ARENA").is_ok_and(|v| v == "0") {
                return Ok(b.with_memory_pattern(false)?.with_execution_providers([ort::ep::CPU::default().with_arena_allocator(false).build()])?);
            }
            Ok(b)
        })
        // Spin between the parallel parts of one run (that is the latency win), but stop as soon
        // as the run returns, so that idle spinning never takes a core from the HTTP workers and
        // the tokeniser between runs.
        .and_then(|b| Ok(b.with_config_entry("session.force_spinning_stop", "1")?))
        // ONNX Runtime 1.31 splits this list on ';' (a ',' list is taken as one unknown name).
        .and_then(|b| Ok(b.with_config_entry("optimization.disable_specified_optimizers", settings.disabled_optimizers.join(";"))?))
        // issue 25: every session on this file shares its weights (crate::model::weights)
        .and_then(|mut b| {
            if let Some(w) = crate::model::weights::for_file(path) {
                for (name, value) in &w.initializers {
                    b = b.with_initializer(name, value.clone())?;
                }
                b = b.with_prepacked_weights(&w.prepacked)?;
            }
            Ok(b)
        })
        .and_then(|mut b| b.commit_from_file(path))
        .map_err(SessionError::Graph)
}

/// A batch run that failed. ONNX Runtime's error and ndarray's are kept as they came; the rest
/// says which output is not what the manifest declares.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RunError {
    #[error("ONNX Runtime")]
    Runtime(#[source] std::sync::Arc<ort::Error>),
    #[error("an output cannot be read as an array")]
    Array(#[from] ndarray::ShapeError),
    #[error("{0}")]
    Output(String),
    #[error("encoder lock poisoned")]
    Poisoned,
    #[error("a job on a shared encoder came without heads")]
    NoHeads,
    #[error("an encoder alone gives no logits: its jobs bring their heads")]
    NoLogits,
    #[error("inference panicked")]
    Panicked,
}

/// Equal when they say the same (ONNX Runtime's errors cannot be compared otherwise).
impl PartialEq for RunError {
    fn eq(&self, other: &Self) -> bool {
        crate::errors::chain(self) == crate::errors::chain(other)
    }
}

impl From<ort::Error> for RunError {
    fn from(e: ort::Error) -> Self {
        RunError::Runtime(std::sync::Arc::new(e))
    }
}
