//! A frozen pretrained encoder: `model.onnx` (`input_ids`, `attention_mask` → `last_hidden_state`),
//! its `tokenizer.json` and `encoder.json` (docs/bundle.md, "Encoders"). Trained bundles of kind
//! `heads` name one by content hash and run their heads on its outputs.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock, Weak};

use ndarray::{s, Array2, Array3, Axis};
use ort::value::Tensor;
use serde::Serialize;
use sha2::{Digest, Sha256};
use tokenizers::Tokenizer;

use crate::model::files::{read_bounded, read_text, MAX_JSON_BYTES, MAX_TOKENIZER_BYTES, MODEL_FILE, TOKENIZER_FILE};
use crate::model::session::{RunError, SessionSettings};
use crate::model::shared_session::{session_for, RunSession};

pub const ENCODER_FILE: &str = "encoder.json";
pub const OUTPUT: &str = "last_hidden_state";

/// `encoder.json`, as far as serving and training need it.
#[derive(Debug, Clone, Serialize)]
pub struct EncoderInfo {
    pub name: String,
    pub hidden_size: usize,
    /// "mean" (masked mean over tokens) or "cls" (the first token).
    pub pooling: String,
    /// Whether the pooled vector is L2-normalised (e5's recipe).
    pub normalize: bool,
    /// Text put before every input, e.g. e5's "query: " (empty: none).
    pub query_prefix: Option<String>,
    /// Whether words are lower-cased before tokenising (false for cased tokenizers such as XLM-R).
    pub lowercase: bool,
    pub max_length: usize,
    /// sha256 of model.onnx, hex.
    pub model_sha256: String,
    /// The outputs whose pooled vectors make the sentence vector, concatenated in this order, then
    /// L2-normalised as one (`"pool_outputs"`; default `["last_hidden_state"]`). e5-small's is
    /// `["hidden_states_11", "last_hidden_state"]`: +0.3 points with all the data, +1.2–1.5 with
    /// 10 examples per intent on MASSIVE (docs/training-choices.md).
    pub pool_outputs: Vec<String>,
}

impl EncoderInfo {
    /// Reads the fields from either layout: flat (`hidden_size`, `pooling`, `query_prefix`,
    /// `model_sha256`, ...) or scripts/build-encoder.py's (`prefix`, `max_tokens`,
    /// `files.model.sha256`, `tokenizer.lowercase`, `normalize`, a pooling sentence).
    pub fn from_json(v: &serde_json::Value) -> Result<EncoderInfo, String> {
        let str_at = |ptrs: &[&str]| ptrs.iter().find_map(|p| v.pointer(p).and_then(|x| x.as_str()).map(str::to_string));
        let num_at = |ptrs: &[&str]| ptrs.iter().find_map(|p| v.pointer(p).and_then(|x| x.as_u64()));
        let name = str_at(&["/name"]).ok_or("no \"name\"")?;
        let hidden_size = num_at(&["/hidden_size", "/hidden"]).ok_or("no \"hidden_size\"")? as usize;
        let pooling_text = str_at(&["/pooling"]).unwrap_or_else(|| "mean".into()).to_ascii_lowercase();
        let pooling = if pooling_text.starts_with("mean") {
            "mean"
        } else if pooling_text.starts_with("cls") {
            "cls"
        } else {
            return Err(format!("pooling {pooling_text:?} is not \"mean\" or \"cls\""));
        };
        let normalize = match v.get("normalize") {
            Some(serde_json::Value::Bool(b)) => *b,
            Some(serde_json::Value::String(s)) => s.to_ascii_uppercase().contains("L2"),
            _ => false,
        };
        let lowercase = ["/lowercase", "/tokenizer/lowercase"].iter().find_map(|p| v.pointer(p).and_then(|x| x.as_bool())).unwrap_or(false);
        Ok(EncoderInfo {
            name,
            hidden_size,
            pooling: pooling.into(),
            normalize,
            query_prefix: str_at(&["/query_prefix", "/prefix"]),
            lowercase,
            max_length: num_at(&["/max_length", "/max_tokens"]).unwrap_or(512) as usize,
            model_sha256: str_at(&["/model_sha256", "/sha256", "/files/model/sha256"]).ok_or("no sha256 of model.onnx")?,
            pool_outputs: match v.get("pool_outputs") {
                None => vec![OUTPUT.to_string()],
                Some(list) => serde_json::from_value::<Vec<String>>(list.clone())
                    .ok()
                    .filter(|l| !l.is_empty())
                    .ok_or("\"pool_outputs\" must be a non-empty list of output names")?,
            },
        })
    }

