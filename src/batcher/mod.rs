//! Dynamic batching: a bounded queue in front of the inference worker(s).
//!
//! Requests put their token ids on the queue and wait on a one-shot reply. A worker blocks until
//! one job arrives, then takes whatever else is *already* waiting, up to `max_batch_size` items and
//! `max_batch_tokens` padded tokens, and runs them as one graph call. So an idle server runs a lone
//! request at once (no fixed wait), and a busy one batches more the busier it is. A full queue is
//! refused at once (`Overloaded`) rather than allowed to grow.

use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::Arc;
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use ndarray::{s, Array2};
use serde::Serialize;
use tokio::sync::oneshot;

use crate::model::engine::Model;
use crate::model::runtime::release_freed_memory;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchSettings {
    /// Most items in one graph run.
    pub max_batch_size: usize,
    /// Most padded tokens (items × longest item) in one graph run.
    pub max_batch_tokens: usize,
    /// Most items waiting; past this, requests are refused with 503.
    pub queue_capacity: usize,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings { max_batch_size: 32, max_batch_tokens: 2048, queue_capacity: 128 }
    }
}

/// What one item gets back from the graph.
#[derive(Debug)]
pub struct JobOutput {
    pub intent_logits: Vec<f32>,
    /// [its own tokens, slot labels]: the padding rows are already cut off.
    pub slot_logits: Array2<f32>,
    /// Time spent waiting in the queue.
    pub queued: Duration,
    /// Time of the graph run this item was part of.
    pub inference: Duration,
    /// Items in that graph run.
    pub batch_size: usize,
}

struct Job {
    ids: Vec<i64>,
    enqueued: Instant,
    reply: oneshot::Sender<Result<JobOutput, String>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overloaded;

/// Handle on the queue; cheap to clone. Workers stop when the last handle is dropped.
#[derive(Clone)]
pub struct Batcher {
    tx: Sender<Job>,
    depth: Arc<AtomicUsize>,
    settings: Arc<BatchSettings>,
}

impl Batcher {
    /// Starts one worker thread per model (each model is one ONNX Runtime session).
    /// `name` labels this queue's metrics (the model name).
    pub fn spawn(name: &str, models: Vec<Model>, settings: BatchSettings) -> Batcher {
        let (tx, rx) = crossbeam_channel::bounded::<Job>(settings.queue_capacity.max(1));
        let depth = Arc::new(AtomicUsize::new(0));
        let settings = Arc::new(settings);
        for (i, model) in models.into_iter().enumerate() {
            let rx = rx.clone();
            let depth = depth.clone();
            let settings = settings.clone();
            let name = name.to_string();
            std::thread::Builder::new()
                .name(format!("parlance-infer-{i}"))
                .spawn(move || worker(&name, model, rx, depth, settings))
                .expect("cannot start inference thread");
        }
        Batcher { tx, depth, settings }
    }

    /// Queues one item; the receiver yields its logits once its batch has run.
    pub fn submit(&self, ids: Vec<i64>) -> Result<oneshot::Receiver<Result<JobOutput, String>>, Overloaded> {
        let (reply, rx) = oneshot::channel();
        let job = Job { ids, enqueued: Instant::now(), reply };
        self.depth.fetch_add(1, Ordering::Relaxed);
        match self.tx.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                self.depth.fetch_sub(1, Ordering::Relaxed);
                Err(Overloaded)
            }
        }
    }

    /// Items waiting for a worker now.
    pub fn queue_depth(&self) -> usize {
        self.depth.load(Ordering::Relaxed)
    }

    pub fn settings(&self) -> &BatchSettings {
        &self.settings
    }
}

