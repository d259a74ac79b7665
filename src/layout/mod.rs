//! How the server spreads itself over the machine (issue 25): the cores it may use (CPU affinity
//! and the container's cgroup CPU quota), and the layout chosen from them when the flags leave it
//! open: inference workers, their ONNX Runtime intra-op threads, a latency lane, HTTP workers and
//! rayon's tokenising threads.
//!
//! The measurements behind the defaults (docs/performance.md, "Layout"): this graph gains little
//! from intra-op threads under load (16 cores: 16 sessions × 1 thread served 2,315 req/s against
//! 336 for 1 session × 16 threads), so throughput comes from one single-thread session per core.
//! A lone request is faster on several threads, so one worker also holds a wide session (the
//! latency lane) that it uses only while every other worker is idle: its extra threads then run
//! on cores nobody else is using.

use std::path::Path;
use std::sync::OnceLock;

use serde::Serialize;

/// Where each part of the layout came from.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, utoipa::ToSchema)]
#[serde(rename_all = "snake_case")]
pub enum Origin {
    /// Derived from the usable cores.
    Machine,
    /// Set by a flag (or its environment variable).
    Flag,
}

/// The threads the server runs with.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct Layout {
    /// Cores this process may use: CPU affinity, capped by the cgroup CPU quota.
    pub cores: usize,
    /// Inference workers, each with its own ONNX Runtime session.
    pub inference_workers: usize,
    /// Intra-op threads of each worker's session.
    pub intra_threads: usize,
    /// Intra-op threads of the latency lane: a wider session one worker uses while the others are
    /// idle (0 = no lane).
    pub lane_threads: usize,
    /// actix-web worker threads (JSON, routing; they wait on the model without a thread).
    pub http_workers: usize,
    /// rayon threads (normalising, language identification, tokenising, rule entities).
    pub rayon_threads: usize,
    /// Whether each count came from the machine or a flag.
    pub origin: LayoutOrigin,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, utoipa::ToSchema)]
pub struct LayoutOrigin {
    pub inference_workers: Origin,
    pub intra_threads: Origin,
    pub lane_threads: Origin,
    pub http_workers: Origin,
}

/// What the flags ask for; `None` leaves it to the machine.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
pub struct LayoutFlags {
    pub inference_workers: Option<usize>,
    pub intra_threads: Option<usize>,
    pub lane_threads: Option<usize>,
    pub http_workers: Option<usize>,
}

/// Widest latency lane chosen by default: on 16 cores 4 threads gave 6.58 ms at c=1 and 16
/// threads 6.26 ms (issue 25's table), so wider lanes buy little and spin more cores.
pub const MAX_LANE_THREADS: usize = 8;

/// Front threads (HTTP and rayon) per this many cores: a parse's front work is ~0.1–0.3 ms against
/// 3–8 ms of graph, so one of each serves well over a thousand requests a second.
const CORES_PER_FRONT_THREAD: usize = 8;

fn origin(flag: Option<usize>) -> Origin {
    if flag.is_some() {
        Origin::Flag
    } else {
        Origin::Machine
    }
}

impl Layout {
    /// The layout for `cores` usable cores, the flags given overriding the machine's choice.
    ///
    /// Machine defaults: one single-thread session per core (ONNX Runtime threads = cores), a
    /// latency lane of min(cores, 8) threads on worker 0 (used only while the others are idle, so
    /// it borrows idle cores), one HTTP worker and one rayon thread per 8 cores (at least one).
    /// When the flags set workers (or threads) only, the other follows so that workers × threads =
    /// cores, as before this module.
    pub fn choose(cores: usize, flags: LayoutFlags) -> Layout {
        let cores = cores.max(1);
        let (workers, intra) = match (flags.inference_workers, flags.intra_threads) {
            (Some(w), Some(t)) => (w.max(1), t.max(1)),
            (Some(w), None) => (w.max(1), (cores / w.max(1)).max(1)),
            (None, Some(t)) => ((cores / t.max(1)).max(1), t.max(1)),
            (None, None) => (cores, 1),
        };
        // A lane only pays when a worker alone has fewer threads than the machine has cores.
        let lane = flags.lane_threads.unwrap_or(if intra < cores { cores.min(MAX_LANE_THREADS) } else { 0 });
        let lane = if lane <= intra { 0 } else { lane };
        let front = cores.div_ceil(CORES_PER_FRONT_THREAD).max(1);
        Layout {
            cores,
            inference_workers: workers,
            intra_threads: intra,
            lane_threads: lane,
            http_workers: flags.http_workers.unwrap_or(front).max(1),
            rayon_threads: front,
            origin: LayoutOrigin {
                inference_workers: origin(flags.inference_workers),
                intra_threads: origin(flags.intra_threads),
                lane_threads: origin(flags.lane_threads),
                http_workers: origin(flags.http_workers),
            },
        }
    }