    /// The length of the pooled sentence vector: the intent head's input.
    pub fn pooled_size(&self) -> usize {
        self.hidden_size * self.pool_outputs.len()
    }
}

#[derive(Debug, thiserror::Error)]
pub enum EncoderError {
    #[error("{path}: {message}")]
    File { path: PathBuf, message: String },
    #[error("encoder {path}: model.onnx has sha256 {found}, but {wanted_by} names {wanted}")]
    HashMismatch { path: PathBuf, found: String, wanted: String, wanted_by: String },
    #[error("{}: cannot be read", path.display())]
    Read { path: PathBuf, source: std::io::Error },
    #[error("encoder {}", path.display())]
    Session { path: PathBuf, source: crate::model::session::SessionError },
    #[error("encoder {0}: {1}")]
    Runtime(PathBuf, String),
}

fn file_err(path: &Path, message: impl Into<String>) -> EncoderError {
    EncoderError::File { path: path.to_path_buf(), message: message.into() }
}

/// sha256 of a file, hex; cached per (path, size, modification time) so that loading a model on
/// several workers hashes a large encoder once.
pub fn file_sha256(path: &Path) -> Result<String, EncoderError> {
    static CACHE: OnceLock<Mutex<HashMap<(PathBuf, u64, std::time::SystemTime), String>>> = OnceLock::new();
    let read = |source| EncoderError::Read { path: path.to_path_buf(), source };
    let meta = std::fs::metadata(path).map_err(read)?;
    let key = (path.to_path_buf(), meta.len(), meta.modified().unwrap_or(std::time::UNIX_EPOCH));
    let cache = CACHE.get_or_init(Default::default);
    if let Some(h) = cache.lock().expect("hash cache").get(&key) {
        return Ok(h.clone());
    }
    // a regular file only: hashing a named pipe would block a reload forever
    if !std::fs::metadata(path).is_ok_and(|m| m.is_file()) {
        return Err(file_err(path, "is missing or not a regular file".to_string()));
    }
    let mut file = std::fs::File::open(path).map_err(read)?;
    let mut hasher = Sha256::new();
    std::io::copy(&mut file, &mut hasher).map_err(read)?;
    let hex: String = hasher.finalize().iter().map(|b| format!("{b:02x}")).collect();
    cache.lock().expect("hash cache").insert(key, hex.clone());
    Ok(hex)
}

/// Reads `encoder.json` and the tokenizer of an encoder folder, and checks model.onnx's hash
/// against `encoder.json` (and against `wanted`, the hash a bundle names, when given).
pub fn read_encoder_dir(dir: &Path, wanted: Option<(&str, &str)>) -> Result<(EncoderInfo, Tokenizer), EncoderError> {
    let info = read_encoder_info(dir, wanted)?;
    let tokenizer = read_encoder_tokenizer(dir, &info)?;
    Ok((info, tokenizer))
}

/// `encoder.json` of an encoder folder, model.onnx's hash checked as [`read_encoder_dir`] does.
pub fn read_encoder_info(dir: &Path, wanted: Option<(&str, &str)>) -> Result<EncoderInfo, EncoderError> {
    let info_path = dir.join(ENCODER_FILE);
    let text = read_text(&info_path, MAX_JSON_BYTES).map_err(|e| file_err(&info_path, e))?;
    let info = serde_json::from_str(&text)
        .map_err(|e| e.to_string())
        .and_then(|v| EncoderInfo::from_json(&v))
        .map_err(|e| file_err(&info_path, format!("not an encoder description: {e}")))?;
    let model = dir.join(MODEL_FILE);
    let found = file_sha256(&model)?;
    if !found.eq_ignore_ascii_case(&info.model_sha256) {
        return Err(EncoderError::HashMismatch { path: dir.to_path_buf(), found, wanted: info.model_sha256.clone(), wanted_by: ENCODER_FILE.into() });
    }
    if let Some((hash, by)) = wanted {
        if !found.eq_ignore_ascii_case(hash) {
            return Err(EncoderError::HashMismatch { path: dir.to_path_buf(), found, wanted: hash.into(), wanted_by: by.into() });
        }
    }
    Ok(info)
}

