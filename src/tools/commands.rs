//! The commands of `parlance` beside `serve` (which is `http::server::run`): `parse`, `eval`,
//! `bench`, `train` and `validate`, each with its flags and what it runs. They print to stdout and
//! answer the process's exit code.

use std::io::IsTerminal;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::time::Duration;

use crate::config::ModelArgs;
use crate::model::{Bundle, BundleFormat};
use crate::pipeline::ParseInput;
use crate::tools::{bench, eval};

// `parlance parse`'s arguments (the subcommand's help is main.rs's).
#[derive(clap::Args)]
pub struct ParseArgs {
    pub text: String,
    /// "fr" or "en"; detected when absent.
    #[arg(long)]
    pub lang: Option<String>,
    /// Reference time for relative dates, e.g. 2026-03-10T09:00:00 (default: now).
    #[arg(long)]
    pub reference_time: Option<String>,
    /// IANA time zone (default: UTC).
    #[arg(long)]
    pub timezone: Option<String>,
    #[command(flatten)]
    pub model: ModelArgs,
}

// `parlance eval`'s arguments.
#[derive(clap::Args)]
pub struct EvalArgs {
    /// MASSIVE jsonl, Rasa NLU YAML (.yml/.yaml; locale = file stem), or a .csv/.tsv table whose
    /// header names a text and an intent column (`sentence,label`); may be given several times.
    #[arg(long = "data", required = true)]
    pub data: Vec<PathBuf>,
    /// Print the report as JSON.
    #[arg(long)]
    pub json: bool,
    /// Texts sent to the pipeline at once.
    #[arg(long, default_value_t = 64)]
    pub chunk: usize,
    /// Also write DIR/report.md with DIR/reliability.svg and DIR/confusion.svg.
    #[arg(long, value_name = "DIR")]
    pub report: Option<PathBuf>,
    /// Texts timed one at a time after the accuracy pass, for single-parse latency (0: skip).
    #[arg(long, default_value_t = 200)]
    pub latency_samples: usize,
    #[command(flatten)]
    pub model: ModelArgs,
}

// `parlance bench`'s arguments.
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