    /// ONNX Runtime threads of the workers' own sessions (the lane's run only on idle cores).
    pub fn onnx_threads(&self) -> usize {
        self.inference_workers * self.intra_threads
    }
}

/// Most texts in one graph run when `--max-batch-size` is not given: 8 for single-thread
/// sessions (on one thread, MASSIVE dev in batches of 1/4/8/16 ran at 215/230/234/204 texts/s:
/// padding outweighs the gain past 8; docs/performance.md, "Batching per core"), else 32.
pub fn default_max_batch(intra_threads: usize) -> usize {
    if intra_threads <= 1 {
        8
    } else {
        32
    }
}

impl Layout {
    /// One line for the log.
    pub fn describe(&self) -> String {
        let lane = if self.lane_threads > 0 { format!(", latency lane {} threads", self.lane_threads) } else { String::new() };
        format!(
            "{} cores: {} inference workers × {} intra-op thread(s){lane}, {} HTTP worker(s), {} rayon thread(s)",
            self.cores, self.inference_workers, self.intra_threads, self.http_workers, self.rayon_threads
        )
    }
}

static IN_FORCE: OnceLock<Layout> = OnceLock::new();

/// Records the layout `serve` runs with (for `/v1/model` and `/metrics`), sizes rayon's global
/// pool to it and exports it as the `parlance_layout_threads` gauge. The first call wins.
pub fn put_in_force(layout: &Layout) {
    if IN_FORCE.set(layout.clone()).is_err() {
        return;
    }
    // Fails only when the global pool was already started; it then keeps its size.
    let _ = rayon::ThreadPoolBuilder::new().num_threads(layout.rayon_threads).thread_name(|i| format!("parlance-prep-{i}")).build_global();
    let gauge = prometheus::register_int_gauge_vec_with_registry!(
        "layout_threads",
        "The layout in force: usable cores and the threads of each part",
        &["part"],
        crate::metrics::METRICS.registry
    );
    if let Ok(g) = gauge {
        for (part, n) in [
            ("cores", layout.cores),
            ("inference_workers", layout.inference_workers),
            ("intra_threads", layout.intra_threads),
            ("lane_threads", layout.lane_threads),
            ("http_workers", layout.http_workers),
            ("rayon_threads", layout.rayon_threads),
        ] {
            g.with_label_values(&[part]).set(n as i64);
        }
    }
}

/// `put_in_force`, and the layout logged; gives it back.
pub fn announce(layout: &Layout) -> &Layout {
    put_in_force(layout);
    tracing::info!(layout = %layout.describe(), from_flags = ?layout.origin.flagged(), "layout");
    layout
}

impl LayoutOrigin {
    /// The parts set by flags.
    pub fn flagged(&self) -> Vec<&'static str> {
        let parts = [
            ("inference_workers", self.inference_workers),
            ("intra_threads", self.intra_threads),
            ("lane_threads", self.lane_threads),
            ("http_workers", self.http_workers),
        ];
        parts.iter().filter(|(_, o)| *o == Origin::Flag).map(|(p, _)| *p).collect()
    }
}

/// The layout `serve` runs with, once set.
pub fn in_force() -> Option<&'static Layout> {
    IN_FORCE.get()
}

