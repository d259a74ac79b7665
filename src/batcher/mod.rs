//! Dynamic batching: a bounded queue in front of the inference worker(s).
//!
//! Requests put their token ids on the queue and wait on a one-shot reply. A worker blocks until
//! one job arrives, then takes whatever else is *already* waiting, up to `max_batch_size` items and
//! `max_batch_tokens` padded tokens, and runs them as one graph call. So an idle server runs a lone
//! request at once (no fixed wait), and a busy one batches more the busier it is. When every
//! worker is busy (a deep queue), a worker looks at up to [`LOOK_AHEAD`] batches' worth of waiting
//! jobs and runs the oldest with those closest to it in length ([`take_batch`]): less padding. A full queue is
//! refused at once (`Overloaded`) rather than allowed to grow.
//!
//! With a latency lane (`crate::layout`), worker 0 also holds a wider session: a request that
//! finds it idle is handed to it directly, and it runs on the wide session while no other worker
//! is busy (its extra threads then use idle cores), on its own single-thread session otherwise.
//!
//! Bots trained on the same encoder share one queue ([`Batcher::shared`]): their requests run as
//! one encoder batch, and each job's own heads then run on its row.

use std::collections::{HashMap, VecDeque};
use std::panic::AssertUnwindSafe;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};
use std::time::{Duration, Instant};

use crossbeam_channel::{Receiver, Sender, TrySendError};
use ndarray::Array2;
use serde::Serialize;
use tokio::sync::oneshot;

use crate::model::engine::{Model, RowOutput};
use crate::model::heads::Heads;
use crate::model::runtime::release_freed_memory;
use crate::model::RunError;

#[derive(Debug, Clone, Serialize, utoipa::ToSchema)]
pub struct BatchSettings {
    /// Most items in one graph run.
    pub max_batch_size: usize,
    /// Most padded tokens (items × longest item) in one graph run.
    pub max_batch_tokens: usize,
    /// Most items waiting; past this, requests are refused with 503.
    pub queue_capacity: usize,
    /// Bots trained on one encoder share one queue and run in shared encoder batches (else each
    /// has its own queue on the shared encoder session).
    pub share_encoder_queue: bool,
}

impl Default for BatchSettings {
    fn default() -> Self {
        BatchSettings { max_batch_size: 32, max_batch_tokens: 2048, queue_capacity: 128, share_encoder_queue: true }
    }
}

/// What one item gets back from the graph.
#[derive(Debug)]
pub struct JobOutput {
    pub intent_logits: Vec<f32>,
    /// [its own tokens, slot labels]: the padding rows are already cut off.
    pub slot_logits: Array2<f32>,
    /// The cosine to the nearest intent's mean (a bot whose heads have them).
    pub similarity: Option<f32>,
    /// Time spent waiting in the queue.
    pub queued: Duration,
    /// Time of the graph run this item was part of.
    pub inference: Duration,
    /// Items in that graph run.
    pub batch_size: usize,
}

struct Job {
    ids: Vec<i64>,
    /// The bot's heads, for a job on a shared encoder queue.
    heads: Option<Arc<Heads>>,
    enqueued: Instant,
    reply: oneshot::Sender<Result<JobOutput, RunError>>,
}

#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Overloaded;

/// Handle on the queue; cheap to clone. Workers stop when the last handle is dropped.
#[derive(Clone)]
pub struct Batcher(Arc<Queue>);

struct Queue {
    tx: Sender<Job>,
    depth: Arc<AtomicUsize>,
    settings: Arc<BatchSettings>,
    lane: Option<LaneDoor>,
}

/// The way into the latency lane: a request that finds the lane worker idle goes straight to it.
struct LaneDoor {
    tx: Sender<Job>,
    idle: Arc<AtomicBool>,
}

/// What the lane worker holds besides its own session.
struct Lane {
    wide: Model,
    rx: Receiver<Job>,
    idle: Arc<AtomicBool>,
}

/// Queues shared by the bots of one encoder: key (encoder session, batch settings).
static SHARED: OnceLock<Mutex<HashMap<String, Weak<Queue>>>> = OnceLock::new();

/// How many times `max_batch_size` jobs a worker looks at to choose a batch from.
pub const LOOK_AHEAD: usize = 4;