/// The tokenizer of an encoder folder, truncated to the encoder's length. When bots on this
/// encoder already share one, a copy of it (reading XLM-R's 17 MB tokenizer.json again is what
/// made loading many bots slow).
pub fn read_encoder_tokenizer(dir: &Path, info: &EncoderInfo) -> Result<Tokenizer, EncoderError> {
    let shared = TOKENIZERS.get().and_then(|m| {
        let map = m.lock().unwrap_or_else(|e| e.into_inner());
        map.iter().find(|((sha, _), w)| sha.eq_ignore_ascii_case(&info.model_sha256) && w.strong_count() > 0).and_then(|(_, w)| w.upgrade())
    });
    if let Some(t) = shared {
        let mut copy = Tokenizer::clone(&t);
        let trunc = tokenizers::TruncationParams { max_length: info.max_length, ..Default::default() };
        copy.with_truncation(Some(trunc)).map_err(|e| file_err(&dir.join(TOKENIZER_FILE), format!("cannot truncate: {e}")))?;
        return Ok(copy);
    }
    let tok_path = dir.join(TOKENIZER_FILE);
    let bytes = read_bounded(&tok_path, MAX_TOKENIZER_BYTES).map_err(|e| file_err(&tok_path, e))?;
    let mut tokenizer = Tokenizer::from_bytes(&bytes).map_err(|e| file_err(&tok_path, format!("does not load: {e}")))?;
    let trunc = tokenizers::TruncationParams { max_length: info.max_length, ..Default::default() };
    tokenizer.with_truncation(Some(trunc)).map_err(|e| file_err(&tok_path, format!("cannot truncate: {e}")))?;
    tokenizer.with_padding(None);
    Ok(tokenizer)
}

/// What one encoder run gives: per-token vectors (prefix tokens removed, so row `t` is token `t`
/// of the caller's ids) and one pooled vector per item.
pub struct EncoderOutput {
    /// [batch, tokens, hidden]; rows past an item's length are zeros.
    pub hidden: Array3<f32>,
    /// [batch, pooled size] (`EncoderInfo::pooled_size`)
    pub pooled: Array2<f32>,
    /// The pooled vector's parts before concatenation and normalisation, one per pool output
    /// (`EncoderInfo::pool_outputs`), each [batch, hidden].
    pub parts: Vec<Array2<f32>>,
    /// The states of the output an adapted top layer reads, with its name, when asked for
    /// ([`Encoder::run_keeping`]): [batch, prefix + tokens, hidden], row `r`'s tokens first
    /// (its first token, the query prefix, then the rest), padding after.
    pub kept: Option<(String, Array3<f32>)>,
    /// Tokens of the query prefix in `kept`.
    pub prefix: usize,
    /// Each row's token count (the caller's, prefix left out).
    pub lens: Vec<usize>,
    normalize: bool,
    cls: bool,
    pool_outputs: Vec<String>,
}

impl EncoderOutput {
    /// An output with these vectors and nothing kept (the pooled vector is its one part).
    pub fn new(hidden: Array3<f32>, pooled: Array2<f32>) -> EncoderOutput {
        let parts = vec![pooled.clone()];
        let lens = vec![hidden.dim().1; hidden.dim().0];
        EncoderOutput { hidden, pooled, parts, kept: None, prefix: 0, lens, normalize: false, cls: false, pool_outputs: vec![OUTPUT.into()] }
    }

