//! `parlance bench`: an HTTP load generator for Parlance (or any server taking `{"text": ...}`).
//!
//! Two ways to load a server:
//! - closed loop: N clients, each sends its next request when the last one is answered. Good for
//!   saturated throughput; it hides queueing delay (a slow server slows the clients down).
//! - open loop: requests start on a fixed schedule, whether or not earlier ones are answered. That
//!   avoids coordinated omission: a stalled server does not slow the sender down, so the stall shows
//!   up in the percentiles instead of silently lowering the request rate. Latency is timed from the
//!   moment a request is sent; how late the sender itself was against its schedule (timer
//!   granularity, a busy client) is reported apart as `send_lag`, so a client that cannot keep up
//!   is visible rather than charged to the server.
//!
//! Latencies go into an HDR histogram (microseconds, 3 significant digits). Targets are loopback
//! unless `--allow-remote` is given.

use std::cell::{Cell, RefCell};
use std::collections::BTreeMap;
use std::io::Write;
use std::path::Path;
use std::rc::Rc;
use std::time::{Duration, Instant};

use hdrhistogram::Histogram;
use serde::Serialize;

#[derive(Debug, Clone, Copy, Serialize)]
#[serde(rename_all = "snake_case", tag = "mode")]
pub enum Mode {
    Closed { concurrency: usize },
    Open { rate: f64 },
}

#[derive(Debug, Clone)]
pub struct LoadConfig {
    /// What the report names (the endpoints, space-separated).
    pub url: String,
    /// The endpoints, in turn: request i goes to `urls[i % len]`.
    pub urls: Vec<String>,
    pub texts: Vec<String>,
    pub mode: Mode,
    pub duration: Duration,
    pub max_requests: Option<u64>,
    pub timeout: Duration,
    /// Redraw a progress line on stderr once a second.
    pub progress: bool,
    /// Sent as `Authorization: Bearer KEY` (a server started with API keys).
    pub api_key: Option<String>,
}

#[derive(Debug, Clone, Serialize)]
pub struct Latency {
    pub p50_ms: f64,
    pub p90_ms: f64,
    pub p99_ms: f64,
    pub p999_ms: f64,
    pub max_ms: f64,
    pub mean_ms: f64,
}

#[derive(Debug, Clone, Serialize)]
pub struct LoadReport {
    pub url: String,
    #[serde(flatten)]
    pub mode: Mode,
    pub seconds: f64,
    pub requests: u64,
    pub ok: u64,
    /// Failed requests by kind: `http_503`, `timeout`, `connect`, `backlog` (open loop only: the
    /// client itself could not keep up), ...
    pub errors: BTreeMap<String, u64>,
    /// Successful responses per second.
    pub throughput_rps: f64,
    /// Latency of successful requests.
    pub latency: Latency,
    /// Open loop: how late requests were sent against their schedule (p50, p99, max), in ms.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub send_lag_ms: Option<[f64; 3]>,
}

/// Utterances to send: MASSIVE jsonl (`utt` field) or plain text, one a line.
pub fn read_texts(path: &Path) -> anyhow::Result<Vec<String>> {
    let content = std::fs::read_to_string(path).map_err(|e| anyhow::anyhow!("cannot read {}: {e}", path.display()))?;
    let texts: Vec<String> = content
        .lines()
        .filter(|l| !l.trim().is_empty())
        .map(|l| match serde_json::from_str::<serde_json::Value>(l) {
            Ok(v) if v.get("utt").is_some_and(|u| u.is_string()) => v["utt"].as_str().unwrap_or_default().to_string(),
            _ => l.to_string(),
        })
        .collect();
    anyhow::ensure!(!texts.is_empty(), "{} holds no text", path.display());
    Ok(texts)
}

