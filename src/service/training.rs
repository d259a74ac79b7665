//! Training over HTTP (`/admin/models/{name}/train`): one run at a time, in the background, bounded
//! in input size and time, followed by a status anyone with the admin key can read, cancellable.
//! When the run is done the bundle is moved into the models folder and served as a reload serves
//! (checked, warmed, swapped in); a failed or cancelled run leaves whatever was serving untouched.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::atomic::Ordering;
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant, SystemTime};

use serde::Serialize;

use crate::service::folder;
use crate::service::models::valid_name;
use crate::service::registry::Registry;
use crate::train::{TrainError, TrainOptions, TrainWatch};

/// How HTTP training runs.
#[derive(Debug, Clone)]
pub struct TrainSettings {
    /// Where trained bundles are written (`<dir>/<name>/`); watched by other replicas.
    pub models_dir: PathBuf,
    /// The encoder folder trained bundles are built on.
    pub encoder: PathBuf,
    /// Longest run; past it the run stops and the old model keeps serving.
    pub time_limit: Duration,
    /// Most examples (training and dev) one run takes.
    pub max_examples: usize,
    /// Most words (training and dev examples together) one run takes: what bounds its memory.
    pub max_words: usize,
    /// Threads of a run (encoder and fitting); it runs at a lower priority (`nice` 10) than parsing.
    pub threads: usize,
}

/// Default [`TrainSettings::max_words`]: MASSIVE en-US's first 8,802 training examples hold 60,000
/// words and peak at 1.00 GB on the default French/English encoder (1.19 GB with `adapt`; on the
/// full-vocabulary encoder 1.34 and 1.54 GB): this bounds a run near 1 GB, 1.2 GB adapted.
pub const MAX_WORDS: usize = 60_000;

/// Where a training run stands (`GET /admin/models/{name}/train`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrainStatus {
    pub model: String,
    /// "running", "done", "failed" or "cancelled".
    pub state: String,
    /// "checking", "embedding", "adapting" (twice for a small bot without dev data), "fitting",
    /// "writing", "loading" or "finished".
    pub stage: String,
    /// Examples embedded so far, of `to_embed`.
    pub embedded: u64,
    pub to_embed: u64,
    /// RFC 3339.
    pub started_at: String,
    pub seconds: f64,
    /// Why it failed (`state` "failed").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub error: Option<String>,
    /// Every problem of the training data, when that is why it failed.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub problems: Vec<String>,
    /// Held-out accuracy, temperature, fallback threshold and where the time went (`state` "done").
    #[serde(skip_serializing_if = "Option::is_none")]
    #[schema(value_type = Object)]
    pub summary: Option<serde_json::Value>,
    /// The generation now serving (`state` "done").
    #[serde(skip_serializing_if = "Option::is_none")]
    pub generation: Option<u64>,
}

/// Why a run was not started.
#[derive(Debug, thiserror::Error)]
pub enum TrainStartError {
    #[error("a training run is in progress (model {0:?}); one at a time")]
    Busy(String),
    #[error("{0}")]
    Conflict(String),
    #[error("invalid training data")]
    Invalid(Vec<String>),
    #[error("training over HTTP is off: {0}")]
    Unavailable(String),
    /// DELETE arrived while the data was being checked.
    #[error("cancelled")]
    Cancelled,
}

/// The training data of a request: Rasa NLU YAML, with optional dev data.
#[derive(Debug, Default)]
pub struct TrainRequest {
    pub nlu: String,
    pub dev: Option<String>,
    pub version: Option<String>,
    pub out_of_scope_intent: Option<String>,
    pub fallback_threshold: Option<f32>,
    /// Adapt the encoder's top layers: None (the default) those it offers, true requires them,
    /// false trains on the frozen encoder (as `parlance train --fast`).
    pub adapt: Option<bool>,
    /// `adapt`'s epochs (1..=[`MAX_ADAPT_EPOCHS`]) and stored rank (0..=[`MAX_ADAPT_RANK`]).
    pub adapt_epochs: Option<usize>,
    pub adapt_rank: Option<usize>,
    /// `adapt`'s layers: 1, or what the encoder offers (`upper-layers.json`: 6 for e5-small).
    pub adapt_layers: Option<usize>,
    pub no_lexical: bool,
}

