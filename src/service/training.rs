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
    /// ONNX Runtime threads of the encoder while training.
    pub threads: usize,
}

/// Where a training run stands (`GET /admin/models/{name}/train`).
#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct TrainStatus {
    pub model: String,
    /// "running", "done", "failed" or "cancelled".
    pub state: String,
    /// "checking", "embedding", "fitting", "writing", "loading" or "finished".
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
}

/// The training data of a request: Rasa NLU YAML, with optional dev data.
pub struct TrainRequest {
    pub nlu: String,
    pub dev: Option<String>,
    pub version: Option<String>,
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
    pub fn new(settings: TrainSettings) -> Trainer {
        Trainer { settings, running: Mutex::new(None), jobs: Mutex::new(BTreeMap::new()) }
    }

    pub fn settings(&self) -> &TrainSettings {
        &self.settings
    }

    /// The last run of `name`, if any.
    pub fn status(&self, name: &str) -> Option<TrainStatus> {
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).get(name).map(|j| j.snapshot())
    }

    /// Asks `name`'s running run to stop; its status says "cancelled" once it has.
    pub fn cancel(&self, name: &str) -> Option<TrainStatus> {
        let job = self.jobs.lock().unwrap_or_else(|e| e.into_inner()).get(name).cloned()?;
        job.watch.cancel.store(true, Ordering::Relaxed);
        Some(job.snapshot())
    }

    /// Checks the request's data at once (every problem, 422) and starts the run in the background.
    pub fn start(self: &Arc<Self>, registry: Arc<Registry>, name: &str, req: TrainRequest) -> Result<TrainStatus, TrainStartError> {
        if !valid_name(name) {
            return Err(TrainStartError::Invalid(vec![format!("{name:?} is not a model name (letters, digits, '-', '_', '.'; at most 64)")]));
        }
        let target = self.settings.models_dir.join(name);
        if let Some(served) = registry.get(name) {
            if served.path != target {
                return Err(TrainStartError::Conflict(format!(
                    "model {name:?} is served from {}, not from the models folder {}; train under another name",
                    served.path.display(),
                    self.settings.models_dir.display()
                )));
            }
        }
        let mut running = self.running.lock().unwrap_or_else(|e| e.into_inner());
        if let Some(other) = running.as_ref() {
            return Err(TrainStartError::Busy(other.clone()));
        }
        let opts = self.prepare(name, &req)?;
        let job = Arc::new(Job { watch: opts.watch.clone().expect("set"), status: Mutex::new(self.initial(name)), started: Instant::now() });
        job.watch.started.get_or_init(Instant::now);
        job.watch.limit.get_or_init(|| self.settings.time_limit);
        *running = Some(name.to_string());
        self.jobs.lock().unwrap_or_else(|e| e.into_inner()).insert(name.to_string(), job.clone());
        let first = job.snapshot();
        let (this, owned) = (self.clone(), name.to_string());
        let spawned = std::thread::Builder::new()
            .name(format!("train-{name}"))
            .spawn(move || this.run(&registry, &owned, opts, &job));
        if let Err(e) = spawned {
            *running = None;
            return Err(TrainStartError::Unavailable(format!("cannot start a thread: {e}")));
        }
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

    /// Writes the request's data into the run's work folder and checks it (synchronously).
    fn prepare(&self, name: &str, req: &TrainRequest) -> Result<TrainOptions, TrainStartError> {
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
            watch: Some(Arc::new(TrainWatch::default())),
        };
        let shown = |e: TrainError| match e {
            TrainError::Invalid(p) => p.into_iter().map(|m| m.replace(&format!("{}/", data_dir.display()), "")).collect(),
            other => vec![other.to_string()],
        };
        let examples = crate::train::check_data(&opts).map_err(|e| TrainStartError::Invalid(shown(e)))?;
        if examples > self.settings.max_examples {
            return Err(TrainStartError::Invalid(vec![format!(
                "{examples} examples; training over HTTP takes at most {} (use `parlance train` for more)",
                self.settings.max_examples
            )]));
        }
        Ok(opts)
    }

    /// The background run: train, move the bundle into the models folder, serve it.
    fn run(&self, registry: &Arc<Registry>, name: &str, opts: TrainOptions, job: &Job) {
        let outcome = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| self.train_and_serve(registry, name, &opts, job)));
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
            Ok(Err(e)) => job.finish("failed", |s| s.error = Some(e.to_string())),
            Err(_) => job.finish("failed", |s| s.error = Some("the training run panicked".into())),
        }
        let _ = std::fs::remove_dir_all(work_dir(&self.settings.models_dir, name));
        crate::model::runtime::release_freed_memory();
        let state = job.snapshot().state;
        crate::metrics::METRICS.reloads.with_label_values(&[name, if state == "done" { "trained" } else { "training_failed" }]).inc();
        tracing::info!(model = name, state = %state, seconds = job.started.elapsed().as_secs_f64(), "training run ended");
        *self.running.lock().unwrap_or_else(|e| e.into_inner()) = None;
    }

    fn train_and_serve(&self, registry: &Arc<Registry>, name: &str, opts: &TrainOptions, job: &Job) -> Result<(serde_json::Value, u64), TrainError> {
        // issue 25: serve's rayon pool is sized for text preparation; training gets its own pool of
        // opts.threads (the cores), as `parlance train` has.
        let pool = rayon::ThreadPoolBuilder::new().num_threads(opts.threads.max(1)).thread_name(|i| format!("parlance-train-{i}")).build();
        let summary = match pool {
            Ok(pool) => pool.install(|| crate::train::train(opts))?,
            Err(_) => crate::train::train(opts)?,
        };
        if let Some(stop) = job.watch.stopped() {
            return Err(stop);
        }
        *job.watch.stage.lock().unwrap_or_else(|e| e.into_inner()) = "loading";
        let target = self.settings.models_dir.join(name);
        replace_dir(&opts.out, &target).map_err(|e| TrainError::Write(format!("{}: {e}", target.display())))?;
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().map_err(|e| TrainError::Write(e.to_string()))?;
        let served = runtime.block_on(registry.add_or_reload(name, target)).map_err(|e| TrainError::Write(format!("the trained bundle was not served: {e}")))?;
        let mut value = serde_json::to_value(&summary).unwrap_or_default();
        if let Some(o) = value.as_object_mut() {
            o.remove("out");
        }
        Ok((value, served.generation))
    }
}

/// Puts folder `from` at `to`, replacing what was there: the old folder is moved aside first and
/// removed after, so `to` is never half-written.
fn replace_dir(from: &Path, to: &Path) -> std::io::Result<()> {
    let aside = to.with_file_name(format!(".old-{}", to.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()));
    let _ = std::fs::remove_dir_all(&aside);
    if to.exists() {
        std::fs::rename(to, &aside)?;
    }
    std::fs::rename(from, to)?;
    let _ = std::fs::remove_dir_all(&aside);
    Ok(())
}