/// Refuses targets off this machine unless explicitly allowed.
pub fn check_target(url: &str, allow_remote: bool) -> anyhow::Result<()> {
    let rest = url.strip_prefix("http://").ok_or_else(|| anyhow::anyhow!("only http:// URLs are supported: {url}"))?;
    let authority = rest.split('/').next().unwrap_or_default();
    let host = if let Some(v6) = authority.strip_prefix('[') {
        v6.split(']').next().unwrap_or_default()
    } else {
        authority.rsplit_once(':').map(|(h, _)| h).unwrap_or(authority)
    };
    let loopback = host == "localhost" || host.parse::<std::net::IpAddr>().is_ok_and(|ip| ip.is_loopback());
    anyhow::ensure!(loopback || allow_remote, "{host} is not a loopback address; pass --allow-remote to load it");
    Ok(())
}

struct Shared {
    hist: RefCell<Histogram<u64>>,
    lag: RefCell<Histogram<u64>>,
    errors: RefCell<BTreeMap<String, u64>>,
    sent: Cell<u64>,
    ok: Cell<u64>,
    in_flight: Cell<usize>,
}

impl Shared {
    fn new() -> Rc<Shared> {
        Rc::new(Shared {
            hist: RefCell::new(Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds")),
            lag: RefCell::new(Histogram::new_with_bounds(1, 120_000_000, 3).expect("valid bounds")),
            errors: RefCell::new(BTreeMap::new()),
            sent: Cell::new(0),
            ok: Cell::new(0),
            in_flight: Cell::new(0),
        })
    }

    fn error(&self, kind: String) {
        *self.errors.borrow_mut().entry(kind).or_default() += 1;
    }
}

fn body_for(text: &str) -> String {
    serde_json::json!({ "text": text }).to_string()
}

/// One request, timed from when it is sent.
async fn one(client: &awc::Client, cfg: &LoadConfig, url: &str, body: String, shared: &Shared) {
    shared.in_flight.set(shared.in_flight.get() + 1);
    let sent = Instant::now();
    let mut req = client.post(url).insert_header(("content-type", "application/json")).timeout(cfg.timeout);
    if let Some(key) = &cfg.api_key {
        req = req.insert_header(("authorization", format!("Bearer {key}")));
    }
    let res = req.send_body(body).await;
    match res {
        Ok(mut resp) => {
            let status = resp.status();
            let body_ok = resp.body().limit(16 << 20).await.is_ok();
            if status.is_success() && body_ok {
                let us = sent.elapsed().as_micros().max(1) as u64;
                let _ = shared.hist.borrow_mut().record(us.min(120_000_000));
                shared.ok.set(shared.ok.get() + 1);
            } else if !body_ok {
                shared.error("body".into());
            } else {
                shared.error(format!("http_{}", status.as_u16()));
            }
        }
        Err(awc::error::SendRequestError::Timeout) => shared.error("timeout".into()),
        Err(awc::error::SendRequestError::Connect(_)) => shared.error("connect".into()),
        Err(e) => shared.error(format!("other: {e}")),
    }
    shared.in_flight.set(shared.in_flight.get() - 1);
}

fn client(connections: usize, timeout: Duration) -> awc::Client {
    awc::Client::builder().connector(awc::Connector::new().limit(connections.max(1)).timeout(timeout)).timeout(timeout).finish()
}

/// Runs one load test. Must be called inside an actix (tokio local) runtime: `actix_rt::System`.
pub async fn run(cfg: &LoadConfig) -> LoadReport {
    let shared = Shared::new();
    let started = Instant::now();
    let progress = cfg.progress.then(|| show_progress(shared.clone(), started));
    let cfg_rc = Rc::new(cfg.clone());
    match cfg.mode {
        Mode::Closed { concurrency } => closed_loop(cfg_rc, &shared, started, concurrency).await,
        Mode::Open { rate } => open_loop(cfg_rc, &shared, started, rate).await,
    }
    if let Some(p) = progress {
        p.abort();
        eprintln!();
    }
    report(cfg, &shared, started.elapsed().as_secs_f64())
}

/// What a finished run measured.
fn report(cfg: &LoadConfig, shared: &Shared, seconds: f64) -> LoadReport {
    let h = shared.hist.borrow().clone();
    let errors = shared.errors.borrow().clone();
    let lag = shared.lag.borrow().clone();
    let send_lag_ms = (!lag.is_empty()).then(|| [lag.value_at_quantile(0.5), lag.value_at_quantile(0.99), lag.max()].map(|v| v as f64 / 1000.0));
    let q = |x: f64| h.value_at_quantile(x) as f64 / 1000.0;
    LoadReport {
        url: cfg.url.clone(),
        mode: cfg.mode,
        seconds,
        requests: shared.sent.get(),
        ok: shared.ok.get(),
        errors,
        throughput_rps: shared.ok.get() as f64 / seconds,
        latency: Latency {
            p50_ms: q(0.5),
            p90_ms: q(0.9),
            p99_ms: q(0.99),
            p999_ms: q(0.999),
            max_ms: h.max() as f64 / 1000.0,
            mean_ms: h.mean() / 1000.0,
        },
        send_lag_ms,
    }
}

/// A line on stderr every second: requests, errors, rate and latency so far.
fn show_progress(shared: Rc<Shared>, started: Instant) -> actix_rt::task::JoinHandle<()> {
    actix_rt::spawn(async move {
        loop {
            actix_rt::time::sleep(Duration::from_secs(1)).await;
            let secs = started.elapsed().as_secs_f64();
            let h = shared.hist.borrow();
            let errs: u64 = shared.errors.borrow().values().sum();
            eprint!(
                "\r[{secs:5.1}s] {} ok, {errs} errors, {:.0} req/s, p50 {:.2} ms, p99 {:.2} ms   ",
                shared.ok.get(),
                shared.ok.get() as f64 / secs,
                h.value_at_quantile(0.5) as f64 / 1000.0,
                h.value_at_quantile(0.99) as f64 / 1000.0
            );
            let _ = std::io::stderr().flush();
        }
    })
}

/// Closed loop: `concurrency` clients, each sending its next request when the last is answered.
async fn closed_loop(cfg_rc: Rc<LoadConfig>, shared: &Rc<Shared>, started: Instant, concurrency: usize) {
    let deadline = started + cfg_rc.duration;
    let cap = cfg_rc.max_requests.unwrap_or(u64::MAX);
    let client = Rc::new(client(concurrency, cfg_rc.timeout));
    let mut tasks = Vec::new();
    for worker in 0..concurrency.max(1) {
        let (client, shared, cfg) = (client.clone(), shared.clone(), cfg_rc.clone());
        tasks.push(actix_rt::spawn(async move {
            let mut i = worker;
            while Instant::now() < deadline && shared.sent.get() < cap {
                shared.sent.set(shared.sent.get() + 1);
                let text = &cfg.texts[i % cfg.texts.len()];
                let url = &cfg.urls[i % cfg.urls.len()];
                i += concurrency;
                one(&client, &cfg, url, body_for(text), &shared).await;
            }
        }));
    }
    for t in tasks {
        let _ = t.await;
    }
}

/// Open loop: requests on a fixed schedule of `rate` per second, whatever the answers do.
async fn open_loop(cfg_rc: Rc<LoadConfig>, shared: &Rc<Shared>, started: Instant, rate: f64) {
    let (cfg, deadline, cap) = (&cfg_rc, started + cfg_rc.duration, cfg_rc.max_requests.unwrap_or(u64::MAX));
    // More in flight than this means the server is far past saturation: count the
    // request as dropped by the client rather than pile up sockets without bound.
    let max_in_flight = ((rate * cfg.timeout.as_secs_f64()) as usize).clamp(64, 4096);
    let client = Rc::new(client(max_in_flight, cfg.timeout));
    let interval = Duration::from_secs_f64(1.0 / rate.max(0.001));
    let mut tasks = Vec::new();
    let mut i: u64 = 0;
    loop {
        let scheduled = started + interval.mul_f64(i as f64);
        if scheduled >= deadline || i >= cap {
            break;
        }
        actix_rt::time::sleep_until(scheduled.into()).await;
        let lag = scheduled.elapsed().as_micros().max(1) as u64;
        let _ = shared.lag.borrow_mut().record(lag.min(120_000_000));
        shared.sent.set(shared.sent.get() + 1);
        if shared.in_flight.get() >= max_in_flight {
            shared.error("backlog".into());
        } else {
            let (client, shared, cfg) = (client.clone(), shared.clone(), cfg_rc.clone());
            let text = cfg.texts[i as usize % cfg.texts.len()].clone();
            let url = cfg.urls[i as usize % cfg.urls.len()].clone();
            tasks.push(actix_rt::spawn(async move { one(&client, &cfg, &url, body_for(&text), &shared).await }));
        }
        i += 1;
        if tasks.len() > 8192 {
            tasks.retain(|t: &actix_rt::task::JoinHandle<()>| !t.is_finished());
        }
    }
    for t in tasks {
        let _ = t.await;
    }
}

impl LoadReport {
    pub fn to_text(&self) -> String {
        let mode = match self.mode {
            Mode::Closed { concurrency } => format!("closed loop, concurrency {concurrency}"),
            Mode::Open { rate } => format!("open loop, {rate:.0} req/s scheduled"),
        };
        let errors = if self.errors.is_empty() {
            "none".to_string()
        } else {
            self.errors.iter().map(|(k, v)| format!("{k} {v}")).collect::<Vec<_>>().join(", ")
        };
        let l = &self.latency;
        let lag = self
            .send_lag_ms
            .map(|[p50, p99, max]| format!("  sender lag ms (behind schedule): p50 {p50:.3}  p99 {p99:.3}  max {max:.3}\n"))
            .unwrap_or_default();
        format!(
            "{url} ({mode}), {secs:.1} s\n  requests {req}, ok {ok}, errors: {errors}\n  throughput {tp:.1} req/s\n  latency ms: p50 {:.3}  p90 {:.3}  p99 {:.3}  p99.9 {:.3}  max {:.3}  mean {:.3}\n{lag}",
            l.p50_ms, l.p90_ms, l.p99_ms, l.p999_ms, l.max_ms, l.mean_ms,
            url = self.url, secs = self.seconds, req = self.requests, ok = self.ok, tp = self.throughput_rps
        )
    }
}

/// Steps the load up: a closed-loop run finds the saturated throughput, then open-loop runs at
/// fractions of it trace latency against throughput.
pub async fn sweep(cfg: &LoadConfig, concurrency: usize, fractions: &[f64]) -> Vec<LoadReport> {
    let mut reports = Vec::new();
    let saturated = run(&LoadConfig { mode: Mode::Closed { concurrency }, ..cfg.clone() }).await;
    let peak = saturated.throughput_rps.max(1.0);
    reports.push(saturated);
    for f in fractions {
        let r = run(&LoadConfig { mode: Mode::Open { rate: peak * f }, ..cfg.clone() }).await;
        reports.push(r);
    }
    reports
}

/// Latency (p50, p99) against achieved throughput of the open-loop runs, as an SVG.
pub fn draw_sweep(reports: &[LoadReport], path: &Path, title: &str) -> anyhow::Result<()> {
    use plotters::prelude::*;
    let open: Vec<&LoadReport> = reports.iter().filter(|r| matches!(r.mode, Mode::Open { .. })).collect();
    anyhow::ensure!(!open.is_empty(), "no open-loop runs to draw");
    let max_x = open.iter().map(|r| r.throughput_rps).fold(1.0, f64::max) * 1.1;
    let max_y = open.iter().map(|r| r.latency.p99_ms).fold(1.0, f64::max) * 1.1;
    let root = SVGBackend::new(path, (800, 500)).into_drawing_area();
    root.fill(&WHITE)?;
    let mut chart = ChartBuilder::on(&root)
        .caption(title, ("sans-serif", 20))
        .margin(15)
        .x_label_area_size(40)
        .y_label_area_size(60)
        .build_cartesian_2d(0.0..max_x, 0.0..max_y)?;
    chart.configure_mesh().x_desc("throughput (req/s)").y_desc("latency (ms)").draw()?;
    let series = |q: fn(&LoadReport) -> f64| open.iter().map(|r| (r.throughput_rps, q(r))).collect::<Vec<_>>();
    for (name, color, q) in
        [("p50", BLUE, (|r: &LoadReport| r.latency.p50_ms) as fn(&LoadReport) -> f64), ("p99", RED, |r: &LoadReport| r.latency.p99_ms)]
    {
        let pts = series(q);
        chart
            .draw_series(LineSeries::new(pts.clone(), color.stroke_width(2)))?
            .label(name)
            .legend(move |(x, y)| PathElement::new(vec![(x, y), (x + 20, y)], color));
        chart.draw_series(pts.into_iter().map(|p| Circle::new(p, 4, color.filled())))?;
    }
    chart.configure_series_labels().border_style(BLACK).background_style(WHITE).draw()?;
    root.present()?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn only_loopback_without_permission() {
        assert!(check_target("http://127.0.0.1:8080/v1/parse", false).is_ok());
        assert!(check_target("http://localhost/v1/parse", false).is_ok());
        assert!(check_target("http://[::1]:9000/x", false).is_ok());
        assert!(check_target("http://10.0.0.2:8080/v1/parse", false).is_err());
        assert!(check_target("http://example.com/v1/parse", true).is_ok());
        assert!(check_target("https://127.0.0.1/", false).is_err());
    }
}

/// Raw model throughput: the graph alone, on pre-tokenised utterances, in batches.
#[derive(Debug, Clone, Serialize)]
pub struct ModelThroughput {
    pub batch_size: usize,
    pub intra_threads: usize,
    pub batches: usize,
    pub utterances: usize,
    pub seconds: f64,
    pub utterances_per_second: f64,
    pub median_batch_ms: f64,
}

impl std::fmt::Display for ModelThroughput {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "in-process model, batch {} ({} intra-op threads): {:.1} utterances/s, median batch {:.2} ms ({} batches in {:.1} s)",
            self.batch_size, self.intra_threads, self.utterances_per_second, self.median_batch_ms, self.batches, self.seconds
        )
    }
}