/// Bounds of a request's `adapt_epochs` (a run's time grows with them) and `adapt_rank`.
pub const MAX_ADAPT_EPOCHS: usize = 20;
pub const MAX_ADAPT_RANK: usize = 64;

impl TrainRequest {
    /// What the request asks of adaptation (None: `"adapt": false`), or what is wrong with it.
    /// Without `"adapt"` the encoder's offered layers are adapted, as `parlance train` does.
    fn adapt_ask(&self) -> Result<Option<crate::train::adapt::AdaptAsk>, String> {
        let named = [("adapt_epochs", self.adapt_epochs), ("adapt_rank", self.adapt_rank), ("adapt_layers", self.adapt_layers)];
        if self.adapt == Some(false) {
            return match named.iter().find(|(_, v)| v.is_some()) {
                Some((n, _)) => Err(format!("{n} needs adaptation, and \"adapt\" is false")),
                None => Ok(None),
            };
        }
        match (self.adapt_epochs, self.adapt_rank, self.adapt_layers) {
            (Some(e), _, _) if !(1..=MAX_ADAPT_EPOCHS).contains(&e) => Err(format!("adapt_epochs {e} is outside 1..={MAX_ADAPT_EPOCHS}")),
            (_, Some(r), _) if r > MAX_ADAPT_RANK => Err(format!("adapt_rank {r} is outside 0..={MAX_ADAPT_RANK} (0: the whole layer)")),
            (_, _, Some(0)) => Err("adapt_layers 0: 1 (the top layer) or what the encoder offers".into()),
            (epochs, rank, layers) => {
                let required = self.adapt == Some(true) || named.iter().any(|(_, v)| v.is_some());
                Ok(Some(crate::train::adapt::AdaptAsk { required, epochs, rank, layers }))
            }
        }
    }
}

struct Job {
    watch: Arc<TrainWatch>,
    status: Mutex<TrainStatus>,
    started: Instant,
}

impl Job {
    fn snapshot(&self) -> TrainStatus {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner()).clone();
        if s.state == "running" {
            let stage = *self.watch.stage.lock().unwrap_or_else(|e| e.into_inner());
            if !stage.is_empty() {
                s.stage = stage.to_string(); // before the run names a stage, it is still "checking"
            }
            s.seconds = self.started.elapsed().as_secs_f64();
        }
        s.embedded = self.watch.embedded.load(Ordering::Relaxed);
        s.to_embed = self.watch.to_embed.load(Ordering::Relaxed);
        s
    }

    fn finish(&self, state: &str, f: impl FnOnce(&mut TrainStatus)) {
        let mut s = self.status.lock().unwrap_or_else(|e| e.into_inner());
        s.state = state.into();
        s.stage = "finished".into();
        s.seconds = self.started.elapsed().as_secs_f64();
        f(&mut s);
    }
}

/// The training runs of a server: the one running, and the last of each model.
pub struct Trainer {
    settings: TrainSettings,
    running: Mutex<Option<String>>,
    jobs: Mutex<BTreeMap<String, Arc<Job>>>,
}

/// The folder a run works in (hidden from the models-folder watch) and where its bundle goes.
fn work_dir(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".train-{name}"))
}

impl Trainer {
    /// A trainer for `settings.models_dir`; what killed or crashed runs left there is removed first.
    pub fn new(settings: TrainSettings) -> Trainer {
        let stale_after = stale_after(&settings);
        for line in folder::clean_leftovers(&settings.models_dir, stale_after) {
            tracing::info!(folder = %settings.models_dir.display(), "{line}");
        }
        Trainer { settings, running: Mutex::new(None), jobs: Mutex::new(BTreeMap::new()) }
    }

    pub fn settings(&self) -> &TrainSettings {
        &self.settings
    }