/// Cores this process may use: the CPUs of its affinity mask (`sched_getaffinity`, as
/// `taskset` sets it), capped by the cgroup CPU quota of its container, rounded up.
pub fn usable_cores() -> usize {
    let affinity = affinity_cores().or_else(|| std::thread::available_parallelism().ok().map(|n| n.get())).unwrap_or(1);
    match cgroup_quota(Path::new("/sys/fs/cgroup"), &own_cgroup_paths()) {
        Some(q) => affinity.min(q).max(1),
        None => affinity.max(1),
    }
}

fn affinity_cores() -> Option<usize> {
    #[cfg(target_os = "linux")]
    // SAFETY: `set` is a plain bit set the kernel fills; CPU_COUNT only reads it.
    unsafe {
        let mut set: libc::cpu_set_t = std::mem::zeroed();
        if libc::sched_getaffinity(0, std::mem::size_of::<libc::cpu_set_t>(), &mut set) == 0 {
            let n = libc::CPU_COUNT(&set);
            if n > 0 {
                return Some(n as usize);
            }
        }
    }
    None
}

/// This process's cgroup paths from /proc/self/cgroup: (controllers, path) per line.
fn own_cgroup_paths() -> Vec<(String, String)> {
    std::fs::read_to_string("/proc/self/cgroup").map(|s| parse_proc_cgroup(&s)).unwrap_or_default()
}

fn parse_proc_cgroup(text: &str) -> Vec<(String, String)> {
    text.lines()
        .filter_map(|l| {
            let mut parts = l.splitn(3, ':');
            let (_, controllers, path) = (parts.next()?, parts.next()?, parts.next()?);
            Some((controllers.to_string(), path.to_string()))
        })
        .collect()
}

/// The tightest CPU quota over the process's cgroup and its parents, in whole cores (rounded up):
/// cgroup v2 `cpu.max` ("max 100000" or "200000 100000"), else v1 `cpu.cfs_quota_us` /
/// `cpu.cfs_period_us`. `None` without a quota.
pub fn cgroup_quota(root: &Path, own: &[(String, String)]) -> Option<usize> {
    let mut best: Option<usize> = None;
    let mut keep = |q: Option<usize>| {
        if let Some(q) = q {
            best = Some(best.map_or(q, |b| b.min(q)));
        }
    };
    for (controllers, path) in own {
        let rel = path.trim_start_matches('/');
        let v1 = controllers.split(',').any(|c| c == "cpu");
        let base = if controllers.is_empty() {
            root.to_path_buf()
        } else if v1 {
            cpu_v1_root(root)
        } else {
            continue;
        };
        // the cgroup itself and each parent up to the mount root
        let mut dir = base.join(rel);
        loop {
            keep(if controllers.is_empty() { read_v2(&dir) } else { read_v1(&dir) });
            if dir == base || !dir.pop() || !dir.starts_with(&base) {
                break;
            }
        }
    }
    best
}

fn cpu_v1_root(root: &Path) -> std::path::PathBuf {
    ["cpu,cpuacct", "cpu", "cpuacct,cpu"].iter().map(|d| root.join(d)).find(|d| d.is_dir()).unwrap_or_else(|| root.join("cpu"))
}

fn read_v2(dir: &Path) -> Option<usize> {
    parse_cpu_max(&std::fs::read_to_string(dir.join("cpu.max")).ok()?)
}

fn read_v1(dir: &Path) -> Option<usize> {
    let quota: i64 = std::fs::read_to_string(dir.join("cpu.cfs_quota_us")).ok()?.trim().parse().ok()?;
    let period: i64 = std::fs::read_to_string(dir.join("cpu.cfs_period_us")).ok()?.trim().parse().ok()?;
    quota_cores(quota, period)
}

/// cgroup v2 `cpu.max`: "$MAX $PERIOD", MAX being "max" without a quota.
pub fn parse_cpu_max(text: &str) -> Option<usize> {
    let mut it = text.split_whitespace();
    let quota = it.next()?;
    let period: i64 = it.next().map_or(Some(100_000), |p| p.parse().ok())?;
    if quota == "max" {
        return None;
    }
    quota_cores(quota.parse().ok()?, period)
}

fn quota_cores(quota: i64, period: i64) -> Option<usize> {
    if quota <= 0 || period <= 0 {
        return None;
    }
    Some(((quota + period - 1) / period).max(1) as usize)
}

#[cfg(test)]
mod tests;