    /// Row `row`'s pooled vector with the parts of the pool outputs named in `given` computed
    /// from their states ([tokens, hidden], the item's whole tokens with the prefix) instead: how
    /// an adapted bot's own layers enter the sentence vector. None when a pool output is neither
    /// given nor in this run, or when nothing given is a pool output.
    pub fn pooled_from(&self, row: usize, given: &[(String, ndarray::ArrayView2<f32>)]) -> Option<ndarray::Array1<f32>> {
        if !given.iter().any(|(n, _)| self.pool_outputs.contains(n)) {
            return None;
        }
        let mut parts = Vec::with_capacity(self.pool_outputs.len());
        for (i, name) in self.pool_outputs.iter().enumerate() {
            parts.push(match given.iter().find(|(n, _)| n == name) {
                Some((_, states)) if self.cls => states.row(0).to_owned(),
                Some((_, states)) => states.mean_axis(Axis(0))?,
                None => self.parts.get(i).filter(|p| p.nrows() > row && p.ncols() > 0)?.row(row).to_owned(),
            });
        }
        Some(combine_parts(&parts, self.normalize))
    }

    /// An item's token states without the query prefix ([len, hidden] from [prefix + len,
    /// hidden]): row `t` is token `t` of the caller's ids, as in `hidden`.
    pub fn without_prefix(&self, states: ndarray::ArrayView2<f32>) -> Array2<f32> {
        without_prefix(states, self.prefix)
    }

    /// The states of output `name` for row `row` of `len` caller tokens, when the run kept them.
    pub fn kept_row(&self, name: &str, row: usize, len: usize) -> Option<ndarray::ArrayView2<'_, f32>> {
        let n = if len == 0 { 0 } else { len + self.prefix };
        self.kept.as_ref().filter(|(kept, _)| kept == name).map(|(_, k)| k.slice(s![row, ..n, ..]))
    }
}

/// One ONNX Runtime session on an encoder.
pub struct Encoder {
    /// Shared by the encoder's workers when they run on one thread (`crate::model::shared_session`).
    pub session: Arc<RunSession>,
    pub info: EncoderInfo,
    /// Token ids of the query prefix, inserted after the first (special) token of every input.
    prefix_ids: Vec<i64>,
    pub pad_id: i64,
    pub dir: PathBuf,
    /// For the graph below an adapted bot's layers: its one output (no `last_hidden_state`, no
    /// pooled outputs: those come from the bot's layers).
    pub only: Option<String>,
}

impl Encoder {
    /// Loads the session of an encoder folder already read by [`read_encoder_dir`].
    pub fn load(dir: &Path, info: EncoderInfo, tokenizer: &Tokenizer, settings: &SessionSettings) -> Result<Encoder, EncoderError> {
        Encoder::load_graph(dir, None, info, tokenizer, settings)
    }

    /// [`Encoder::load`], or with `lower` = (graph file in `dir`, its output) the graph below an
    /// adapted bot's layers (`TopLayerSpec::graph`), which computes that output alone.
    pub fn load_graph(
        dir: &Path,
        lower: Option<(&str, &str)>,
        info: EncoderInfo,
        tokenizer: &Tokenizer,
        settings: &SessionSettings,
    ) -> Result<Encoder, EncoderError> {
        let rt = |m: String| EncoderError::Runtime(dir.to_path_buf(), m);
        let file = lower.map_or(MODEL_FILE, |l| l.0);
        let session = session_for(&dir.join(file), settings).map_err(|source| EncoderError::Session { path: dir.to_path_buf(), source })?;
        let has_in = |n: &str| session.inputs().iter().any(|i| i.name() == n);
        if !has_in("input_ids") || !has_in("attention_mask") || session.inputs().len() != 2 {
            let names: Vec<&str> = session.inputs().iter().map(|i| i.name()).collect();
            return Err(rt(format!("inputs are {names:?}; an encoder takes exactly input_ids and attention_mask")));
        }
        let wanted: Vec<&str> = match lower {
            Some((_, output)) => vec![output],
            None => std::iter::once(OUTPUT).chain(info.pool_outputs.iter().map(String::as_str)).collect(),
        };
        for name in wanted {
            if !session.outputs().iter().any(|o| o.name() == name) {
                return Err(rt(format!("the graph has no output {name:?}")));
            }
        }
        let prefix = info.query_prefix.clone().unwrap_or_default();
        let prefix_ids = if prefix.trim().is_empty() {
            Vec::new()
        } else {
            let norm = crate::text::normalize_word(prefix.trim(), info.lowercase);
            let enc = tokenizer.encode(norm.as_str(), false).map_err(|e| rt(format!("cannot encode the prefix: {e}")))?;
            enc.get_ids().iter().map(|&i| i as i64).collect()
        };
        let pad_id = tokenizer
            .get_padding()
            .map(|p| p.pad_id as i64)
            .or_else(|| tokenizer.token_to_id("<pad>").map(i64::from))
            .or_else(|| tokenizer.token_to_id("[PAD]").map(i64::from))
            .unwrap_or(0);
        Ok(Encoder { session, info, prefix_ids, pad_id, dir: dir.to_path_buf(), only: lower.map(|l| l.1.to_string()) })
    }