    /// The last run of `name`, if any.
    pub fn status(&self, name: &str) -> Option<TrainStatus> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).get(name).map(|j| j.snapshot())
    }

    /// Asks `name`'s running run to stop, at whatever stage it is; its status says "cancelled"
    /// once it has.
    pub fn cancel(&self, name: &str) -> Option<TrainStatus> {
        let job = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).get(name).cloned()?;
        job.watch.cancel.store(true, Ordering::Relaxed);
        Some(job.snapshot())
    }

    /// Checks the request's data at once (every problem, 422) and starts the run in the background.
    /// The name is checked before anything touches the disk; a second request while one runs is
    /// told 409 at once, as is one for a name another replica sharing the folder is training.
    pub fn start(self: &Arc<Self>, registry: Arc<Registry>, name: &str, req: TrainRequest) -> Result<TrainStatus, TrainStartError> {
        self.check_request(&registry, name, &req)?;
        {
            let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
            if let Some(other) = running.as_ref() {
                return Err(TrainStartError::Busy(other.clone()));
            }
            *running = Some(name.to_string());
        }
        match self.begin(registry, name, req) {
            Ok(status) => Ok(status),
            Err(e) => {
                *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
                Err(e)
            }
        }
    }

    /// What can be refused without reading the data: the name, where it is served, the version.
    fn check_request(&self, registry: &Registry, name: &str, req: &TrainRequest) -> Result<(), TrainStartError> {
        if !valid_name(name) {
            return Err(TrainStartError::Invalid(vec![format!("{name:?} is not a model name ({})", crate::service::models::NAME_RULE)]));
        }
        if let Some(t) = req.fallback_threshold.filter(|t| !(0.0..=1.0).contains(t)) {
            return Err(TrainStartError::Invalid(vec![format!("fallback_threshold {t} is outside 0..1")]));
        }
        req.adapt_ask().map_err(|m| TrainStartError::Invalid(vec![m]))?;
        if let Some(v) = &req.version {
            if v.trim().is_empty() || v.len() > 64 || v.chars().any(char::is_control) {
                return Err(TrainStartError::Invalid(vec![format!("version {v:?}: 1 to 64 printable characters")]));
            }
        }
        let target = self.settings.models_dir.join(name);
        match registry.get(name) {
            Some(served) if served.path != target => Err(TrainStartError::Conflict(format!(
                "model {name:?} is served from {}, not from the models folder {}; train under another name",
                served.path.display(),
                self.settings.models_dir.display()
            ))),
            _ => Ok(()),
        }
    }

    /// With the one run slot taken: the folder lock, the job (so GET and DELETE reach it while the
    /// data is checked), the checks, then the background thread.
    fn begin(self: &Arc<Self>, registry: Arc<Registry>, name: &str, req: TrainRequest) -> Result<TrainStatus, TrainStartError> {
        let lock = folder::Lock::take(&self.settings.models_dir, name, stale_after(&self.settings)).map_err(TrainStartError::Conflict)?;
        let before = folder::generation(&self.settings.models_dir.join(name));
        let watch = Arc::new(TrainWatch::default());
        watch.started.get_or_init(Instant::now);
        watch.limit.get_or_init(|| self.settings.time_limit);
        let job = Arc::new(Job { watch: watch.clone(), status: Mutex::new(self.initial(name)), started: Instant::now() });
        let previous = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), job.clone());
        let checked = self.prepare(name, &req, watch.clone()).and_then(|opts| match watch.stopped() {
            Some(TrainError::Cancelled) => Err(TrainStartError::Cancelled),
            Some(e) => Err(TrainStartError::Invalid(vec![e.to_string()])),
            None => Ok(opts),
        });
        let opts = match checked {
            Ok(opts) => opts,
            Err(e) => {
                let _ = std::fs::remove_dir_all(work_dir(&self.settings.models_dir, name));
                crate::model::runtime::release_freed_memory(); // what reading the refused data allocated
                let mut jobs = self.jobs.lock().unwrap_or_else(|e| e.into_inner());
                if matches!(e, TrainStartError::Cancelled) {
                    job.finish("cancelled", |_| {});
                    return Ok(job.snapshot());
                }
                match previous {
                    Some(p) => jobs.insert(name.to_string(), p),
                    None => jobs.remove(name),
                };
                return Err(e);
            }
        };
        let first = job.snapshot();
        let (this, owned) = (self.clone(), name.to_string());
        let plan = Plan { opts, lock, before };
        std::thread::Builder::new()
            .name(format!("train-{name}"))
            .spawn(move || this.run(&registry, &owned, plan, &job))
            .map_err(|e| TrainStartError::Unavailable(format!("cannot start a thread: {e}")))?;
        Ok(first)
    }

    fn initial(&self, name: &str) -> TrainStatus {
        let now: chrono::DateTime<chrono::Utc> = SystemTime::now().into();
        TrainStatus {
            model: name.to_string(),
            state: "running".into(),
            stage: "checking".into(),
            embedded: 0,
            to_embed: 0,
            started_at: now.to_rfc3339_opts(chrono::SecondsFormat::Millis, true),
            seconds: 0.0,
            error: None,
            problems: Vec::new(),
            summary: None,
            generation: None,
        }
    }

    /// Writes the request's data into the run's work folder and checks it (synchronously), within
    /// the memory budget: examples and words.
    fn prepare(&self, name: &str, req: &TrainRequest, watch: Arc<TrainWatch>) -> Result<TrainOptions, TrainStartError> {
        if !self.settings.encoder.join(crate::model::MODEL_FILE).is_file() {
            return Err(TrainStartError::Unavailable(format!("no encoder at {}", self.settings.encoder.display())));
        }
        let work = work_dir(&self.settings.models_dir, name);
        let _ = std::fs::remove_dir_all(&work);
        let data_dir = work.join("data");
        std::fs::create_dir_all(&data_dir).map_err(|e| TrainStartError::Unavailable(format!("{}: {e}", data_dir.display())))?;
        let write = |file: &str, text: &str| {
            let p = data_dir.join(file);
            std::fs::write(&p, text).map(|_| p).map_err(|e| TrainStartError::Unavailable(format!("{file}: {e}")))
        };
        let data = vec![write("nlu.yml", &req.nlu)?];
        let dev = match &req.dev {
            Some(d) => vec![write("dev.yml", d)?],
            None => Vec::new(),
        };
        let opts = TrainOptions {
            data,
            dev,
            out: work.join("bundle"),
            name: Some(name.to_string()),
            version: req.version.clone().unwrap_or_else(|| "0.1.0".into()),
            encoder: self.settings.encoder.clone(),
            c: 10.0,
            slot_l2: 1e-3,
            intent_names: true,
            slot_window: true,
            batch_size: 64,
            threads: self.settings.threads,
            progress: false,
            watch: Some(watch),
            lookup_files: crate::train::rasa_extras::LookupFiles::Refused,
            out_of_scope_intent: req.out_of_scope_intent.clone(),
            fallback_threshold: req.fallback_threshold,
            lexical: !req.no_lexical,
            adapt: req.adapt_ask().map_err(|m| TrainStartError::Invalid(vec![m]))?,
        };
        let shown = |e: TrainError| match e {
            TrainError::Invalid(p) => p.into_iter().map(|m| m.replace(&format!("{}/", data_dir.display()), "")).collect(),
            other => vec![crate::errors::chain(&other)],
        };
        let size = crate::train::check_data(&opts).map_err(|e| TrainStartError::Invalid(shown(e)))?;
        self.within_budget(size)?;
        if let Some(ask) = &opts.adapt {
            ask.resolve(&opts.encoder).map_err(|m| TrainStartError::Invalid(vec![format!("\"adapt\": this server's encoder {m}")]))?;
        }
        Ok(opts)
    }

    /// A run's size against the server's limits, before any work.
    fn within_budget(&self, size: crate::train::DataSize) -> Result<(), TrainStartError> {
        let (max_examples, max_words) = (self.settings.max_examples, self.settings.max_words);
        let mut problems = Vec::new();
        if size.examples > max_examples {
            problems.push(format!(
                "{} examples; training over HTTP takes at most {max_examples} (--train-max-examples; `parlance train` for more)",
                size.examples
            ));
        }
        if size.words > max_words {
            problems.push(format!("{} words in the examples; training over HTTP takes at most {max_words} (--train-max-words bounds a run's memory; `parlance train` for more)", size.words));
        }
        if problems.is_empty() {
            Ok(())
        } else {
            Err(TrainStartError::Invalid(problems))
        }
    }

    /// The background run: train (at a lower priority), check the new bundle where it was written,
    /// swap it into the models folder, serve it; any failure leaves the folder as it was.
    fn run(&self, registry: &Arc<Registry>, name: &str, plan: Plan, job: &Job) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.train_and_serve(registry, name, &plan, job)));
        // everything the run held is let go before its end is told: a client that sees "done" or
        // "cancelled" finds no work folder and may start the next run at once
        let _ = std::fs::remove_dir_all(work_dir(&self.settings.models_dir, name));
        drop(plan.lock);
        crate::model::runtime::release_freed_memory();
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
        match outcome {
            Ok(Ok((summary, generation))) => job.finish("done", |s| {
                s.summary = Some(summary);
                s.generation = Some(generation);
            }),
            Ok(Err(TrainError::Cancelled)) => job.finish("cancelled", |_| {}),
            Ok(Err(TrainError::Invalid(problems))) => job.finish("failed", |s| {
                s.error = Some("invalid training data".into());
                s.problems = problems;
            }),
            Ok(Err(e)) => job.finish("failed", |s| s.error = Some(crate::errors::chain(&e))),
            Err(_) => job.finish("failed", |s| s.error = Some("the training run panicked".into())),
        }
        let state = job.snapshot().state;
        crate::metrics::METRICS.reloads.with_label_values(&[name, if state == "done" { "trained" } else { "training_failed" }]).inc();
        tracing::info!(model = name, state = %state, seconds = job.started.elapsed().as_secs_f64(), "training run ended");
    }

    fn train_and_serve(&self, registry: &Arc<Registry>, name: &str, plan: &Plan, job: &Job) -> Result<(serde_json::Value, u64), TrainError> {
        let opts = &plan.opts;
        let summary = train_niced(opts)?;
        let stopped = || job.watch.stopped().map_or(Ok(()), Err);
        stopped()?;
        *job.watch.stage.lock().unwrap_or_else(|e| e.into_inner()) = "loading";
        let problems = crate::model::Bundle::validate(&opts.out);
        if !problems.is_empty() {
            let shown: Vec<String> = problems.iter().map(|p| p.to_string()).collect();
            return Err(TrainError::NotReplaced(format!("it failed its checks: {}", shown.join("; "))));
        }
        stopped()?;
        let target = self.settings.models_dir.join(name);
        if folder::generation(&target) != plan.before {
            return Err(TrainError::NotReplaced(format!(
                "{} changed while this run trained (another replica sharing the folder?); it was left as it is",
                target.display()
            )));
        }
        let swap = folder::Swap::put(&opts.out, &target).map_err(|e| TrainError::Write { path: target.clone(), source: e.into() })?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| TrainError::NotServed(e.into()))?;
        let served = match runtime.block_on(registry.add_or_reload(name, target)) {
            Ok(s) => s,
            Err(e) => {
                swap.undo(); // the folder is as it was
                return Err(TrainError::NotServed(e.into()));
            }
        };
        swap.keep();
        let mut value = serde_json::to_value(&summary).unwrap_or_default();
        if let Some(o) = value.as_object_mut() {
            o.remove("out");
        }
        Ok((value, served.generation))
    }
}

