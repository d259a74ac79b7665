//! Settings shared by the subcommands: where the model is and how inference runs. Every flag has
//! an environment variable (`PARLANCE_*`) so containers can be configured without a command line.

use std::path::PathBuf;

use clap::Args;

use crate::batcher::BatchSettings;
use crate::model::SessionSettings;
use crate::pipeline::{Fallback, Limits, Parser};
use crate::service::{LoadSettings, ModelsConfig, Registry};

/// The bundle served when none is named: `models/default` under the working directory, else the
/// one in the checkout this binary was built from.
pub fn default_model_path() -> PathBuf {
    let local = PathBuf::from("models/default");
    if local.is_dir() {
        return local;
    }
    PathBuf::from(env!("CARGO_MANIFEST_DIR")).join("models/default")
}

/// Cores this process may use: CPU affinity, capped by the cgroup CPU quota (issue 25).
pub fn available_cores() -> usize {
    crate::layout::usable_cores()
}

#[derive(Debug, Clone, Args)]
pub struct ModelArgs {
    /// Model bundle folder (docs/bundle.md), or a Hugging Face export. Default: models/default.
    #[arg(long, env = "PARLANCE_MODEL")]
    pub model: Option<PathBuf>,
    /// Several named models, a default and language routes, from a TOML file (README, "Several
    /// models"). Instead of --model.
    #[arg(long, env = "PARLANCE_MODELS_CONFIG", conflicts_with = "model")]
    pub models_config: Option<PathBuf>,
    /// Below this top intent confidence the intent becomes `nlu_fallback` (0 = off). For --model.
    #[arg(long, env = "PARLANCE_FALLBACK_THRESHOLD", default_value_t = 0.0)]
    pub fallback_threshold: f32,
    /// Below this gap between the top two intent confidences, likewise (0 = off). For --model.
    #[arg(long, env = "PARLANCE_AMBIGUITY_MARGIN", default_value_t = 0.0)]
    pub ambiguity_margin: f32,
    // issue 25 (layout): the three flags below default to the machine (crate::layout).
    /// Threads per ONNX Runtime session (intra-op). Default: 1, or cores / --inference-workers.
    #[arg(long, env = "PARLANCE_INTRA_THREADS")]
    pub intra_threads: Option<usize>,
    /// Inference workers; batches run on them concurrently (single-thread workers share one session).
    /// Default: one per usable core (CPU affinity and cgroup quota), or cores / --intra-threads.
    #[arg(long, env = "PARLANCE_INFERENCE_WORKERS")]
    pub inference_workers: Option<usize>,
    /// Intra-op threads of the latency lane: a wider session one worker runs while the others are
    /// idle, for the latency of a lone request (0 = no lane). Default: min(cores, 8) when the
    /// workers' sessions are narrower than the machine, else none.
    #[arg(long, env = "PARLANCE_LANE_THREADS")]
    pub lane_threads: Option<usize>,
    /// Let ONNX Runtime's intra-op threads spin between the parallel parts of a graph run instead of
    /// sleeping: 15 % lower median latency at concurrency 1; they go to sleep when the server is idle
    /// (docs/performance.md, "Spinning"). `--spinning false` to save CPU beside other workloads.
    #[arg(long, env = "PARLANCE_SPINNING", default_value_t = true, action = clap::ArgAction::Set)]
    pub spinning: bool,
    /// Graph optimisation level 0..=3.
    #[arg(long, env = "PARLANCE_GRAPH_OPT", default_value_t = 3)]
    pub graph_optimization: u8,
    /// ONNX Runtime graph transformers to skip, comma-separated (names as in onnxruntime's
    /// graph_transformer_utils.cc). The default skips SkipLayerNormFusion, 4–6 % faster with the
    /// default model (docs/performance.md); `--disable-optimizers ""` skips none.
    #[arg(long, env = "PARLANCE_DISABLE_OPTIMIZERS", default_value = crate::model::DEFAULT_DISABLED_OPTIMIZERS)]
    pub disable_optimizers: Vec<String>,
    /// Most texts in one graph run. Default (issue 25): 8 when each worker has one intra-op thread
    /// (a single-thread session gains up to batch 8 and loses beyond; each session's memory arena
    /// is sized for it), else 32.
    #[arg(long, env = "PARLANCE_MAX_BATCH_SIZE")]
    pub max_batch_size: Option<usize>,
    /// Most padded tokens in one graph run.
    #[arg(long, env = "PARLANCE_MAX_BATCH_TOKENS", default_value_t = 2048)]
    pub max_batch_tokens: usize,
    /// Most texts waiting for the model; beyond it requests get 503 + Retry-After.
    #[arg(long, env = "PARLANCE_QUEUE_CAPACITY", default_value_t = 128)]
    pub queue_capacity: usize,
    /// Longest text accepted, in characters.
    #[arg(long, env = "PARLANCE_MAX_TEXT_CHARS", default_value_t = 2000)]
    pub max_text_chars: usize,
    /// Trained bots on one encoder: `shared` runs their requests in shared encoder batches (one
    /// queue), `per-model` gives each its own queue on the shared session.
    #[arg(long, env = "PARLANCE_ENCODER_QUEUE", default_value = "shared", value_parser = ["shared", "per-model"])]
    pub encoder_queue: String,
    /// Most texts in one batch request.
    #[arg(long, env = "PARLANCE_MAX_BATCH_TEXTS", default_value_t = 64)]
    pub max_batch_texts: usize,
}

