//! Finding and loading the ONNX Runtime shared library.
//!
//! `ort` is built with `load-dynamic`: nothing is downloaded at build time. The library comes from
//! the PyPI wheel `onnxruntime==1.31.1`, which `make setup` (scripts/setup-ort.sh) installs under
//! `.ort/` in the repository. An explicit `ORT_DYLIB_PATH` always wins.

use std::path::{Path, PathBuf};
use std::sync::OnceLock;

pub const ORT_LIB_NAME: &str = "libonnxruntime.so.1.31.1";

/// Where `scripts/setup-ort.sh` puts the library, relative to the repository root.
const LOCAL_REL: &str = ".ort/onnxruntime/capi";

/// Candidate paths, most explicit first.
pub fn candidates() -> Vec<PathBuf> {
    let mut out = Vec::new();
    if let Ok(p) = std::env::var("ORT_DYLIB_PATH") {
        if !p.is_empty() {
            out.push(PathBuf::from(p));
            return out; // explicit wins: never silently fall back to another library
        }
    }
    // Beside the executable (containers copy it there), then the checkout this binary was built from.
    if let Ok(exe) = std::env::current_exe() {
        if let Some(dir) = exe.parent() {
            out.push(dir.join(ORT_LIB_NAME));
            for up in dir.ancestors().take(4) {
                out.push(up.join(LOCAL_REL).join(ORT_LIB_NAME));
            }
        }
    }
    out.push(Path::new(env!("CARGO_MANIFEST_DIR")).join(LOCAL_REL).join(ORT_LIB_NAME));
    out
}

static INIT: OnceLock<Result<PathBuf, RuntimeError>> = OnceLock::new();
/// `ort` keeps only a weak reference to the environment: this holds it for the process lifetime.
static ENV: OnceLock<ort::environment::Environment> = OnceLock::new();

/// ONNX Runtime could not be found or started: where it looked, and ONNX Runtime's own error.
#[derive(Debug, Clone, thiserror::Error)]
pub enum RuntimeError {
    #[error(
        "ONNX Runtime library not found (tried: {}). Run `make setup` to install onnxruntime==1.31.1 from PyPI \
         into .ort/, or set ORT_DYLIB_PATH to {ORT_LIB_NAME}",
        tried.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
    )]
    NotFound { tried: Vec<PathBuf> },
    #[error("cannot load ONNX Runtime from {}", path.display())]
    Load { path: PathBuf, source: std::sync::Arc<ort::LoadDynamicError> },
    #[error("cannot start ONNX Runtime from {}", path.display())]
    Start { path: PathBuf, source: std::sync::Arc<ort::Error> },
    #[error("ONNX Runtime environment missing after init")]
    NoEnvironment,
}

/// Loads ONNX Runtime once per process. Safe to call from anywhere, any number of times.
pub fn init() -> Result<PathBuf, RuntimeError> {
    INIT.get_or_init(|| {
        let tried = candidates();
        let path = tried.iter().find(|p| p.is_file()).cloned().ok_or_else(|| RuntimeError::NotFound { tried: tried.clone() })?;
        let builder = ort::init_from(&path).map_err(|e| RuntimeError::Load { path: path.clone(), source: std::sync::Arc::new(e) })?;
        let env = builder
            .with_name("parlance")
            .with_telemetry(false)
            .build()
            .map_err(|e| RuntimeError::Start { path: path.clone(), source: std::sync::Arc::new(e) })?;
        let _ = ENV.set(env);
        Ok(path)
    })
    .clone()
}

/// The process-wide ONNX Runtime environment, loading the library on first use.
pub fn environment() -> Result<&'static ort::environment::Environment, RuntimeError> {
    init()?;
    ENV.get().ok_or(RuntimeError::NoEnvironment)
}

/// Hands memory freed by a dropped model back to the OS. glibc keeps freed heap in its per-thread
/// arenas; without this, each reload (which briefly holds two models) raised the resident size
/// for good (measured in docs/performance.md, "Reloads").
pub fn release_freed_memory() {
    // weights no session holds any more (issue 25) go first
    crate::model::weights::prune();
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    // SAFETY: malloc_trim only returns free pages of glibc's heap to the kernel.
    unsafe {
        libc::malloc_trim(0);
    }
}
