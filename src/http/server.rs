//! The HTTP server: [`run`] starts `parlance serve` from its flags ([`ServeArgs`]): loads the
//! models, binds, reloads on SIGHUP, drains on SIGTERM. [`serve`] builds actix-web's App on
//! actix-http's HTTP/1.1 service, on a listener of ours.
//!
//! It is what `HttpServer` builds, with one difference: each connection's stream is wrapped in
//! [`JsonCodecErrors`], so that the answers actix-http's codec sends on its own before any route
//! runs (400 for a request that is not HTTP, 408 when the head does not arrive in time, 431 for a
//! head too large) carry the documented JSON error body instead of none.

use std::io;
use std::net::TcpListener;
use std::pin::Pin;
use std::sync::Arc;
use std::task::{Context, Poll};
use std::time::Duration;

use actix_http::{HttpService, Protocol};
use actix_service::{fn_service, map_config, ServiceFactoryExt};
use actix_web::dev::{AppConfig, Server};
use actix_web::App;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};

use super::args::{ServeArgs, TrainingArgs};
use super::AppState;
use crate::service::Registry;

/// Connection settings of [`serve`].
#[derive(Debug, Clone)]
pub struct ServerSettings {
    pub workers: usize,
    /// Time a client has to send a request's head.
    pub client_request_timeout: Duration,
    pub keep_alive: Duration,
    /// Time in-flight requests get to finish on stop.
    pub shutdown_timeout: u64,
}

/// Builds the server on `listener`; signals are left to the caller.
pub fn serve(listener: TcpListener, state: Arc<AppState>, settings: &ServerSettings) -> io::Result<Server> {
    let s = settings.clone();
    Ok(actix_web::dev::Server::build()
        .workers(settings.workers.max(1))
        .disable_signals()
        .shutdown_timeout(settings.shutdown_timeout)
        .listen("parlance", listener, move || {
            let app = App::new().configure(super::configure(state.clone()));
            let http = HttpService::build()
                .client_request_timeout(s.client_request_timeout)
                .keep_alive(s.keep_alive)
                .finish(map_config(app, |_| AppConfig::default()));
            fn_service(|io: actix_web::rt::net::TcpStream| async move {
                let _ = io.set_nodelay(true);
                let peer = io.peer_addr().ok();
                Ok::<_, actix_http::error::DispatchError>((JsonCodecErrors::new(io), Protocol::Http1, peer))
            })
            .and_then(http)
        })?
        .run())
}

/// `parlance serve`: loads the models, listens, and runs until SIGTERM or SIGINT (after
/// `--drain-seconds` with readiness off). SIGHUP reloads every model.
pub fn run(args: ServeArgs) -> anyhow::Result<()> {
    let keys = args.security.keys()?;
    let lib = crate::model::runtime::init()?;
    // issue 25: the layout from the usable cores, flags overriding; logged, shown by /v1/model and /metrics
    let http_workers = crate::layout::announce(&args.model.layout(args.http_workers)).http_workers;
    log_start(&args, &keys, &lib);
    let models = Arc::new(args.model.load_registry()?);
    for summary in models.summaries() {
        tracing::info!(model = %summary.id, bundle = %summary.name, version = %summary.version, format = ?summary.format,
            intents = summary.intents, slot_types = summary.slot_types.len(), default = summary.default,
            routes = ?summary.routes, path = %summary.path, "model loaded");
    }
    let state = app_state(&args, models.clone(), keys);
    let settings = ServerSettings {
        workers: http_workers,
        client_request_timeout: seconds(args.security.client_timeout),
        keep_alive: seconds(args.security.keep_alive),
        shutdown_timeout: 30,
    };
    let drain_seconds = args.drain_seconds;
    actix_web::rt::System::new().block_on(async move {
        serve_models_dir(&models, &args.training).await;
        let listener = TcpListener::bind((args.host.as_str(), args.port))?;
        tracing::info!("listening on http://{}", listener.local_addr()?);
        let server = serve(listener, state.clone(), &settings)?;
        let handle = server.handle();
        actix_web::rt::spawn(reload_on_sighup(models));
        actix_web::rt::spawn(async move {
            shutdown_signal().await;
            state.ready.store(false, std::sync::atomic::Ordering::SeqCst);
            tracing::info!(drain_seconds, "readiness off; draining");
            actix_web::rt::time::sleep(Duration::from_secs_f64(drain_seconds.max(0.0))).await;
            handle.stop(true).await;
        });
        server.await
    })?;
    tracing::info!("stopped");
    Ok(())
}