// `parlance train`'s arguments.
#[derive(clap::Args)]
pub struct TrainArgs {
    /// A Rasa project folder (every NLU .yml in it), Rasa NLU YAML, a .csv/.tsv table whose header
    /// names a text and an intent column (`text,intent`, `sentence,label`), or MASSIVE jsonl; repeatable.
    #[arg(long = "data", required = true)]
    pub data: Vec<PathBuf>,
    /// Dev data (same formats): calibration, fallback threshold and the report. Default: a
    /// held-out fifth of --data (up to 600 examples, the adapted layers are then trained again on
    /// all of it).
    #[arg(long)]
    pub dev: Vec<PathBuf>,
    /// Bundle folder to write.
    #[arg(long)]
    pub out: PathBuf,
    /// Bundle name (default: the --out folder's name).
    #[arg(long)]
    pub name: Option<String>,
    #[arg(long, default_value = "0.1.0")]
    pub version: String,
    /// Encoder folder (model.onnx, tokenizer.json, encoder.json).
    #[arg(long, env = "PARLANCE_ENCODER", default_value = "models/encoders/e5-small-fren")]
    pub encoder: PathBuf,
    /// Inverse L2 strength of the intent head, as scikit-learn's C (the encoder's measured choice: 10).
    #[arg(long, default_value_t = 10.0)]
    pub c: f32,
    /// L2 penalty of the slot head (mean loss, standardised token vectors).
    #[arg(long, default_value_t = 1e-3)]
    pub slot_l2: f32,
    /// Do not add each intent's name ("order_status", "ORDER_STATUS", "OrderStatus" → "order status") as one more example of it.
    #[arg(long)]
    pub no_intent_names: bool,
    /// Fit the slot head on each word's own token only (default: a window of three tokens).
    #[arg(long)]
    pub no_slot_window: bool,
    /// Examples per encoder run.
    #[arg(long, default_value_t = 64)]
    pub batch_size: usize,
    /// ONNX Runtime threads (default: all cores).
    #[arg(long)]
    pub threads: Option<usize>,
    /// An intent that counts as out-of-scope (a rejection) besides Rasa's `out_of_scope`, `oos`
    /// and `nlu_fallback`: its answers keep its name.
    #[arg(long)]
    pub out_of_scope_intent: Option<String>,
    /// Leave out the lexical features (character and word n-grams beside the sentence vector).
    #[arg(long)]
    pub no_lexical: bool,
    /// The fallback threshold (0..1) instead of the one chosen on dev; the table is still printed.
    #[arg(long, value_parser = threshold_arg)]
    pub fallback_threshold: Option<f32>,
    /// Train on the frozen encoder: no layer adapted. Seconds instead of about a minute per
    /// 1,000 examples, for about 2 points less at 10 examples per intent on MASSIVE (the default
    /// adapts the encoder's top layers: docs/training-choices.md).
    #[arg(long, conflicts_with_all = ["adapt", "adapt_epochs", "adapt_rank", "adapt_layers"])]
    pub fast: bool,
    /// Require the adapted layers, the default where the encoder offers them: an encoder without
    /// them is then an error instead of the frozen path. The bot's own copy of the encoder's top
    /// layers (six on e5-small) is fine-tuned (cross-entropy, AdamW) before the heads are fitted:
    /// +2.1 (en) / +0.9 (fr) points served at 10 examples per intent on MASSIVE, ~1 minute per
    /// 1,000 examples on 2 cores, a parse about the default model's, 2.7 MB more per bot on disk
    /// and ~15 MB in memory (docs/training-choices.md).
    #[arg(long)]
    pub adapt: bool,
    /// Epochs of the adapted layers (default: 3, fewer for large bots so that the layers see at
    /// most 120,000 example-layers: 2 for 10,000 examples with six layers).
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..))]
    pub adapt_epochs: Option<u16>,
    /// Rank of the change stored for each weight matrix of the adapted layers (0: the whole
    /// layers, 3.5 MB each; 8, the default for one layer: 0.12 MB, as accurate on MASSIVE; 32, the
    /// default for more: 2.7 MB for six, +0.6 points over rank 8 in English).
    #[arg(long)]
    pub adapt_rank: Option<usize>,
    /// How many of the encoder's top layers are adapted (default: all it offers, 6 on e5-small's
    /// `upper-layers.json`, which `make setup` writes; they then run on the graph below them
    /// instead of the whole encoder). 1: its top layer only, +0.9 / +0.4 points where six give
    /// +2.1 / +0.9, a third of the training time.
    #[arg(long, value_parser = clap::value_parser!(u16).range(1..=64))]
    pub adapt_layers: Option<u16>,
    /// Print the summary as JSON.
    #[arg(long)]
    pub json: bool,
}

// `parlance validate`'s arguments.
#[derive(clap::Args)]
pub struct ValidateArgs {
    /// Bundle folder (a Parlance bundle or a Hugging Face export). Default: models/default.
    pub path: Option<PathBuf>,
    /// Print the JSON Schema of parlance.json and exit.
    #[arg(long)]
    pub schema: bool,
    /// Print the problems as JSON.
    #[arg(long)]
    pub json: bool,
}

/// Open-loop rates of `bench --sweep`, as fractions of the saturated throughput.
const SWEEP_FRACTIONS: [f64; 7] = [0.1, 0.25, 0.5, 0.75, 0.9, 1.0, 1.2];

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    Ok(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)
}

/// A progress bar on a terminal, none otherwise.
fn progress_bar(len: usize) -> indicatif::ProgressBar {
    if !std::io::stderr().is_terminal() {
        return indicatif::ProgressBar::hidden();
    }
    let b = indicatif::ProgressBar::new(len as u64);
    b.set_style(indicatif::ProgressStyle::with_template("{bar:40} {pos}/{len} utterances  {per_sec}  eta {eta}").expect("valid template"));
    b
}

/// Every example of every file.
fn read_all(files: &[PathBuf]) -> anyhow::Result<Vec<eval::Example>> {
    let mut examples = Vec::new();
    for f in files {
        examples.extend(crate::data::read_examples(f)?);
    }
    Ok(examples)
}

/// `parlance parse`: one text through the pipeline, printed as JSON.
pub fn parse(args: ParseArgs) -> anyhow::Result<ExitCode> {
    let ParseArgs { text, lang, reference_time, timezone, model } = args;
    let parser = model.load()?;
    let input = ParseInput { text, lang, reference_time, timezone, ..Default::default() };
    let result = runtime()?.block_on(parser.parse(input))?;
    println!("{}", serde_json::to_string_pretty(&result)?);
    Ok(ExitCode::SUCCESS)
}

