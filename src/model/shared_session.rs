//! One ONNX Runtime session run by several inference workers at once (issue 25, item 2).
//!
//! Each session holds its own memory arena (sized by the warm-up at the largest batch), its kernels
//! and its graph; with one session per worker that is most of what an extra worker costs once the
//! weights are shared (`crate::model::weights`). ONNX Runtime's `Run` is thread-safe ("multiple
//! threads can call `InferenceSession::Run()` concurrently": microsoft/onnxruntime commit 674afbe,
//! which made the TensorRT EP honour that guarantee), and with one intra-op thread each run executes
//! on its caller's thread, so workers whose sessions would have the same settings share one.
//!
//! `ort` 2.0.0-rc.15 takes `&mut self` in `Session::run` (its authors distrust `Run`'s thread safety
//! on GPU execution providers), so [`RunSession::run`] calls the C API's `Run` on the session
//! pointer itself; this server only uses the CPU execution provider. A wider session (the latency
//! lane, or `--intra-threads` above 1) is never shared: concurrent runs would contend for its
//! thread pool. `PARLANCE_SHARE_SESSIONS=0` gives every worker its own session, as before.

use std::collections::HashMap;
use std::ffi::{c_char, CString};
use std::path::{Path, PathBuf};
use std::ptr::{self, NonNull};
use std::sync::atomic::{AtomicUsize, Ordering};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use ndarray::ArrayD;
use ort::session::{Session, SharedSessionInner};
use ort::value::DynValue;
use ort::value::Outlet;
use ort::AsPointer;

use crate::model::session::{build_session, SessionError, SessionSettings};

/// A session that any number of threads may run at once.
pub struct RunSession {
    session: Session,
    inner: Arc<SharedSessionInner>,
    /// Padded tokens of the largest batch run so far: workers sharing the session warm it once.
    warmed: AtomicUsize,
}

impl RunSession {
    fn new(session: Session) -> RunSession {
        let inner = session.inner();
        RunSession { session, inner, warmed: AtomicUsize::new(0) }
    }

    pub fn inputs(&self) -> &[Outlet] {
        self.session.inputs()
    }

    pub fn outputs(&self) -> &[Outlet] {
        self.session.outputs()
    }

    /// Whether a batch of `tokens` padded tokens (or a larger one) has run on this session; marks
    /// it run.
    pub fn warmed_for(&self, tokens: usize) -> bool {
        self.warmed.fetch_max(tokens, Ordering::AcqRel) >= tokens
    }

    /// Runs the graph on `inputs` (by name) and gives back the float outputs named, copied out.
    pub fn run(&self, inputs: &[(&str, DynValue)], outputs: &[&str]) -> Result<Vec<ArrayD<f32>>, ort::Error> {
        let cstr = |s: &str| CString::new(s).map_err(|e| ort::Error::new(e.to_string()));
        let in_names = inputs.iter().map(|(n, _)| cstr(n)).collect::<Result<Vec<_>, _>>()?;
        let out_names = outputs.iter().map(|n| cstr(n)).collect::<Result<Vec<_>, _>>()?;
        let in_name_ptrs: Vec<*const c_char> = in_names.iter().map(|c| c.as_ptr()).collect();
        let out_name_ptrs: Vec<*const c_char> = out_names.iter().map(|c| c.as_ptr()).collect();
        let in_values: Vec<*const ort::sys::OrtValue> = inputs.iter().map(|(_, v)| v.ptr()).collect();
        let mut out_values: Vec<*mut ort::sys::OrtValue> = vec![ptr::null_mut(); outputs.len()];
        // SAFETY: the session pointer is alive while `self.inner` is; the name and value arrays
        // live until the call returns and have the lengths given; ONNX Runtime's `Run` may be
        // called from several threads at once on one session (module docs), and only writes the
        // output pointers, which are this call's own.
        let status = unsafe {
            (ort::api().Run)(
                self.inner.ptr().cast_mut(),
                ptr::null(),
                in_name_ptrs.as_ptr(),
                in_values.as_ptr(),
                in_values.len(),
                out_name_ptrs.as_ptr(),
                out_name_ptrs.len(),
                out_values.as_mut_ptr(),
            )
        };
        // Own whatever came back before looking at the status, so that nothing leaks.
        let values: Vec<Option<DynValue>> = out_values
            .iter()
            .map(|p| {
                // SAFETY: a non-null output of `Run` is a value the caller owns, allocated by the
                // session's allocator.
                NonNull::new(*p).map(|p| unsafe { DynValue::from_ptr(p, Some(self.session.allocator())) })
            })
            .collect();
        // SAFETY: `status` is what `Run` returned (null on success); this takes and frees it.
        unsafe { ort::Error::result_from_status(status) }?;
        values
            .into_iter()
            .zip(outputs)
            .map(|(v, name)| {
                let v = v.ok_or_else(|| ort::Error::new(format!("ONNX Runtime gave no value for output {name:?}")))?;
                Ok(v.try_extract_array::<f32>()?.into_owned())
            })
            .collect()
    }
}

/// Key: file path, size, modification time and the session settings.
type Key = (PathBuf, u64, Option<std::time::SystemTime>, String);

static SHARED: OnceLock<Mutex<HashMap<Key, Weak<RunSession>>>> = OnceLock::new();

/// Whether workers share sessions (`PARLANCE_SHARE_SESSIONS=0` turns it off).
pub fn sharing_on() -> bool {
    !std::env::var("PARLANCE_SHARE_SESSIONS").is_ok_and(|v| v == "0")
}

/// The session for `path` built with `settings`: the one already built with the same settings
/// while any model holds it, when sessions are shared and run on one thread; else a new one.
pub fn session_for(path: &Path, settings: &SessionSettings) -> Result<Arc<RunSession>, SessionError> {
    let key = (settings.intra_threads <= 1 && sharing_on()).then(|| key(path, settings)).flatten();
    let Some(key) = key else { return Ok(Arc::new(RunSession::new(build_session(path, settings)?))) };
    let mut map = SHARED.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(s) = map.get(&key).and_then(Weak::upgrade) {
        return Ok(s);
    }
    map.retain(|_, w| w.strong_count() > 0);
    let s = Arc::new(RunSession::new(build_session(path, settings)?));
    map.insert(key, Arc::downgrade(&s));
    Ok(s)
}

fn key(path: &Path, settings: &SessionSettings) -> Option<Key> {
    let meta = std::fs::metadata(path).ok()?;
    Some((path.canonicalize().ok()?, meta.len(), meta.modified().ok(), format!("{settings:?}")))
}

/// Sessions alive now that workers share (each counted once).
pub fn shared_sessions() -> usize {
    SHARED.get().map_or(0, |m| m.lock().unwrap_or_else(|e| e.into_inner()).values().filter(|w| w.strong_count() > 0).count())
}

#[cfg(test)]
mod tests;