/// The jobs one batch takes from `pending` (oldest first): always the oldest, then, among the
/// others, those closest to it in length, while the batch has at most `max_batch_size` items and
/// `max_batch_tokens` padded tokens (items × the longest). Runs of similar lengths pad less: on
/// one thread, MASSIVE dev in batches of 8 ran 1.23× faster sorted by length within windows of 32
/// than in arrival order (docs/performance.md, "Batching per core"). The rest stays in `pending`,
/// in arrival order; since every batch takes the oldest, a job waits for at most the jobs older
/// than it.
pub fn take_batch<J>(pending: &mut VecDeque<J>, len: impl Fn(&J) -> usize, settings: &BatchSettings) -> Vec<J> {
    let lens: Vec<usize> = pending.iter().map(|j| len(j).max(1)).collect();
    let mut order: Vec<usize> = (0..lens.len()).collect();
    order.sort_by_key(|&i| (lens[i], i));
    let Some(at) = order.iter().position(|&i| i == 0) else { return Vec::new() };
    // a window of the length-sorted jobs around the oldest, grown towards the closer neighbour
    let (mut lo, mut hi) = (at, at);
    while hi - lo + 1 < settings.max_batch_size {
        let below = lo.checked_sub(1).map(|l| (lens[0] - lens[order[l]], l));
        let above = (hi + 1 < order.len()).then(|| (lens[order[hi + 1]] - lens[0], hi + 1));
        let grow = match (below, above) {
            (Some(b), Some(a)) => b.min(a).1, // the closer length; the shorter on a tie
            (Some(b), None) => b.1,
            (None, Some(a)) => a.1,
            (None, None) => break,
        };
        let (l, h) = (lo.min(grow), hi.max(grow));
        if lens[order[h]] * (h - l + 1) > settings.max_batch_tokens {
            break;
        }
        (lo, hi) = (l, h);
    }
    let mut chosen = vec![false; lens.len()];
    order[lo..=hi].iter().for_each(|&i| chosen[i] = true);
    let mut batch = Vec::with_capacity(hi - lo + 1);
    let mut rest = VecDeque::with_capacity(lens.len() - batch.capacity());
    for (i, job) in pending.drain(..).enumerate() {
        if chosen[i] {
            batch.push(job)
        } else {
            rest.push_back(job)
        }
    }
    *pending = rest;
    batch
}

impl Batcher {
    /// Starts one worker thread per model (each model is one ONNX Runtime session).
    /// `name` labels this queue's metrics (the model name).
    pub fn spawn(name: &str, models: Vec<Model>, settings: BatchSettings) -> Batcher {
        Batcher(Arc::new(Queue::spawn(name, models, None, settings)))
    }

    /// As `spawn`, with a latency lane: `wide` (a session with more intra-op threads) goes to
    /// worker 0, which runs on it while the other workers are idle.
    pub fn spawn_with_lane(name: &str, models: Vec<Model>, wide: Option<Model>, settings: BatchSettings) -> Batcher {
        Batcher(Arc::new(Queue::spawn(name, models, wide, settings)))
    }

    /// The queue of every bot on the encoder `key` names (with these settings): started with
    /// `models` (encoder-only, one per worker) by the first bot, shared while any bot holds it.
    pub fn shared(key: &str, name: &str, models: impl FnOnce() -> (Vec<Model>, Option<Model>), settings: BatchSettings) -> Batcher {
        let map = SHARED.get_or_init(Default::default);
        let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
        let key = format!("{key} {settings:?}");
        if let Some(q) = map.get(&key).and_then(Weak::upgrade) {
            return Batcher(q);
        }
        map.retain(|_, w| w.strong_count() > 0);
        let (models, wide) = models();
        let q = Arc::new(Queue::spawn(name, models, wide, settings));
        map.insert(key, Arc::downgrade(&q));
        Batcher(q)
    }

    /// Queues one item; the receiver yields its logits once its batch has run.
    pub fn submit(&self, ids: Vec<i64>) -> Result<oneshot::Receiver<Result<JobOutput, RunError>>, Overloaded> {
        self.submit_with(ids, None)
    }

    /// Queues one item with the heads of its bot (on a shared encoder queue).
    pub fn submit_with(&self, ids: Vec<i64>, heads: Option<Arc<Heads>>) -> Result<oneshot::Receiver<Result<JobOutput, RunError>>, Overloaded> {
        let q = &self.0;
        let (reply, rx) = oneshot::channel();
        let mut job = Job { ids, heads, enqueued: Instant::now(), reply };
        // the bound is on every job not yet in a batch: in the channel, or held by a worker that
        // looks ahead to choose its batch (`take_batch`)
        if q.depth.fetch_add(1, Ordering::AcqRel) >= q.settings.queue_capacity.max(1) {
            q.depth.fetch_sub(1, Ordering::AcqRel);
            return Err(Overloaded);
        }
        if let Some(lane) = q.lane.as_ref().filter(|l| l.idle.swap(false, Ordering::AcqRel)) {
            match lane.tx.try_send(job) {
                Ok(()) => return Ok(rx),
                Err(e) => job = e.into_inner(),
            }
        }
        match q.tx.try_send(job) {
            Ok(()) => Ok(rx),
            Err(TrySendError::Full(_)) | Err(TrySendError::Disconnected(_)) => {
                q.depth.fetch_sub(1, Ordering::Relaxed);
                Err(Overloaded)
            }
        }
    }