pub fn model_throughput(args: &crate::config::ModelArgs, texts: &[String], batch_size: usize, duration: Duration) -> anyhow::Result<ModelThroughput> {
    let settings = args.one_shot().session();
    let mut bundle = crate::model::Bundle::load(args.model_path(), &settings)?;
    let ids: Vec<Vec<i64>> = texts
        .iter()
        .map(|t| {
            let words = crate::text::words(t, bundle.manifest.lowercase);
            let norms: Vec<&str> = words.iter().map(|w| w.norm.as_str()).collect();
            bundle.tokenizer.encode(&norms[..], true).map(|e| e.get_ids().iter().map(|&i| i as i64).collect())
        })
        .collect::<Result<_, _>>()
        .map_err(|e| anyhow::anyhow!("tokenizer: {e}"))?;
    let started = Instant::now();
    let mut times = Vec::new();
    let mut done = 0;
    let mut at = 0;
    while started.elapsed() < duration {
        let batch: Vec<Vec<i64>> = (0..batch_size).map(|k| ids[(at + k) % ids.len()].clone()).collect();
        at += batch_size;
        let t = Instant::now();
        bundle.model.run(&batch).map_err(anyhow::Error::msg)?;
        times.push(t.elapsed().as_secs_f64() * 1000.0);
        done += batch_size;
    }
    let seconds = started.elapsed().as_secs_f64();
    times.sort_by(f64::total_cmp);
    Ok(ModelThroughput {
        batch_size,
        intra_threads: settings.intra_threads,
        batches: times.len(),
        utterances: done,
        seconds,
        utterances_per_second: done as f64 / seconds,
        median_batch_ms: times[times.len() / 2],
    })
}