/// A duration from a flag's seconds, at least a millisecond.
fn seconds(s: f64) -> Duration {
    Duration::from_secs_f64(s.max(0.001))
}

/// The settings `serve` starts with, in one log line (never a key).
fn log_start(args: &ServeArgs, keys: &super::auth::Keys, onnxruntime: &std::path::Path) {
    let model = &args.model;
    let bundles = match &model.models_config {
        Some(file) => format!("models config {}", file.display()),
        None => model.model_path().display().to_string(),
    };
    let session = model.session();
    tracing::info!(
        models = %bundles,
        onnxruntime = %onnxruntime.display(),
        host = %args.host, port = args.port, http_workers = model.layout(args.http_workers).http_workers,
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
        max_body_bytes = args.max_body_bytes,
        keys = ?keys,
        cors_origins = ?args.security.cors_origins,
        "starting parlance"
    );
}

/// What the handlers reach, as the flags set it.
fn app_state(args: &ServeArgs, models: Arc<Registry>, keys: super::auth::Keys) -> Arc<AppState> {
    let state = AppState::with_models(models, args.max_body_bytes, keys, args.security.cors_origins.clone());
    let state = AppState::with_body_timeout(state, seconds(args.security.body_timeout));
    let state = AppState::with_rasa_entities(state, args.rasa_entities);
    match args.training.trainer() {
        Some(t) => AppState::with_trainer(state, Arc::new(t)),
        None => state,
    }
}

/// `--models-dir`: what it holds is served now, and watched with `--watch-seconds`.
async fn serve_models_dir(models: &Arc<Registry>, training: &TrainingArgs) {
    let Some(dir) = &training.models_dir else { return };
    for line in crate::service::watch::sync(models, dir).await {
        tracing::info!(folder = %dir.display(), "{line}");
    }
    if training.watch_seconds > 0.0 {
        let every = Duration::from_secs_f64(training.watch_seconds.max(0.1));
        actix_web::rt::spawn(crate::service::watch::watch(models.clone(), dir.clone(), every));
    }
}