    /// Runs token id sequences (each starting with its special first token) as one padded batch.
    pub fn run(&self, items: &[Vec<i64>]) -> Result<EncoderOutput, RunError> {
        self.run_keeping(items, None)
    }

    /// [`Encoder::run`], keeping the per-token states of output `keep` (what an adapted bot's
    /// top layer reads).
    pub fn run_keeping(&self, items: &[Vec<i64>], keep: Option<&str>) -> Result<EncoderOutput, RunError> {
        let p = self.prefix_ids.len();
        let batch = items.len();
        let width = items.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let full = width + p;
        let mut ids = Array2::<i64>::from_elem((batch, full), self.pad_id);
        let mut mask = Array2::<i64>::zeros((batch, full));
        for (r, item) in items.iter().enumerate() {
            let with_prefix = item.iter().take(1).chain(&self.prefix_ids).chain(item.iter().skip(1));
            for (c, &id) in with_prefix.enumerate() {
                ids[[r, c]] = id;
                mask[[r, c]] = 1;
            }
        }
        let maskf = mask.mapv(|m| m as f32);
        let inputs = [("input_ids", Tensor::from_array(ids)?.into_dyn()), ("attention_mask", Tensor::from_array(mask)?.into_dyn())];
        if let Some(only) = &self.only {
            return self.run_below(items, inputs, only, keep, (batch, width, full));
        }
        let mut names: Vec<&str> = vec![OUTPUT];
        for n in self.info.pool_outputs.iter().map(String::as_str).chain(keep) {
            if !names.contains(&n) {
                names.push(n);
            }
        }
        let outputs = self.session.run(&inputs, &names)?;
        let output = |name: &str| -> Result<ndarray::ArrayView3<f32>, RunError> {
            let at = names.iter().position(|n| *n == name).ok_or_else(|| RunError::Output(format!("{name} missing")))?;
            let h = outputs[at].view().into_dimensionality::<ndarray::Ix3>()?;
            if h.shape()[..2] != [batch, full] || h.shape()[2] != self.info.hidden_size {
                return Err(RunError::Output(format!("{name} has shape {:?}, expected [{batch}, {full}, {}]", h.shape(), self.info.hidden_size)));
            }
            Ok(h)
        };
        let h = output(OUTPUT)?;
        let parts = self.info.pool_outputs.iter().map(|n| Ok(pool(&output(n)?, &maskf, &self.info.pooling))).collect::<Result<Vec<_>, RunError>>()?;
        let views: Vec<_> = parts.iter().map(|p| p.view()).collect();
        let mut pooled = ndarray::concatenate(Axis(1), &views)?;
        let kept = keep.map(|n| output(n).map(|k| (n.to_string(), k.to_owned()))).transpose()?;
        if self.info.normalize {
            for mut row in pooled.axis_iter_mut(Axis(0)) {
                let norm = row.dot(&row).sqrt().max(1e-12);
                row.mapv_inplace(|x| x / norm);
            }
        }
        // drop the prefix rows: token t of the caller's ids is row t
        let mut hidden = Array3::<f32>::zeros((batch, width, self.info.hidden_size));
        for (r, item) in items.iter().enumerate() {
            let n = item.len();
            if n == 0 {
                continue;
            }
            hidden.slice_mut(s![r, 0, ..]).assign(&h.slice(s![r, 0, ..]));
            if n > 1 {
                hidden.slice_mut(s![r, 1..n, ..]).assign(&h.slice(s![r, 1 + p..n + p, ..]));
            }
        }
        Ok(EncoderOutput {
            hidden,
            pooled,
            parts,
            kept,
            prefix: p,
            lens: items.iter().map(Vec::len).collect(),
            normalize: self.info.normalize,
            cls: self.info.pooling == "cls",
            pool_outputs: self.info.pool_outputs.clone(),
        })
    }
}

