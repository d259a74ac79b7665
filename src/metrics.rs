//! Prometheus metrics, served as text at `GET /metrics`.
//!
//! One process-wide registry: HTTP requests by route and status, their latency, the queue depth,
//! batch sizes, and where a parse spends its time (tokenise, queue, inference), per model; fallbacks,
//! reloads and which bundle each model name serves.

use std::sync::LazyLock;

use prometheus::{
    exponential_buckets, register_histogram_vec_with_registry, register_int_counter_vec_with_registry, register_int_gauge_vec_with_registry, Encoder,
    HistogramVec, IntCounterVec, IntGaugeVec, Registry, TextEncoder,
};

pub struct Metrics {
    pub registry: Registry,
    pub http_requests: IntCounterVec,
    pub http_duration: HistogramVec,
    pub queue_depth: IntGaugeVec,
    pub batch_size: HistogramVec,
    pub tokenize_seconds: HistogramVec,
    pub queue_seconds: HistogramVec,
    pub inference_seconds: HistogramVec,
    pub fallbacks: IntCounterVec,
    pub reloads: IntCounterVec,
    pub model_info: IntGaugeVec,
}

/// 50 µs to ~26 s, doubling.
fn latency_buckets() -> Vec<f64> {
    exponential_buckets(0.00005, 2.0, 20).expect("valid buckets")
}

pub static METRICS: LazyLock<Metrics> = LazyLock::new(|| {
    let r = Registry::new_custom(Some("parlance".into()), None).expect("valid registry");
    Metrics {
        http_requests: register_int_counter_vec_with_registry!(
            "http_requests_total",
            "HTTP requests answered, by route and status",
            &["route", "status"],
            r
        )
        .expect("metric"),
        http_duration: register_histogram_vec_with_registry!(
            "http_request_duration_seconds",
            "Time to answer an HTTP request, by route",
            &["route"],
            latency_buckets(),
            r
        )
        .expect("metric"),
        queue_depth: register_int_gauge_vec_with_registry!("queue_depth", "Texts waiting for an inference worker", &["model"], r).expect("metric"),
        batch_size: register_histogram_vec_with_registry!(
            "batch_size",
            "Texts per graph run",
            &["model"],
            vec![1.0, 2.0, 4.0, 8.0, 16.0, 32.0, 64.0, 128.0],
            r
        )
        .expect("metric"),
        tokenize_seconds: register_histogram_vec_with_registry!(
            "tokenize_seconds",
            "Time to normalise, detect the language and tokenise one text",
            &["model"],
            latency_buckets(),
            r
        )
        .expect("metric"),
        queue_seconds: register_histogram_vec_with_registry!(
            "queue_seconds",
            "Time a text waited for its graph run",
            &["model"],
            latency_buckets(),
            r
        )
        .expect("metric"),
        inference_seconds: register_histogram_vec_with_registry!(
            "inference_seconds",
            "Time of one graph run (a whole batch)",
            &["model"],
            latency_buckets(),
            r
        )
        .expect("metric"),
        fallbacks: register_int_counter_vec_with_registry!(
            "fallbacks_total",
            "Parses turned into nlu_fallback, by model and reason",
            &["model", "reason"],
            r
        )
        .expect("metric"),
        reloads: register_int_counter_vec_with_registry!(
            "model_reloads_total",
            "Model reloads, by model and outcome (ok, refused)",
            &["model", "outcome"],
            r
        )
        .expect("metric"),
        model_info: register_int_gauge_vec_with_registry!(
            "model_info",
            "1 for the bundle each model name serves now",
            &["model", "bundle", "version"],
            r
        )
        .expect("metric"),
        registry: r,
    }
});

/// The registry in Prometheus text format.
pub fn render() -> String {
    let mut buf = Vec::new();
    TextEncoder::new().encode(&METRICS.registry.gather(), &mut buf).expect("text encoding cannot fail");
    String::from_utf8(buf).expect("prometheus text is UTF-8")
}