fn worker(name: &str, mut model: Model, rx: Receiver<Job>, depth: Arc<AtomicUsize>, settings: Arc<BatchSettings>) {
    let m = &crate::metrics::METRICS;
    let (gauge, sizes, times) = (
        m.queue_depth.with_label_values(&[name]),
        m.batch_size.with_label_values(&[name]),
        m.inference_seconds.with_label_values(&[name]),
    );
    let mut carried: Option<Job> = None;
    // Whether batches ran since memory was last handed back (see `IDLE_TRIM_AFTER`).
    let mut busy_since_trim = false;
    loop {
        let next = match carried.take() {
            Some(j) => Ok(j),
            None => next_job(&rx, &mut busy_since_trim),
        };
        let first = match next {
            Ok(j) => j,
            Err(_) => {
                // Every Batcher handle is gone (shutdown, or a reload replaced this model).
                drop(model);
                release_freed_memory();
                return;
            }
        };
        busy_since_trim = true;
        let mut longest = first.ids.len().max(1);
        let mut batch = vec![first];
        while batch.len() < settings.max_batch_size {
            let Ok(job) = rx.try_recv() else { break };
            let widened = longest.max(job.ids.len());
            if widened * (batch.len() + 1) > settings.max_batch_tokens {
                carried = Some(job); // first in the next batch, so order is kept
                break;
            }
            longest = widened;
            batch.push(job);
        }
        let left = depth.fetch_sub(batch.len(), Ordering::Relaxed) - batch.len();
        gauge.set(left as i64);
        sizes.observe(batch.len() as f64);
        let started = Instant::now();
        run_batch(&mut model, batch);
        times.observe(started.elapsed().as_secs_f64());
    }
}

fn run_batch(model: &mut Model, batch: Vec<Job>) {
    // Clients that gave up (timeout, disconnect) are skipped rather than computed.
    let batch: Vec<Job> = batch.into_iter().filter(|j| !j.reply.is_closed()).collect();
    if batch.is_empty() {
        return;
    }
    let started = Instant::now();
    let inputs: Vec<Vec<i64>> = batch.iter().map(|j| j.ids.clone()).collect();
    // A panic inside the runtime must not take the worker (and so the whole service) down.
    let result = std::panic::catch_unwind(AssertUnwindSafe(|| model.run(&inputs)))
        .unwrap_or_else(|_| Err("inference panicked".to_string()));
    let inference = started.elapsed();
    let n = batch.len();
    match result {
        Ok(out) => {
            for (r, job) in batch.into_iter().enumerate() {
                let len = job.ids.len();
                let output = JobOutput {
                    intent_logits: out.intent_logits.row(r).to_vec(),
                    slot_logits: out.slot_logits.slice(s![r, ..len, ..]).to_owned(),
                    queued: started.duration_since(job.enqueued),
                    inference,
                    batch_size: n,
                };
                let _ = job.reply.send(Ok(output));
            }
        }
        Err(e) => {
            tracing::error!(error = %e, batch = n, "graph run failed");
            for job in batch {
                let _ = job.reply.send(Err(e.clone()));
            }
        }
    }
}

/// How long a worker waits idle after a burst before it hands freed memory back to the OS.
pub const IDLE_TRIM_AFTER: Duration = Duration::from_secs(2);

/// The next job; a worker that has run batches and then finds nothing for [`IDLE_TRIM_AFTER`]
/// trims the heap once before it waits on. Burst buffers (tokenised batches, outputs, the
/// HTTP bodies of thousands of requests) are freed after the burst but kept by glibc's arenas:
/// without this, the resident size stayed at its burst peak while idle.
fn next_job(rx: &Receiver<Job>, busy_since_trim: &mut bool) -> Result<Job, crossbeam_channel::RecvError> {
    if *busy_since_trim {
        match rx.recv_timeout(IDLE_TRIM_AFTER) {
            Ok(j) => return Ok(j),
            Err(crossbeam_channel::RecvTimeoutError::Disconnected) => return Err(crossbeam_channel::RecvError),
            Err(crossbeam_channel::RecvTimeoutError::Timeout) => {
                release_freed_memory();
                *busy_since_trim = false;
            }
        }
    }
    rx.recv()
}