/// What a started run carries to its thread: its options, the folder lock it holds, and the
/// generation of the bundle it will replace (compared before the swap).
struct Plan {
    opts: TrainOptions,
    lock: folder::Lock,
    before: Option<folder::Generation>,
}

/// A lock older than the longest run (and the load after it) is a crashed replica's.
fn stale_after(settings: &TrainSettings) -> Duration {
    settings.time_limit + Duration::from_secs(600)
}

/// Trains on a thread of its own at `nice` 10, with its own rayon pool (its threads inherit the
/// priority), so parsing keeps the cores it needs. The bundle is loaded for service afterwards on
/// the caller's thread, at the normal priority.
fn train_niced(opts: &TrainOptions) -> Result<crate::train::TrainSummary, TrainError> {
    std::thread::scope(|scope| {
        let handle = std::thread::Builder::new().name("train-fit".into()).spawn_scoped(scope, || {
            lower_priority();
            let pool = rayon::ThreadPoolBuilder::new().num_threads(opts.threads.max(1)).thread_name(|i| format!("train-{i}")).build();
            match pool {
                Ok(pool) => pool.install(|| crate::train::train(opts)),
                Err(e) => Err(TrainError::Threads(Box::new(e))),
            }
        });
        match handle {
            Ok(h) => h.join().unwrap_or_else(|p| std::panic::resume_unwind(p)), // told as a panic by `run`
            Err(e) => Err(TrainError::Threads(Box::new(e))),
        }
    })
}

/// `nice` 10 for the calling thread (Linux: a thread's own); threads it starts inherit it.
fn lower_priority() {
    #[cfg(target_os = "linux")]
    // SAFETY: plain syscalls on the calling thread's id; failure only leaves the priority as it is.
    unsafe {
        let tid = libc::syscall(libc::SYS_gettid) as libc::id_t;
        libc::setpriority(libc::PRIO_PROCESS, tid, 10);
    }
}