impl Encoder {
    /// The graph below an adapted bot's layers: only its output, kept; the token states and the
    /// pooled vector are zeros (the bot's layers give them).
    fn run_below(
        &self,
        items: &[Vec<i64>],
        inputs: [(&str, ort::value::DynValue); 2],
        only: &str,
        keep: Option<&str>,
        (batch, width, full): (usize, usize, usize),
    ) -> Result<EncoderOutput, RunError> {
        if keep.is_some_and(|k| k != only) {
            return Err(RunError::Output(format!("this graph gives {only:?} only, not {keep:?}")));
        }
        let outputs = self.session.run(&inputs, &[only])?;
        let k = outputs[0].view().into_dimensionality::<ndarray::Ix3>()?;
        if k.shape()[..2] != [batch, full] || k.shape()[2] != self.info.hidden_size {
            return Err(RunError::Output(format!("{only} has shape {:?}, expected [{batch}, {full}, {}]", k.shape(), self.info.hidden_size)));
        }
        Ok(EncoderOutput {
            hidden: Array3::zeros((batch, width, 0)),
            pooled: Array2::zeros((batch, self.info.pooled_size())),
            parts: Vec::new(),
            kept: Some((only.to_string(), k.to_owned())),
            prefix: self.prefix_ids.len(),
            lens: items.iter().map(Vec::len).collect(),
            normalize: self.info.normalize,
            cls: self.info.pooling == "cls",
            pool_outputs: self.info.pool_outputs.clone(),
        })
    }
}

/// Token states without the `prefix` query-prefix rows after the first (special) token.
pub fn without_prefix(states: ndarray::ArrayView2<f32>, prefix: usize) -> Array2<f32> {
    let n = states.nrows();
    if n <= 1 + prefix {
        return states.slice(s![..n.min(1), ..]).to_owned();
    }
    ndarray::concatenate(Axis(0), &[states.slice(s![..1, ..]), states.slice(s![1 + prefix.., ..])]).expect("same width")
}

/// The sentence vector from its parts: concatenated, then L2-normalised as one when `normalize`.
pub fn combine_parts(parts: &[ndarray::Array1<f32>], normalize: bool) -> ndarray::Array1<f32> {
    let mut v: ndarray::Array1<f32> = parts.iter().flat_map(|p| p.iter().copied()).collect();
    if normalize {
        let norm = v.dot(&v).sqrt().max(1e-12);
        v.mapv_inplace(|x| x / norm);
    }
    v
}

/// Masked mean over tokens, or the first token.
fn pool(h: &ndarray::ArrayView3<f32>, mask: &Array2<f32>, pooling: &str) -> Array2<f32> {
    if pooling == "cls" {
        return h.slice(s![.., 0, ..]).to_owned();
    }
    let (b, _, d) = h.dim();
    let mut out = Array2::<f32>::zeros((b, d));
    for (r, mut row) in out.axis_iter_mut(Axis(0)).enumerate() {
        let m = mask.row(r);
        let n = m.sum().max(1.0);
        for (t, &w) in m.iter().enumerate() {
            if w > 0.0 {
                row.scaled_add(w, &h.slice(s![r, t, ..]));
            }
        }
        row.mapv_inplace(|x| x / n);
    }
    out
}

impl Encoder {
    /// Tokens the query prefix adds to every input.
    pub fn prefix_len(&self) -> usize {
        self.prefix_ids.len()
    }
}

/// Sessions shared across models: key (encoder folder, model hash, session settings, worker slot).
type SharedKey = (PathBuf, String, String, usize);
static SHARED: OnceLock<Mutex<HashMap<SharedKey, Weak<Mutex<Encoder>>>>> = OnceLock::new();

