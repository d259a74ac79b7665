//! `parlance serve`'s flags, all in one place: the listener, keys and timeouts, the models folder
//! and training over HTTP, how Rasa clients get built-in entities, and the model flags shared with
//! the other commands ([`ModelArgs`]). Every flag has a `PARLANCE_*` environment variable.
//! `server::run` turns them into a running server.

use std::path::PathBuf;

use crate::config::ModelArgs;
use crate::service::training::{TrainSettings, Trainer};

use super::auth::Keys;
use super::types::RasaEntities;

/// Everything `parlance serve` takes.
#[derive(clap::Args)]
pub struct ServeArgs {
    /// Address to listen on.
    #[arg(long, env = "PARLANCE_HOST", default_value = "127.0.0.1")]
    pub host: String,
    #[arg(long, env = "PARLANCE_PORT", default_value_t = 8080)]
    pub port: u16,
    /// HTTP worker threads (they only parse JSON and wait; inference has its own threads).
    /// Default (issue 25, crate::layout): one per 8 usable cores, at least one.
    #[arg(long, env = "PARLANCE_HTTP_WORKERS")]
    pub http_workers: Option<usize>,
    /// Largest request body, in bytes.
    #[arg(long, env = "PARLANCE_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,
    /// On SIGTERM or SIGINT: seconds between turning readiness off and closing the listener,
    /// so load balancers stop sending first. In-flight requests then finish.
    #[arg(long, env = "PARLANCE_DRAIN_SECONDS", default_value_t = 0.0)]
    pub drain_seconds: f64,
    /// How POST /model/parse reports built-in entities: `duckling` (as Rasa's
    /// DucklingEntityExtractor) or `parlance` (Parlance's names and typed values).
    #[arg(long, env = "PARLANCE_RASA_ENTITIES", value_enum, default_value_t = RasaEntities::Duckling)]
    pub rasa_entities: RasaEntities,
    #[command(flatten)]
    pub security: SecurityArgs,
    #[command(flatten)]
    pub training: TrainingArgs,
    #[command(flatten)]
    pub model: ModelArgs,
}

/// Keys, CORS and connection timeouts of `serve`. Key values never appear in logs or `--help`.
#[derive(clap::Args)]
pub struct SecurityArgs {
    /// Parse API keys, comma-separated. When set, parse routes answer 401 without one.
    #[arg(long, env = "PARLANCE_API_KEYS", hide_env_values = true)]
    pub api_keys: Option<String>,
    /// File with parse API keys, one a line.
    #[arg(long, env = "PARLANCE_API_KEYS_FILE")]
    pub api_keys_file: Option<PathBuf>,
    /// Admin key for /admin routes (never a parse key). Without one, /admin is closed.
    #[arg(long, env = "PARLANCE_ADMIN_KEY", hide_env_values = true)]
    pub admin_key: Option<String>,
    /// File holding the admin key.
    #[arg(long, env = "PARLANCE_ADMIN_KEY_FILE")]
    pub admin_key_file: Option<PathBuf>,
    /// Origins allowed to call from a browser, comma-separated, or `*`. Default: CORS off.
    #[arg(long, env = "PARLANCE_CORS_ORIGINS", value_delimiter = ',')]
    pub cors_origins: Vec<String>,
    /// Seconds a client has to send its request head.
    #[arg(long, env = "PARLANCE_CLIENT_TIMEOUT", default_value_t = 5.0)]
    pub client_timeout: f64,
    /// Seconds a client has to send its request body once the head is in; past it, 408.
    #[arg(long, env = "PARLANCE_BODY_TIMEOUT", default_value_t = 10.0)]
    pub body_timeout: f64,
    /// Seconds an idle keep-alive connection stays open.
    #[arg(long, env = "PARLANCE_KEEP_ALIVE", default_value_t = 15.0)]
    pub keep_alive: f64,
}

impl SecurityArgs {
    /// The parse and admin keys the flags (or their files) give.
    pub fn keys(&self) -> Result<Keys, super::auth::KeysError> {
        Keys::load(self.api_keys.as_deref(), self.api_keys_file.as_deref(), self.admin_key.as_deref(), self.admin_key_file.as_deref())
    }
}

/// The models folder and training over HTTP (`serve`).
#[derive(clap::Args)]
pub struct TrainingArgs {
    /// Folder of served bundles: each subfolder with a parlance.json is served under its name at
    /// start (besides --model or --models-config), and models trained over HTTP are written there.
    /// Without it, training over HTTP is off.
    #[arg(long, env = "PARLANCE_MODELS_DIR")]
    pub models_dir: Option<PathBuf>,
    /// Check the models folder every this many seconds for new or changed bundles (0 = only at
    /// start): how replicas sharing the folder pick up a model trained on one of them.
    #[arg(long, env = "PARLANCE_WATCH_SECONDS", default_value_t = 0.0)]
    pub watch_seconds: f64,
    /// Encoder of models trained over HTTP (as `parlance train --encoder`).
    #[arg(long, env = "PARLANCE_ENCODER", default_value = "models/encoders/e5-small-fren")]
    pub encoder: PathBuf,
    /// Longest training run over HTTP, in seconds; past it the run stops and nothing changes.
    #[arg(long, env = "PARLANCE_TRAIN_TIMEOUT", default_value_t = 900.0)]
    pub train_timeout: f64,
    /// Most examples one training request may hold.
    #[arg(long, env = "PARLANCE_TRAIN_MAX_EXAMPLES", default_value_t = 20_000)]
    pub train_max_examples: usize,
    /// Most words (training and dev examples together) one training request may hold: a run's
    /// memory grows with them (60,000 words peak near 1 GB, 1.2 GB with "adapt", on the default encoder).
    #[arg(long, env = "PARLANCE_TRAIN_MAX_WORDS", default_value_t = crate::service::training::MAX_WORDS)]
    pub train_max_words: usize,
    /// Threads of a training run over HTTP (default: half the cores, at least one); it runs at a
    /// lower priority than parsing either way.
    #[arg(long, env = "PARLANCE_TRAIN_THREADS")]
    pub train_threads: Option<usize>,
}

impl TrainingArgs {
    /// Training over HTTP as the flags set it; `None` without a models folder.
    pub fn trainer(&self) -> Option<Trainer> {
        let models_dir = self.models_dir.clone()?;
        Some(Trainer::new(TrainSettings {
            models_dir,
            encoder: self.encoder.clone(),
            time_limit: std::time::Duration::from_secs_f64(self.train_timeout.max(1.0)),
            max_examples: self.train_max_examples,
            max_words: self.train_max_words,
            threads: self.train_threads.unwrap_or_else(|| crate::config::available_cores() / 2).max(1),
        }))
    }
}