    /// Items waiting for a worker now.
    pub fn queue_depth(&self) -> usize {
        self.0.depth.load(Ordering::Relaxed)
    }

    pub fn settings(&self) -> &BatchSettings {
        &self.0.settings
    }

    /// Whether two handles are on the same queue.
    pub fn same_queue(&self, other: &Batcher) -> bool {
        Arc::ptr_eq(&self.0, &other.0)
    }
}

impl Queue {
    fn spawn(name: &str, models: Vec<Model>, wide: Option<Model>, settings: BatchSettings) -> Queue {
        let (tx, rx) = crossbeam_channel::bounded::<Job>(settings.queue_capacity.max(1));
        let depth = Arc::new(AtomicUsize::new(0));
        let busy = Arc::new(AtomicUsize::new(0));
        let settings = Arc::new(settings);
        let (mut lane, mut door) = (None, None);
        if let Some(wide) = wide {
            let (ltx, lrx) = crossbeam_channel::bounded::<Job>(1);
            let idle = Arc::new(AtomicBool::new(false));
            lane = Some(Lane { wide, rx: lrx, idle: idle.clone() });
            door = Some(LaneDoor { tx: ltx, idle });
        }
        let workers = models.len();
        for (i, model) in models.into_iter().enumerate() {
            let shared = Shared { rx: rx.clone(), depth: depth.clone(), busy: busy.clone(), settings: settings.clone(), workers };
            let name = name.to_string();
            let lane = lane.take();
            std::thread::Builder::new()
                .name(format!("parlance-infer-{i}"))
                .spawn(move || worker(&name, model, lane, shared))
                .expect("cannot start inference thread");
        }
        Queue { tx, depth, settings, lane: door }
    }
}

/// What the workers of one queue share.
struct Shared {
    rx: Receiver<Job>,
    depth: Arc<AtomicUsize>,
    /// Workers running a batch now.
    busy: Arc<AtomicUsize>,
    settings: Arc<BatchSettings>,
    /// Workers on this queue.
    workers: usize,
}