/// The encoder session for `dir` and worker `slot`, loaded once while any model holds it: every
/// heads bundle on the same encoder runs on the same session (one copy of the weights in memory).
/// With `lower` (graph file, output), the graph below adapted bots' layers instead
/// ([`Encoder::load_graph`]), shared by every bot on it.
pub fn shared(
    dir: &Path,
    lower: Option<(&str, &str)>,
    info: EncoderInfo,
    tokenizer: impl FnOnce(&EncoderInfo) -> Result<Tokenizer, EncoderError>,
    settings: &SessionSettings,
    slot: usize,
) -> Result<Arc<Mutex<Encoder>>, EncoderError> {
    let canonical = dir.canonicalize().unwrap_or_else(|_| dir.to_path_buf());
    let canonical = lower.map_or(canonical.clone(), |(file, _)| canonical.join(file));
    let key = (canonical, info.model_sha256.to_ascii_lowercase(), format!("{settings:?}"), slot);
    let map = SHARED.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    if let Some(enc) = map.get(&key).and_then(Weak::upgrade) {
        return Ok(enc);
    }
    map.retain(|_, w| w.strong_count() > 0);
    let tokenizer = tokenizer(&info)?;
    let enc = Arc::new(Mutex::new(Encoder::load_graph(dir, lower, info, &tokenizer, settings)?));
    map.insert(key, Arc::downgrade(&enc));
    Ok(enc)
}

/// Tokenizers shared by heads bundles: key (encoder hash, max length).
static TOKENIZERS: OnceLock<Mutex<HashMap<(String, usize), Weak<Tokenizer>>>> = OnceLock::new();

/// One tokenizer per (encoder hash, max length) for all heads bundles on an encoder: the encoder's
/// tokenizer (XLM-R's: 250,002 pieces) is large and the same for every bot. `fresh` is dropped
/// when one is already shared, and the memory it held handed back.
pub fn share_tokenizer(sha256: &str, max_length: usize, fresh: Tokenizer) -> Arc<Tokenizer> {
    let map = TOKENIZERS.get_or_init(Default::default);
    let mut map = map.lock().unwrap_or_else(|e| e.into_inner());
    let key = (sha256.to_ascii_lowercase(), max_length);
    if let Some(shared) = map.get(&key).and_then(Weak::upgrade) {
        drop(fresh);
        crate::model::runtime::release_freed_memory();
        return shared;
    }
    map.retain(|_, w| w.strong_count() > 0);
    let t = Arc::new(fresh);
    map.insert(key, Arc::downgrade(&t));
    t
}

/// Encoder sessions alive now (each shared one counted once).
pub fn shared_sessions() -> usize {
    SHARED.get().map_or(0, |m| m.lock().unwrap_or_else(|e| e.into_inner()).values().filter(|w| w.strong_count() > 0).count())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_encoder_json_layouts_read() {
        let flat = serde_json::json!({"name": "t", "hidden_size": 32, "pooling": "mean", "query_prefix": "query: ",
            "lowercase": true, "max_length": 64, "model_sha256": "ab"});
        let i = EncoderInfo::from_json(&flat).unwrap();
        assert_eq!((i.hidden_size, i.pooling.as_str(), i.lowercase, i.max_length, i.normalize), (32, "mean", true, 64, false));
        // scripts/build-encoder.py's layout
        let built = serde_json::json!({"name": "multilingual-e5-small", "hidden_size": 384,
            "pooling": "mean of last_hidden_state over tokens with attention_mask 1", "normalize": "L2 after pooling",
            "prefix": "query: ", "max_tokens": 512, "tokenizer": {"lowercase": false},
            "files": {"model": {"path": "model.onnx", "sha256": "cd"}}});
        let i = EncoderInfo::from_json(&built).unwrap();
        assert_eq!((i.model_sha256.as_str(), i.query_prefix.as_deref(), i.normalize, i.max_length), ("cd", Some("query: "), true, 512));
        let bad = serde_json::json!({"name": "x", "hidden_size": 3, "pooling": "max", "model_sha256": "ab"});
        assert!(EncoderInfo::from_json(&bad).unwrap_err().contains("pooling"));
    }
}