/// Reloads every model on each SIGHUP, for as long as the server runs.
async fn reload_on_sighup(models: Arc<Registry>) {
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

/// A stream that rewrites actix-http's own body-less error answers (400, 408, 413, 431) into the
/// JSON error shape as they are written. Our routes never send those statuses without a body (the
/// `observe` middleware gives every error a JSON body), so only the codec's answers match.
pub struct JsonCodecErrors<T> {
    io: T,
    /// Rewritten bytes still to write, and how many of them are written.
    pending: Vec<u8>,
    written: usize,
}

impl<T> JsonCodecErrors<T> {
    pub fn new(io: T) -> Self {
        JsonCodecErrors { io, pending: Vec::new(), written: 0 }
    }
}

/// The JSON version of a body-less error answer, when `buf` is exactly one.
pub fn rewrite_codec_error(buf: &[u8]) -> Option<Vec<u8>> {
    let status: u16 = std::str::from_utf8(buf.get(9..12)?).ok()?.parse().ok()?;
    if !buf.starts_with(b"HTTP/1.1 ") || ![400, 408, 413, 431].contains(&status) {
        return None;
    }
    let head_end = buf.windows(4).position(|w| w == b"\r\n\r\n")? + 4;
    if head_end != buf.len() {
        return None;
    }
    let head = std::str::from_utf8(&buf[..head_end]).ok()?;
    let at = head.to_ascii_lowercase().find("\r\ncontent-length: 0\r\n")?;
    let code = super::error::code_for_status(actix_web::http::StatusCode::from_u16(status).ok()?);
    let message = match status {
        400 => "the request is not valid HTTP/1.1",
        408 => "the request head was not received in time",
        413 => "the request is too large",
        _ => "the request head is too large",
    };
    let body = serde_json::json!({"error": {"code": code, "message": message}}).to_string();
    let mut out = String::with_capacity(head.len() + body.len() + 40);
    out.push_str(&head[..at]);
    out.push_str(&format!("\r\ncontent-type: application/json\r\ncontent-length: {}\r\n", body.len()));
    out.push_str(&head[at + "\r\ncontent-length: 0\r\n".len()..]);
    out.push_str(&body);
    Some(out.into_bytes())
}

impl<T: AsyncWrite + Unpin> JsonCodecErrors<T> {
    /// Writes what is pending; Ready(Ok) once all of it is out.
    fn poll_pending(&mut self, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        while self.written < self.pending.len() {
            match Pin::new(&mut self.io).poll_write(cx, &self.pending[self.written..]) {
                Poll::Ready(Ok(0)) => return Poll::Ready(Err(io::ErrorKind::WriteZero.into())),
                Poll::Ready(Ok(n)) => self.written += n,
                Poll::Ready(Err(e)) => return Poll::Ready(Err(e)),
                Poll::Pending => return Poll::Pending,
            }
        }
        self.pending.clear();
        self.written = 0;
        Poll::Ready(Ok(()))
    }
}

impl<T: AsyncRead + Unpin> AsyncRead for JsonCodecErrors<T> {
    fn poll_read(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.io).poll_read(cx, buf)
    }
}

impl<T: AsyncWrite + Unpin> AsyncWrite for JsonCodecErrors<T> {
    fn poll_write(mut self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = &mut *self;
        match this.poll_pending(cx) {
            Poll::Ready(Ok(())) => {}
            other => return other.map_ok(|_| 0),
        }
        if let Some(rewritten) = rewrite_codec_error(buf) {
            this.pending = rewritten;
            // taken whole; what the socket does not take now goes out on the next write or flush
            return match this.poll_pending(cx) {
                Poll::Ready(Err(e)) => Poll::Ready(Err(e)),
                _ => Poll::Ready(Ok(buf.len())),
            };
        }
        Pin::new(&mut this.io).poll_write(cx, buf)
    }

    fn poll_flush(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        std::task::ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.io).poll_flush(cx)
    }

    fn poll_shutdown(mut self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        let this = &mut *self;
        std::task::ready!(this.poll_pending(cx))?;
        Pin::new(&mut this.io).poll_shutdown(cx)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn codec_errors_get_a_json_body_and_others_are_untouched() {
        let head = b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\nconnection: close\r\ndate: x\r\n\r\n";
        let out = String::from_utf8(rewrite_codec_error(head).unwrap()).unwrap();
        let (h, body) = out.split_once("\r\n\r\n").unwrap();
        assert!(h.contains("content-type: application/json"));
        assert!(h.contains(&format!("content-length: {}", body.len())));
        assert!(h.starts_with("HTTP/1.1 408 Request Timeout\r\n") && h.contains("connection: close"));
        let v: serde_json::Value = serde_json::from_str(body).unwrap();
        assert_eq!(v["error"]["code"], "request_timeout");
        assert!(rewrite_codec_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 0\r\n\r\n").is_some());
        assert!(rewrite_codec_error(b"HTTP/1.1 431 Request Header Fields Too Large\r\ncontent-length: 0\r\n\r\n").is_some());
        // our own answers (with a body), other statuses, partial heads: untouched
        assert!(rewrite_codec_error(b"HTTP/1.1 400 Bad Request\r\ncontent-length: 2\r\n\r\n{}").is_none());
        assert!(rewrite_codec_error(b"HTTP/1.1 200 OK\r\ncontent-length: 0\r\n\r\n").is_none());
        assert!(rewrite_codec_error(b"HTTP/1.1 408 Request Timeout\r\ncontent-length: 0\r\n").is_none());
        assert!(rewrite_codec_error(b"HTTP/1.1 4").is_none());
    }
}