impl ModelArgs {
    /// The flags' defaults (and environment), serving one bundle.
    pub fn for_bundle(path: &std::path::Path) -> ModelArgs {
        use clap::Parser as _;
        #[derive(clap::Parser)]
        struct Wrapper {
            #[command(flatten)]
            model: ModelArgs,
        }
        let mut args = Wrapper::parse_from(["parlance"]).model;
        args.model = Some(path.to_path_buf());
        args.models_config = None;
        args
    }

    pub fn model_path(&self) -> PathBuf {
        self.model.clone().unwrap_or_else(default_model_path)
    }

    /// issue 25: the settings of a one-shot command (`parse`, `eval`, `bench --in-process`): one
    /// worker unless `--inference-workers` says otherwise, so its session gets every core.
    pub fn one_shot(&self) -> ModelArgs {
        ModelArgs { inference_workers: Some(self.inference_workers.unwrap_or(1)), ..self.clone() }
    }

    /// issue 25: the layout these flags and the machine give (`http_workers`: `serve`'s flag).
    pub fn layout(&self, http_workers: Option<usize>) -> crate::layout::Layout {
        let flags = crate::layout::LayoutFlags {
            inference_workers: self.inference_workers,
            intra_threads: self.intra_threads,
            lane_threads: self.lane_threads,
            http_workers,
        };
        crate::layout::Layout::choose(available_cores(), flags)
    }

    pub fn session(&self) -> SessionSettings {
        let layout = self.layout(None);
        SessionSettings {
            intra_threads: layout.intra_threads,
            lane_threads: layout.lane_threads,
            spinning: self.spinning,
            optimization_level: self.graph_optimization.min(3),
            disabled_optimizers: crate::model::optimizer_list(&self.disable_optimizers),
        }
    }

    pub fn batch(&self) -> BatchSettings {
        BatchSettings {
            max_batch_size: self.max_batch_size.unwrap_or_else(|| crate::layout::default_max_batch(self.layout(None).intra_threads)).max(1),
            max_batch_tokens: self.max_batch_tokens.max(1),
            queue_capacity: self.queue_capacity.max(1),
            share_encoder_queue: self.encoder_queue == "shared",
        }
    }

    pub fn limits(&self) -> Limits {
        Limits { max_text_chars: self.max_text_chars.max(1), max_batch_texts: self.max_batch_texts.max(1) }
    }

    pub fn fallback(&self) -> anyhow::Result<Fallback> {
        let f = Fallback { threshold: self.fallback_threshold, ambiguity_margin: self.ambiguity_margin, similarity: None };
        f.check().map_err(anyhow::Error::msg)?;
        Ok(f)
    }

    /// Loads one model and starts its inference workers: `--model`, or the default model of
    /// `--models-config` (for `parse`, `eval` and `bench --in-process`). issue 25: without
    /// `--inference-workers` these one-shot commands run one worker on every core, no lane.
    pub fn load(&self) -> anyhow::Result<Parser> {
        let config = self.models()?;
        let name = config.default.clone().unwrap_or_else(|| config.models[0].name.clone());
        let spec = config.models.iter().find(|m| m.name == name).expect("the config was checked");
        let one_shot = self.one_shot();
        let (session, workers) = (one_shot.session(), one_shot.layout(None).inference_workers);
        let parser = Parser::load_as(&spec.name, &spec.path, &session, one_shot.batch(), workers, self.limits())
            .map_err(|e| anyhow::anyhow!("model {:?}: {e}", spec.name))?;
        Ok(parser.with_fallback(spec.fallback()))
    }

    /// The models to serve: the config file's, or the one bundle as "default".
    pub fn models(&self) -> anyhow::Result<ModelsConfig> {
        match &self.models_config {
            Some(file) => Ok(ModelsConfig::read(file)?),
            None => Ok(ModelsConfig::single(self.model_path(), self.fallback()?)),
        }
    }

    pub fn load_settings(&self) -> LoadSettings {
        LoadSettings { session: self.session(), batch: self.batch(), workers: self.layout(None).inference_workers, limits: self.limits() }
    }

    /// Loads every model to serve.
    pub fn load_registry(&self) -> anyhow::Result<Registry> {
        Ok(Registry::load(self.models()?, self.load_settings())?)
    }
}

#[cfg(test)]
mod tests {
    use clap::Parser;

    use super::ModelArgs;

    #[derive(Parser)]
    struct Cli {
        #[command(flatten)]
        model: ModelArgs,
    }

    fn disabled(args: &[&str]) -> Vec<String> {
        let mut argv = vec!["parlance"];
        argv.extend_from_slice(args);
        Cli::try_parse_from(argv).unwrap().model.session().disabled_optimizers
    }

    #[test]
    fn disabled_optimizers_default_list_and_none() {
        assert_eq!(disabled(&[]), vec!["SkipLayerNormFusion"]);
        assert_eq!(disabled(&["--disable-optimizers", "SkipLayerNormFusion, BiasGeluFusion"]), vec!["SkipLayerNormFusion", "BiasGeluFusion"]);
        assert!(disabled(&["--disable-optimizers", ""]).is_empty());
    }
}
