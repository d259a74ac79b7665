//! The `parlance` command: `serve` (the HTTP API, `http::server::run`), `parse`, `eval`, `bench`,
//! `train` and `validate` (`tools::commands`). This file only reads the command line, sets up
//! logging and hands each command to its home in the library.

use std::io::IsTerminal;
use std::process::ExitCode;

use clap::{Parser as ClapParser, Subcommand};

use parlance::http::args::ServeArgs;
use parlance::tools::commands::{self, BenchArgs, EvalArgs, ParseArgs, TrainArgs, ValidateArgs};

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
    Serve(ServeArgs),
    /// Parse one text and print the result as JSON.
    Parse(ParseArgs),
    /// Score a bundle on MASSIVE jsonl, Rasa NLU YAML or a CSV/TSV table (intent accuracy, slot F1, exact match,
    /// calibration, confusions, latency).
    Eval(EvalArgs),
    /// Load an HTTP endpoint and print throughput, errors and latency percentiles.
    Bench(BenchArgs),
    /// Train a bot from a Rasa project (folder or NLU files), a CSV/TSV table or MASSIVE jsonl: embed every example
    /// with a frozen encoder, fit intent and slot heads, calibrate, write a heads bundle, and print
    /// `parlance eval`'s report on --dev.
    Train(TrainArgs),
    /// Check a bundle and print every problem found.
    Validate(ValidateArgs),
}

fn init_logging(format: &str) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env().unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info,ort=warn"));
    let builder = tracing_subscriber::fmt().with_env_filter(filter).with_ansi(std::io::stderr().is_terminal()).with_writer(std::io::stderr);
    if format == "json" {
        builder.json().init();
    } else {
        builder.init();
    }
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    init_logging(&cli.log_format);
    if matches!(cli.command, Command::Parse(_) | Command::Eval(_) | Command::Validate(_) | Command::Train(_))
        || matches!(&cli.command, Command::Bench(b) if b.in_process)
    {
        // Commands that print to a pipe (`parlance eval … | head`) end quietly when the reader
        // goes, as Unix tools do, instead of panicking on the write. Not for `serve` and the HTTP
        // `bench`, whose sockets must never kill the process.
        // SAFETY: restores the default disposition of one signal, before any thread starts.
        unsafe {
            libc::signal(libc::SIGPIPE, libc::SIG_DFL);
        }
    }
    let outcome = match cli.command {
        Command::Serve(args) => parlance::http::server::run(args).map(|()| ExitCode::SUCCESS),
        Command::Parse(args) => commands::parse(args),
        Command::Eval(args) => commands::eval(args),
        Command::Bench(args) => commands::bench(args),
        Command::Train(args) => commands::train(args),
        Command::Validate(args) => commands::validate(args),
    };
    match outcome {
        Ok(code) => code,
        Err(e) => {
            eprintln!("error: {e:#}");
            ExitCode::from(2)
        }
    }
}