/// `parlance eval`: scores the model on labelled data and prints (and writes) the report.
pub fn eval(args: EvalArgs) -> anyhow::Result<ExitCode> {
    let examples = read_all(&args.data)?;
    let parser = args.model.load()?;
    let opts = eval::EvalOptions { chunk: args.chunk, latency_samples: args.latency_samples };
    let bar = progress_bar(examples.len());
    let mut report = runtime()?.block_on(eval::evaluate_with(&parser, &examples, &opts, |n| bar.inc(n as u64)))?;
    bar.finish_and_clear();
    report.data = args.data.iter().map(|d| d.display().to_string()).collect();
    if args.json {
        println!("{}", serde_json::to_string_pretty(&report)?);
    } else {
        println!("model {} {} on {}", report.model.name, report.model.version, report.data.join(", "));
        print!("{}", report.to_text());
    }
    if let Some(dir) = &args.report {
        let files = report.write_report(dir)?;
        let names: Vec<String> = files.iter().map(|f| f.display().to_string()).collect();
        eprintln!("report written: {}", names.join(", "));
    }
    Ok(ExitCode::SUCCESS)
}

/// MASSIVE dev utterances, both locales, from $PARLANCE_DATA_DIR or ../shared/data/massive.
fn default_bench_data() -> Vec<PathBuf> {
    let dir = std::env::var("PARLANCE_DATA_DIR").map(PathBuf::from).unwrap_or_else(|_| PathBuf::from("../shared/data/massive"));
    ["en-US.dev.jsonl", "fr-FR.dev.jsonl"].iter().map(|f| dir.join(f)).collect()
}

/// `bench`'s utterances: `--text`, else `--data`, else MASSIVE dev.
fn bench_texts(args: &BenchArgs) -> anyhow::Result<Vec<String>> {
    if let Some(t) = &args.text {
        return Ok(vec![t.clone()]);
    }
    let files = if args.data.is_empty() { default_bench_data() } else { args.data.clone() };
    let mut texts = Vec::new();
    for f in &files {
        texts.extend(bench::read_texts(f)?);
    }
    Ok(texts)
}

/// `parlance bench`: loads a running server (or, `--in-process`, the model itself) and reports.
pub fn bench(args: BenchArgs) -> anyhow::Result<ExitCode> {
    let texts = bench_texts(&args)?;
    if args.in_process {
        let duration = Duration::from_secs_f64(args.duration.max(0.1));
        let report = bench::model_throughput(&args.model, &texts, args.batch_size.max(1), duration)?;
        if args.json {
            println!("{}", serde_json::to_string_pretty(&report)?);
        } else {
            println!("{report}");
        }
        return Ok(ExitCode::SUCCESS);
    }
    for url in &args.url {
        bench::check_target(url, args.allow_remote)?;
    }
    let mode = match args.rate {
        Some(r) if r > 0.0 => bench::Mode::Open { rate: r },
        Some(_) => anyhow::bail!("--rate must be positive"),
        None => bench::Mode::Closed { concurrency: args.concurrency.max(1) },
    };
    let cfg = bench::LoadConfig {
        url: args.url.join(" "),
        urls: args.url.clone(),
        texts,
        mode,
        duration: Duration::from_secs_f64(args.duration.max(0.1)),
        max_requests: args.requests,
        timeout: Duration::from_secs_f64(args.timeout.max(0.01)),
        progress: !args.json && std::io::stderr().is_terminal(),
        api_key: args.api_key.clone(),
    };
    let sys = actix_rt::System::new();
    let reports = match &args.sweep {
        None => vec![sys.block_on(bench::run(&cfg))],
        Some(_) => sys.block_on(bench::sweep(&cfg, args.concurrency.max(1), &SWEEP_FRACTIONS)),
    };
    if let Some(svg) = &args.sweep {
        bench::draw_sweep(&reports, svg, &format!("{} — latency against throughput", cfg.url))?;
    }
    print_load_reports(&reports, args.json, args.sweep.as_deref())?;
    Ok(ExitCode::SUCCESS)
}

fn print_load_reports(reports: &[bench::LoadReport], json: bool, sweep: Option<&Path>) -> anyhow::Result<()> {
    if json {
        let out = if reports.len() == 1 { serde_json::to_string_pretty(&reports[0])? } else { serde_json::to_string_pretty(&reports)? };
        println!("{out}");
        return Ok(());
    }
    for r in reports {
        print!("{}", r.to_text());
    }
    if let Some(svg) = sweep {
        println!("latency curve: {}", svg.display());
    }
    Ok(())
}

