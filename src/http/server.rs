//! The HTTP server: actix-web's App on actix-http's HTTP/1.1 service, on a listener of ours.
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

use super::AppState;

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
