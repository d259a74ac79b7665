//! The `parlance` command: serve, parse, eval, validate.

use std::io::IsTerminal;
use std::path::PathBuf;
use std::process::ExitCode;

use clap::{Parser as ClapParser, Subcommand};

use parlance::model::Bundle;
use parlance::config::ModelArgs;
use parlance::http::types::RasaEntities;
use parlance::http::{self, AppState};
use parlance::pipeline::ParseInput;

mod cli;
use cli::{BenchArgs, SecurityArgs, TrainingArgs};

#[derive(ClapParser)]
#[command(name = "parlance", version, about = "French/English NLU service: intents, slots and entities")]
struct Cli {
    /// Log format: text or json.
    #[arg(long, env = "PARLANCE_LOG_FORMAT", default_value = "text", global = true)]
    log_format: String,
    #[command(subcommand)]
    command: Command,
}


#[derive(Subcommand)]
enum Command {
    /// Serve the HTTP API.
    Serve {
        /// Address to listen on.
        #[arg(long, env = "PARLANCE_HOST", default_value = "127.0.0.1")]
        host: String,
        #[arg(long, env = "PARLANCE_PORT", default_value_t = 8080)]
        port: u16,
        /// HTTP worker threads (they only parse JSON and wait; inference has its own threads).
        /// Default (issue 25, crate::layout): one per 8 usable cores, at least one.
        #[arg(long, env = "PARLANCE_HTTP_WORKERS")]
        http_workers: Option<usize>,
        /// Largest request body, in bytes.
        #[arg(long, env = "PARLANCE_MAX_BODY_BYTES", default_value_t = 1 << 20)]
        max_body_bytes: usize,
        /// On SIGTERM or SIGINT: seconds between turning readiness off and closing the listener,
        /// so load balancers stop sending first. In-flight requests then finish.
        #[arg(long, env = "PARLANCE_DRAIN_SECONDS", default_value_t = 0.0)]
        drain_seconds: f64,
        /// How POST /model/parse reports built-in entities: `duckling` (as Rasa's
        /// DucklingEntityExtractor: amount-of-money, value + additional_info) or `parlance`
        /// (Parlance's names and typed values, extractor ParlanceRules).
        #[arg(long, env = "PARLANCE_RASA_ENTITIES", default_value = "duckling", value_parser = ["duckling", "parlance"])]
        rasa_entities: String,
        #[command(flatten)]
        security: SecurityArgs,
        #[command(flatten)]
        training: TrainingArgs,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Parse one text and print the result as JSON.
    Parse {
        text: String,
        /// "fr" or "en"; detected when absent.
        #[arg(long)]
        lang: Option<String>,
        /// Reference time for relative dates, e.g. 2026-03-10T09:00:00 (default: now).
        #[arg(long)]
        reference_time: Option<String>,
        /// IANA time zone (default: UTC).
        #[arg(long)]
        timezone: Option<String>,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Score a bundle on MASSIVE jsonl or Rasa NLU YAML (intent accuracy, slot F1, exact match,
    /// calibration, confusions, latency).
    Eval {
        /// MASSIVE jsonl, or Rasa NLU YAML (.yml/.yaml; locale = file stem); may be given several times.
        #[arg(long = "data", required = true)]
        data: Vec<PathBuf>,
        /// Print the report as JSON.
        #[arg(long)]
        json: bool,
        /// Texts sent to the pipeline at once.
        #[arg(long, default_value_t = 64)]
        chunk: usize,
        /// Also write DIR/report.md with DIR/reliability.svg and DIR/confusion.svg.
        #[arg(long, value_name = "DIR")]
        report: Option<PathBuf>,
        /// Texts timed one at a time after the accuracy pass, for single-parse latency (0: skip).
        #[arg(long, default_value_t = 200)]
        latency_samples: usize,
        #[command(flatten)]
        model: ModelArgs,
    },
    /// Load an HTTP endpoint and print throughput, errors and latency percentiles.
    Bench(BenchArgs),
    /// Train a bot from a Rasa project (folder or NLU files) or MASSIVE jsonl: embed every example
    /// with a frozen encoder, fit intent and slot heads, calibrate, write a heads bundle, and print
    /// `parlance eval`'s report on --dev.
    Train {
        /// A Rasa project folder (every NLU .yml in it), Rasa NLU YAML, or MASSIVE jsonl; repeatable.
        #[arg(long = "data", required = true)]
        data: Vec<PathBuf>,
        /// Dev data (same formats): calibration, fallback threshold and the report. Default: a
        /// held-out fifth of --data.
        #[arg(long)]
        dev: Vec<PathBuf>,
        /// Bundle folder to write.
        #[arg(long)]
        out: PathBuf,
        /// Bundle name (default: the --out folder's name).
        #[arg(long)]
        name: Option<String>,
        #[arg(long, default_value = "0.1.0")]
        version: String,
        /// Encoder folder (model.onnx, tokenizer.json, encoder.json).
        #[arg(long, env = "PARLANCE_ENCODER", default_value = "models/encoders/e5-small")]
        encoder: PathBuf,
        /// Inverse L2 strength of the intent head, as scikit-learn's C (the encoder's measured choice: 10).
        #[arg(long, default_value_t = 10.0)]
        c: f32,
        /// L2 penalty of the slot head (mean loss, standardised token vectors).
        #[arg(long, default_value_t = 1e-3)]
        slot_l2: f32,
        /// Do not add each intent's name ("order_status" → "order status") as one more example of it.
        #[arg(long)]
        no_intent_names: bool,
        /// Fit the slot head on each word's own token only (default: a window of three tokens).
        #[arg(long)]
        no_slot_window: bool,
        /// Examples per encoder run.
        #[arg(long, default_value_t = 64)]
        batch_size: usize,
        /// ONNX Runtime threads (default: all cores).
        #[arg(long)]
        threads: Option<usize>,
        /// Print the summary as JSON.
        #[arg(long)]
        json: bool,
    },
    /// Check a bundle and print every problem found.
    Validate {
        /// Bundle folder (a Parlance bundle or a Hugging Face export). Default: models/default.
        path: Option<PathBuf>,
        /// Print the JSON Schema of parlance.json and exit.
        #[arg(long)]
        schema: bool,
        /// Print the problems as JSON.
        #[arg(long)]
        json: bool,
    },
}


fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn"));
    let builder = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(std::io::stderr().is_terminal())
        .with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    if matches!(
        cli.command,
        Command::Parse { .. } | Command::Eval { .. } | Command::Validate { .. } | Command::Train { .. }
    ) || matches!(&cli.command, Command::Bench(b) if b.in_process)
    {
        // Commands that print to a pipe (`parlance eval … | head`) end quietly when the reader
        // goes, as Unix tools do, instead of panicking on the write. Not for `serve` and the HTTP
        // `bench`, whose sockets must never kill the process.
        // SAFETY: restores the default disposition of one signal, before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    match run(cli.command) {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}

/// Open-loop rates of `bench --sweep`, as fractions of the saturated throughput.
const SWEEP_FRACTIONS: [f64; 7] = [0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.2];

/// MASSIVE dev utterances, both locales, from $PARLANCE_DATA_DIR or ../shared/data/massive.
fn default_bench_data() -> Vec<PathBuf> {
    let dir = std::env::var("PARLANCE_DATA_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("../shared/data/massive"));
    ["en-US.dev.jsonl", "fr-FR.dev.jsonl"].iter().map(|f| dir.join(f)).collect()
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

fn run(command: Command) -> anyhow::Result<ExitCode> {
    match command {
        Command::Serve { host, port, http_workers, max_body_bytes, drain_seconds, rasa_entities, security, training, model } => {
            let rasa = if rasa_entities == "parlance" { RasaEntities::Parlance } else { RasaEntities::Duckling };
            serve(host, port, http_workers, max_body_bytes, (drain_seconds, rasa), security, training, model)?;
            Ok(ExitCode::SUCCESS)
        }
        Command::Parse { text, lang, reference_time, timezone, model } => {
            parse(ParseInput { text, lang, reference_time, timezone, ..Default::default() }, &model)
        }
        Command::Eval { data, json, chunk, report, latency_samples, model } => {
            eval(&data, json, parlance::tools::eval::EvalOptions { chunk, latency_samples }, report.as_deref(), &model)
        }
        Command::Bench(args) => bench(args),
        Command::Train { data, dev, out, name, version, encoder, c, slot_l2, no_intent_names, no_slot_window, batch_size, threads, json } => {
            let opts = parlance::train::TrainOptions {
                data,
                dev: dev.clone(),
                out,
                name,
                version,
                encoder,
                c,
                slot_l2,
                intent_names: !no_intent_names,
                slot_window: !no_slot_window,
                batch_size,
                threads: threads.unwrap_or_else(parlance::config::available_cores),
                progress: !json && std::io::stderr().is_terminal(),
                watch: None,
            };
            train(opts, &dev, json)
        }
        Command::Validate { path, schema, json } => validate(path, schema, json),
    }
}

/// `parlance parse`: one text through the pipeline, printed as JSON.
fn parse(input: ParseInput, model: &ModelArgs) -> anyhow::Result<ExitCode> {
    let parser = model.load()?;
        let result = runtime()?.block_on(parser.parse(input))?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(ExitCode::SUCCESS)
}

/// `parlance eval`: scores the model on labelled data and prints (and writes) the report.
fn eval(
    data: &[PathBuf],
    json: bool,
    opts: parlance::tools::eval::EvalOptions,
    report_dir: Option<&std::path::Path>,
    model: &ModelArgs,
) -> anyhow::Result<ExitCode> {
    let mut examples = Vec::new();
    for d in data {
        examples.extend(parlance::data::read_examples(d)?);
    }
    let parser = model.load()?;
    let bar = if std::io::stderr().is_terminal() {
        let b = indicatif::ProgressBar::new(examples.len() as u64);
        b.set_style(
            indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} utterances  {per_sec}  eta {eta}")
                .expect("valid template"),
        );
        b
    } else {
        indicatif::ProgressBar::hidden()
    };
        let mut report =
        runtime()?.block_on(parlance::tools::eval::evaluate_with(&parser, &examples, &opts, |n| bar.inc(n as u64)))?;
    bar.finish_and_clear();
    report.data = data.iter().map(|d| d.display().to_string()).collect();
    if json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("model {} {} on {}", report.model.name, report.model.version, report.data.join(", "));
        print!("{}", report.to_text());
    }
    if let Some(dir) = report_dir {
        let files = report.write_report(dir)?;
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        eprintln!("report written: {}", names.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// `parlance bench`: loads a running server (or, `--in-process`, the model itself) and reports.
fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let texts = match args.text {
        Some(t) => vec![t],
        None => {
            let files = if args.data.is_empty() { default_bench_data() } else { args.data };
            let mut texts = Vec::new();
            for f in &files {
                texts.extend(parlance::tools::bench::read_texts(f)?);
            }
            texts
        }
    };
    if args.in_process {
        let report = parlance::tools::bench::model_throughput(&args.model, &texts, args.batch_size.max(1), std::time::Duration::from_secs_f64(args.duration.max(0.1)))?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("{report}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    for url in &args.url {
        parlance::tools::bench::check_target(url, args.allow_remote)?;
    }
    let mode = match args.rate {
        Some(r) if r > 0.0 => parlance::tools::bench::Mode::Open { rate: r },
        Some(_) => anyhow::bail!("--rate must be positive"),
        None => parlance::tools::bench::Mode::Closed { concurrency: args.concurrency.max(1) },
    };
    let cfg = parlance::tools::bench::LoadConfig {
        url: args.url.join(" "),
        urls: args.url,
        texts,
        mode,
        duration: std::time::Duration::from_secs_f64(args.duration.max(0.1)),
        max_requests: args.requests,
        timeout: std::time::Duration::from_secs_f64(args.timeout.max(0.01)),
        progress: !args.json && std::io::stderr().is_terminal(),
    };
    let sys = actix_rt::System::new();
    let reports = match &args.sweep {
        None => vec![sys.block_on(parlance::tools::bench::run(&cfg))],
        Some(_) => sys.block_on(parlance::tools::bench::sweep(&cfg, args.concurrency.max(1), &SWEEP_FRACTIONS)),
    };
    if let Some(svg) = &args.sweep {
        parlance::tools::bench::draw_sweep(&reports, svg, &format!("{} — latency against throughput", cfg.url))?;
    }
    if args.json {
        let out = if reports.len() == 1 { serde_json::to_string_pretty(&reports[0])? } else { serde_json::to_string_pretty(&reports)? };
        println!("{out}");
    } else {
        for r in &reports {
            print!("{}", r.to_text());
        }
        if let Some(svg) = &args.sweep {
            println!("latency curve: {}", svg.display());
        }
    }
    Ok(ExitCode::SUCCESS)
}

/// `parlance validate`: every problem of a bundle, or its manifest schema.
fn validate(path: Option<PathBuf>, schema: bool, json: bool) -> anyhow::Result<ExitCode> {
    if schema {
        print!("{}", parlance::model::MANIFEST_SCHEMA);
        return Ok(ExitCode::SUCCESS);
    }
    let path = path.unwrap_or_else(parlance::config::default_model_path);
    let problems = Bundle::validate(&path);
    let format = parlance::model::detect_format(&path);
    if json {
        let out = serde_json::json!({"path": path, "format": format, "valid": problems.is_empty(), "problems": problems});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if problems.is_empty() {
        let kind = match format {
            parlance::model::BundleFormat::Parlance => "Parlance bundle",
            parlance::model::BundleFormat::HuggingFace => "Hugging Face export (intent only)",
        };
        println!("{}: valid {kind}", path.display());
    } else {
        for p in &problems {
            println!("{}: {p}", path.display());
        }
        println!("{} problem(s)", problems.len());
    }
    Ok(if problems.is_empty() { ExitCode::SUCCESS } else { ExitCode::from(1) })
}

/// `--models-dir`: what it holds is served now, and watched with `--watch-seconds`.
async fn serve_models_dir(models: &std::sync::Arc<parlance::service::Registry>, training: &TrainingArgs) {
    let Some(dir) = &training.models_dir else { return };
    for line in parlance::service::watch::sync(models, dir).await {
        tracing::info!(folder = %dir.display(), "{line}");
    }
    if training.watch_seconds > 0.0 {
        let every = std::time::Duration::from_secs_f64(training.watch_seconds.max(0.1));
        actix_web::rt::spawn(parlance::service::watch::watch(models.clone(), dir.clone(), every));
    }
}

/// Training over HTTP as `serve`'s flags set it.
fn trainer(t: &TrainingArgs) -> Option<parlance::service::training::Trainer> {
    let models_dir = t.models_dir.clone()?;
    Some(parlance::service::training::Trainer::new(parlance::service::training::TrainSettings {
        models_dir,
        encoder: t.encoder.clone(),
        time_limit: std::time::Duration::from_secs_f64(t.train_timeout.max(1.0)),
        max_examples: t.train_max_examples,
        threads: parlance::config::available_cores(),
    }))
}

/// `parlance train`: trains, writes the bundle, loads it as the server would and prints the eval
/// report on dev. Bad data exits 1 with every problem.
fn train(opts: parlance::train::TrainOptions, dev: &[PathBuf], json: bool) -> anyhow::Result<ExitCode> {
    parlance::model::runtime::init()?;
    let started = std::time::Instant::now();
    let summary = match parlance::train::train(&opts) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {e}");
            return Ok(ExitCode::from(1));
        }
    };
    let trained = started.elapsed().as_secs_f64();
    let args = parlance::config::ModelArgs::for_bundle(&summary.out);
    let parser = args.load().map_err(|e| anyhow::anyhow!("the trained bundle does not load: {e:#}"))?;
    let mut report = None;
    if !dev.is_empty() {
        let mut examples = Vec::new();
        for d in dev {
            examples.extend(parlance::data::read_examples(d)?);
        }
        let opts = parlance::tools::eval::EvalOptions { chunk: 64, latency_samples: 0 };
        let mut r = runtime()?.block_on(parlance::tools::eval::evaluate_with(&parser, &examples, &opts, |_| {}))?;
        r.data = dev.iter().map(|d| d.display().to_string()).collect();
        report = Some(r);
    }
    if json {
        let out = serde_json::json!({"summary": summary, "seconds_total": trained, "eval": report});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", parlance::train::report::summary_text(&summary, trained));
    if let Some(r) = report {
        println!("\nparlance eval of {} {} on {}", r.model.name, r.model.version, r.data.join(", "));
        print!("{}", r.to_text());
    }
    Ok(ExitCode::SUCCESS)
}

/// Reloads every model on each SIGHUP, for as long as the server runs.
async fn reload_on_sighup(models: std::sync::Arc<parlance::service::Registry>) {
    use tokio::signal::unix::{signal, SignalKind};
    let Ok(mut hup) = signal(SignalKind::hangup()) else {
        tracing::warn!("cannot listen for SIGHUP; reload with POST /admin/models/{{name}}/reload");
        return;
    };
    while hup.recv().await.is_some() {
        tracing::info!("SIGHUP received: reloading every model");
        for (name, outcome) in models.reload_all().await {
            match outcome {
                Ok(generation) => tracing::info!(model = %name, generation, "reloaded"),
                Err(e) => tracing::warn!(model = %name, error = %e, "reload refused"),
            }
        }
    }
}

/// Resolves on SIGTERM or SIGINT.
async fn shutdown_signal() {
    use tokio::signal::unix::{signal, SignalKind};
    let (Ok(mut term), Ok(mut int)) = (signal(SignalKind::terminate()), signal(SignalKind::interrupt())) else {
        return std::future::pending().await;
    };
    tokio::select! {
        _ = term.recv() => tracing::info!("SIGTERM received"),
        _ = int.recv() => tracing::info!("SIGINT received"),
    }
}

fn serve(
    host: String,
    port: u16,
    http_workers: Option<usize>,
    max_body_bytes: usize,
    (drain_seconds, rasa_entities): (f64, RasaEntities),
    security: SecurityArgs,
    training: TrainingArgs,
    model: ModelArgs,
) -> anyhow::Result<()> {
    let keys = security.keys()?;
    let lib = parlance::model::runtime::init()?;
    let bundles = match &model.models_config {
        Some(file) => format!("models config {}", file.display()),
        None => model.model_path().display().to_string(),
    };
    let session = model.session();
    // issue 25: the layout from the usable cores, flags overriding; logged, shown by /v1/model and /metrics
    let http_workers = parlance::layout::announce(&model.layout(http_workers)).http_workers;
    tracing::info!(
        models = %bundles,
        onnxruntime = %lib.display(),
        host = %host, port, http_workers,
        inference_workers = model.layout(None).inference_workers,
        intra_threads = session.intra_threads,
        spinning = session.spinning,
        graph_optimization = session.optimization_level,
        disabled_optimizers = ?session.disabled_optimizers,
        max_batch_size = model.batch().max_batch_size,
        max_batch_tokens = model.max_batch_tokens,
        queue_capacity = model.queue_capacity,
        max_text_chars = model.max_text_chars,
        max_batch_texts = model.max_batch_texts,
        max_body_bytes,
        keys = ?keys,
        cors_origins = ?security.cors_origins,
        "starting parlance"
    );
    let models = std::sync::Arc::new(model.load_registry()?);
    for summary in models.summaries() {
        tracing::info!(model = %summary.id, bundle = %summary.name, version = %summary.version, format = ?summary.format,
            intents = summary.intents, slot_types = summary.slot_types.len(), default = summary.default,
            routes = ?summary.routes, path = %summary.path, "model loaded");
    }
    let secs = |s: f64| std::time::Duration::from_secs_f64(s.max(0.001));
    let state = AppState::with_models(models.clone(), max_body_bytes, keys, security.cors_origins.clone());
    let state = AppState::with_body_timeout(state, secs(security.body_timeout));
    let state = AppState::with_rasa_entities(state, rasa_entities);
    let state = match trainer(&training) {
        Some(t) => AppState::with_trainer(state, std::sync::Arc::new(t)),
        None => state,
    };
    let sys = actix_web::rt::System::new();
    sys.block_on(async move {
        serve_models_dir(&models, &training).await;
        let listener = std::net::TcpListener::bind((host.as_str(), port))?;
        tracing::info!("listening on http://{}", listener.local_addr()?);
        let settings = http::server::ServerSettings {
            workers: http_workers,
            client_request_timeout: secs(security.client_timeout),
            keep_alive: secs(security.keep_alive),
            shutdown_timeout: 30,
        };
        let server = http::server::serve(listener, state.clone(), &settings)?;
        let handle = server.handle();
        actix_web::rt::spawn(reload_on_sighup(models));
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            state.ready.store(false, std::sync::atomic::Ordering::SeqCst);
            tracing::info!(drain_seconds, "readiness off; draining");
            actix_web::rt::time::sleep(std::time::Duration::from_secs_f64(drain_seconds.max(0.0))).await;
            handle.stop(true).await;
        });
        server.await
    })?;
    tracing::info!("stopped");
    Ok(())
}