fn worker(name: &str, mut model: Model, mut lane: Option<Lane>, shared: Shared) {
    let Shared { rx, depth, busy, settings, workers } = shared;
    let m = &crate::metrics::METRICS;
    let (gauge, sizes, times) =
        (m.queue_depth.with_label_values(&[name]), m.batch_size.with_label_values(&[name]), m.inference_seconds.with_label_values(&[name]));
    // Jobs taken from the queue that no batch has run yet, oldest first (see `take_batch`).
    let mut pending: VecDeque<Job> = VecDeque::new();
    // Whether batches ran since memory was last handed back (see `IDLE_TRIM_AFTER`).
    let mut busy_since_trim = false;
    loop {
        if pending.is_empty() {
            match next_job(&rx, lane.as_ref(), &mut busy_since_trim) {
                Ok(j) => pending.push_back(j),
                Err(_) => {
                    // Every Batcher handle is gone (shutdown, or a reload replaced this model).
                    drop(model);
                    drop(lane);
                    release_freed_memory();
                    return;
                }
            }
        }
        busy_since_trim = true;
        // what else is already waiting, never a wait for more: up to the look-ahead while every
        // other worker is busy (the queue is then deep), one batch's worth otherwise, so that
        // jobs held here are not kept from a worker that is idle
        let lane_rx = lane.as_ref().map(|l| &l.rx);
        let ahead = if busy.load(Ordering::Acquire) + 1 >= workers { LOOK_AHEAD } else { 1 };
        while pending.len() < settings.max_batch_size * ahead {
            match lane_rx.and_then(|r| r.try_recv().ok()).or_else(|| rx.try_recv().ok()) {
                Some(j) => pending.push_back(j),
                None => break,
            }
        }
        let batch = take_batch(&mut pending, |j: &Job| j.ids.len(), &settings);
        let left = depth.fetch_sub(batch.len(), Ordering::Relaxed) - batch.len();
        gauge.set(left as i64);
        sizes.observe(batch.len() as f64);
        let started = Instant::now();
        // The lane's wide session only while no other worker runs: its threads then take idle cores.
        let others = busy.fetch_add(1, Ordering::AcqRel);
        match lane.as_mut() {
            Some(l) if others == 0 => run_batch(&mut l.wide, batch),
            _ => run_batch(&mut model, batch),
        }
        busy.fetch_sub(1, Ordering::AcqRel);
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
    let heads: Vec<Option<Arc<Heads>>> = batch.iter().map(|j| j.heads.clone()).collect();
    // A panic inside the runtime must not take the worker (and so the whole service) down.
    let result: Result<Vec<RowOutput>, RunError> =
        std::panic::catch_unwind(AssertUnwindSafe(|| model.run_rows(&inputs, &heads))).unwrap_or_else(|_| Err(RunError::Panicked));
    let inference = started.elapsed();
    let n = batch.len();
    match result {
        Ok(rows) => {
            for (job, RowOutput { intent_logits, slot_logits, similarity }) in batch.into_iter().zip(rows) {
                let queued = started.duration_since(job.enqueued);
                let output = JobOutput { intent_logits, slot_logits, similarity, queued, inference, batch_size: n };
                let _ = job.reply.send(Ok(output));
            }
        }
        Err(e) => {
            tracing::error!(error = %crate::errors::chain(&e), batch = n, "graph run failed");
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
/// The lane worker waits on the lane's door as well as on the queue, and marks itself idle while
/// it waits so that the next request comes straight to it.
fn next_job(rx: &Receiver<Job>, lane: Option<&Lane>, busy_since_trim: &mut bool) -> Result<Job, crossbeam_channel::RecvError> {
    let mut select = crossbeam_channel::Select::new();
    select.recv(rx);
    if let Some(l) = lane {
        select.recv(&l.rx);
        l.idle.store(true, Ordering::Release);
    }
    let op = match busy_since_trim {
        true => match select.select_timeout(IDLE_TRIM_AFTER) {
            Ok(op) => op,
            Err(_) => {
                release_freed_memory();
                *busy_since_trim = false;
                select.select()
            }
        },
        false => select.select(),
    };
    let job = match (op.index(), lane) {
        (1, Some(l)) => op.recv(&l.rx),
        _ => op.recv(rx),
    };
    if let Some(l) = lane {
        l.idle.store(false, Ordering::Release);
    }
    job
}

#[cfg(test)]
mod tests {
    use super::*;

    /// Batches taken from a queue of jobs of these lengths: (lengths of each batch), the whole
    /// queue in view (as under load).
    fn batches(lengths: &[usize], settings: &BatchSettings) -> Vec<Vec<usize>> {
        let mut pending: VecDeque<(usize, usize)> = lengths.iter().copied().enumerate().collect();
        let mut out = Vec::new();
        while !pending.is_empty() {
            let oldest = pending[0].0;
            let batch = take_batch(&mut pending, |j| j.1, settings);
            assert!(batch.iter().any(|j| j.0 == oldest), "every batch runs the oldest job");
            out.push(batch.into_iter().map(|j| j.1).collect());
        }
        out
    }

    #[test]
    fn batches_are_bounded_by_count_and_padded_tokens_and_group_similar_lengths() {
        let s = BatchSettings { max_batch_size: 3, max_batch_tokens: 40, queue_capacity: 8, share_encoder_queue: true };
        // count bound
        assert_eq!(batches(&[5, 5, 5, 5, 5], &s), vec![vec![5, 5, 5], vec![5, 5]]);
        // token bound: 3 × 20 = 60 > 40 padded tokens
        assert_eq!(batches(&[10, 10, 20, 10], &s), vec![vec![10, 10, 10], vec![20]]);
        // a job longer than the token bound still runs, alone
        assert_eq!(batches(&[50, 2], &s), vec![vec![50], vec![2]]);
        // nothing waiting: a lone job runs at once
        assert_eq!(batches(&[7], &s), vec![vec![7]]);
        // similar lengths run together, the oldest's first; the rest keep their arrival order
        assert_eq!(batches(&[3, 12, 4, 11, 3, 13], &s), vec![vec![3, 4, 3], vec![12, 11, 13]]);
        let mut pending: VecDeque<usize> = [9, 2, 8, 30, 1, 10].into_iter().collect();
        let first = take_batch(&mut pending, |&l| l, &s);
        assert_eq!((first, pending.iter().copied().collect::<Vec<_>>()), (vec![9, 8, 10], vec![2, 30, 1]));
        // every job runs once
        let mut all: Vec<usize> = batches(&[3, 9, 30, 1, 1, 12, 7, 7, 2], &s).into_iter().flatten().collect();
        all.sort_unstable();
        assert_eq!(all, [1, 1, 2, 3, 7, 7, 9, 12, 30]);
    }
}
