//! The command line's argument groups that are not the commands themselves: keys and timeouts
//! of `serve`, its models folder and training, and `bench`'s load settings.

use std::path::PathBuf;

use parlance::config::ModelArgs;

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

/// `parlance bench`'s arguments.
#[derive(clap::Args)]
pub struct BenchArgs {
    /// Endpoint taking {"text": ...}. Repeat it to spread the requests over several endpoints in
    /// turn (e.g. /v1/models/NAME/parse of several bots).
    #[arg(long, default_value = "http://127.0.0.1:8080/v1/parse")]
    pub url: Vec<String>,
    /// Closed loop: clients, each waiting for its answer before the next request.
    #[arg(long, default_value_t = 8)]
    pub concurrency: usize,
    /// Open loop instead: requests per second on a fixed schedule.
    #[arg(long)]
    pub rate: Option<f64>,
    /// Seconds to run (each step, with --sweep).
    #[arg(long, default_value_t = 10.0)]
    pub duration: f64,
    /// Stop after this many requests.
    #[arg(long)]
    pub requests: Option<u64>,
    /// Utterances: MASSIVE jsonl or text lines. Default: MASSIVE en-US and fr-FR dev.
    #[arg(long, conflicts_with = "text")]
    pub data: Vec<PathBuf>,
    /// Send this one text instead.
    #[arg(long)]
    pub text: Option<String>,
    /// Seconds before a request counts as timed out.
    #[arg(long, default_value_t = 10.0)]
    pub timeout: f64,
    /// Step the load up and draw latency against throughput into this SVG.
    #[arg(long)]
    pub sweep: Option<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Allow a target that is not on the loopback.
    #[arg(long)]
    pub allow_remote: bool,
    /// API key sent as `Authorization: Bearer KEY`, for a server started with keys.
    #[arg(long, env = "PARLANCE_BENCH_API_KEY", hide_env_values = true)]
    pub api_key: Option<String>,
    /// No HTTP: run the model itself on pre-tokenised utterances, `--batch-size` at a time, for
    /// the raw throughput the server is compared with.
    #[arg(long)]
    pub in_process: bool,
    /// Utterances per graph run with --in-process.
    #[arg(long, default_value_t = 32)]
    pub batch_size: usize,
    #[command(flatten)]
    pub model: ModelArgs,

}

impl SecurityArgs {
    /// The parse and admin keys the flags (or their files) give.
    pub fn keys(&self) -> anyhow::Result<parlance::http::auth::Keys> {
        Ok(parlance::http::auth::Keys::load(
            self.api_keys.as_deref(),
            self.api_keys_file.as_deref(),
            self.admin_key.as_deref(),
            self.admin_key_file.as_deref(),
        )?)
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
    #[arg(long, env = "PARLANCE_ENCODER", default_value = "models/encoders/e5-small")]
    pub encoder: PathBuf,
    /// Longest training run over HTTP, in seconds; past it the run stops and nothing changes.
    #[arg(long, env = "PARLANCE_TRAIN_TIMEOUT", default_value_t = 900.0)]
    pub train_timeout: f64,
    /// Most examples one training request may hold.
    #[arg(long, env = "PARLANCE_TRAIN_MAX_EXAMPLES", default_value_t = 20_000)]
    pub train_max_examples: usize,
    /// Most words (training and dev examples together) one training request may hold: a run's
    /// memory grows with them (60,000 words peak near 1 GB).
    #[arg(long, env = "PARLANCE_TRAIN_MAX_WORDS", default_value_t = parlance::service::training::MAX_WORDS)]
    pub train_max_words: usize,
    /// Threads of a training run over HTTP (default: half the cores, at least one); it runs at a
    /// lower priority than parsing either way.
    #[arg(long, env = "PARLANCE_TRAIN_THREADS")]
    pub train_threads: Option<usize>,
}
