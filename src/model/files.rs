//! The files of a bundle: their names, their size limits, and the one bounded way to read them.

use std::path::Path;

use serde::Serialize;

pub const MANIFEST_FILE: &str = "parlance.json";
pub const MODEL_FILE: &str = "model.onnx";
pub const TOKENIZER_FILE: &str = "tokenizer.json";
/// A Hugging Face export's model config (transformers' `config.json`).
pub const HF_CONFIG_FILE: &str = "config.json";

/// Size limits of a bundle's files: a file over its limit is refused, never read whole.
pub const MAX_JSON_BYTES: u64 = 16 << 20;
pub const MAX_TOKENIZER_BYTES: u64 = 64 << 20;
pub const MAX_MODEL_BYTES: u64 = 4 << 30;

/// Reads a bundle file: a regular file only (a named pipe or a device could block a reload
/// forever or never end), at most `max` bytes. The file is opened without blocking and checked on
/// the open descriptor, so it cannot be swapped for a pipe between the check and the read.
pub fn read_bounded(path: &Path, max: u64) -> Result<Vec<u8>, String> {
    use std::io::Read;
    use std::os::unix::fs::OpenOptionsExt;
    let file = std::fs::OpenOptions::new().read(true).custom_flags(libc::O_NONBLOCK).open(path).map_err(|e| format!("cannot be read ({e})"))?;
    let meta = file.metadata().map_err(|e| format!("cannot be read ({e})"))?;
    if !meta.is_file() {
        return Err("is not a regular file".into());
    }
    if meta.len() > max {
        return Err(format!("is {} bytes; the limit is {max}", meta.len()));
    }
    let mut bytes = Vec::with_capacity(meta.len() as usize);
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| format!("cannot be read ({e})"))?;
    if bytes.len() as u64 > max {
        return Err(format!("is over the limit of {max} bytes"));
    }
    Ok(bytes)
}

/// [`read_bounded`] as UTF-8 text.
pub fn read_text(path: &Path, max: u64) -> Result<String, String> {
    String::from_utf8(read_bounded(path, max)?).map_err(|_| "is not UTF-8".to_string())
}

/// One thing wrong with a bundle, and the file it is wrong in.
#[derive(Debug, Clone, PartialEq, Eq, Serialize)]
pub struct Problem {
    pub file: String,
    pub message: String,
}

impl std::fmt::Display for Problem {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{}: {}", self.file, self.message)
    }
}

/// A [`Problem`] of `file`.
pub fn problem(file: &str, message: impl Into<String>) -> Problem {
    Problem { file: file.into(), message: message.into() }
}