/// `parlance validate`: every problem of a bundle, or its manifest schema.
pub fn validate(args: ValidateArgs) -> anyhow::Result<ExitCode> {
    if args.schema {
        print!("{}", crate::model::MANIFEST_SCHEMA);
        return Ok(ExitCode::SUCCESS);
    }
    let path = args.path.unwrap_or_else(crate::config::default_model_path);
    let problems = Bundle::validate(&path);
    let format = crate::model::detect_format(&path);
    if args.json {
        let out = serde_json::json!({"path": path, "format": format, "valid": problems.is_empty(), "problems": problems});
        println!("{}", serde_json::to_string_pretty(&out)?);
    } else if problems.is_empty() {
        let kind = match format {
            BundleFormat::Parlance => "Parlance bundle",
            BundleFormat::HuggingFace => "Hugging Face export (intent only)",
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

impl TrainArgs {
    fn options(&self) -> crate::train::TrainOptions {
        crate::train::TrainOptions {
            data: self.data.clone(),
            dev: self.dev.clone(),
            out: self.out.clone(),
            name: self.name.clone(),
            version: self.version.clone(),
            encoder: self.encoder.clone(),
            c: self.c,
            slot_l2: self.slot_l2,
            intent_names: !self.no_intent_names,
            slot_window: !self.no_slot_window,
            batch_size: self.batch_size,
            threads: self.threads.unwrap_or_else(crate::config::available_cores),
            progress: !self.json && std::io::stderr().is_terminal(),
            watch: None,
            lookup_files: crate::train::rasa_extras::LookupFiles::inside_data(&[self.data.clone(), self.dev.clone()].concat()),
            out_of_scope_intent: self.out_of_scope_intent.clone(),
            fallback_threshold: self.fallback_threshold,
            lexical: !self.no_lexical,
            adapt: (!self.fast).then(|| crate::train::adapt::AdaptAsk {
                required: self.adapt || self.adapt_epochs.is_some() || self.adapt_rank.is_some() || self.adapt_layers.is_some(),
                epochs: self.adapt_epochs.map(usize::from),
                rank: self.adapt_rank,
                layers: self.adapt_layers.map(usize::from),
            }),
        }
    }
}

/// A fallback threshold in 0..=1.
fn threshold_arg(s: &str) -> Result<f32, String> {
    let t: f32 = s.parse().map_err(|e| format!("{e}"))?;
    (0.0..=1.0).contains(&t).then_some(t).ok_or_else(|| format!("{t} is outside 0..1"))
}

/// `parlance train`: trains, writes the bundle, loads it as the server would and prints the eval
/// report on dev. Bad data exits 1 with every problem.
pub fn train(args: TrainArgs) -> anyhow::Result<ExitCode> {
    crate::model::runtime::init()?;
    let started = std::time::Instant::now();
    let summary = match crate::train::train(&args.options()) {
        Ok(s) => s,
        Err(e) => {
            eprintln!("error: {}", crate::errors::chain(&e));
            return Ok(ExitCode::from(1));
        }
    };
    let trained = started.elapsed().as_secs_f64();
    let parser = ModelArgs::for_bundle(&summary.out).load().map_err(|e| anyhow::anyhow!("the trained bundle does not load: {e:#}"))?;
    let mut report = None;
    if !args.dev.is_empty() {
        let examples = read_all(&args.dev)?;
        let opts = eval::EvalOptions { chunk: 64, latency_samples: 0 };
        let mut r = runtime()?.block_on(eval::evaluate_with(&parser, &examples, &opts, |_| {}))?;
        r.data = args.dev.iter().map(|d| d.display().to_string()).collect();
        report = Some(r);
    }
    if args.json {
        let out = serde_json::json!({"summary": summary, "seconds_total": trained, "eval": report});
        println!("{}", serde_json::to_string_pretty(&out)?);
        return Ok(ExitCode::SUCCESS);
    }
    print!("{}", crate::train::report::summary_text(&summary, trained));
    if let Some(r) = report {
        println!("\nparlance eval of {} {} on {}", r.model.name, r.model.version, r.data.join(", "));
        print!("{}", r.to_text());
    }
    Ok(ExitCode::SUCCESS)
}
