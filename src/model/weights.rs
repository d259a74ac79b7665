//! Sessions of one graph file share their weights (issue 25, item 2): the graph's initializers are
//! read once into tensors that every session on that file is given (ONNX Runtime's
//! `AddInitializer`), and the kernels' pre-packed forms of them go into one pre-packed weights
//! container (`CreateSessionWithPrepackedWeightsContainer`), so that N inference workers do not
//! hold N copies. ONNX Runtime caches pre-packed buffers only for initializers given this way.
//!
//! Only initializers stored inline as `raw_data` are shared (what the exporters and quantiser
//! write); others stay per session. `PARLANCE_SHARE_WEIGHTS=0` turns sharing off (to measure it).

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, OnceLock};

use ort::session::builder::PrepackedWeights;
use ort::value::{DynValue, Tensor};

/// The weights of one graph file, shared by its sessions.
pub struct SharedWeights {
    pub initializers: Vec<(String, Arc<DynValue>)>,
    pub prepacked: PrepackedWeights,
}

/// Key: file path, size and modification time (a changed file is read again).
type Key = (PathBuf, u64, Option<std::time::SystemTime>);

static CACHE: OnceLock<Mutex<HashMap<Key, Arc<SharedWeights>>>> = OnceLock::new();

/// The shared weights of `path`, read on first use; `None` when sharing is off or the file cannot
/// be read as ONNX (the session then loads it alone, as before).
pub fn for_file(path: &Path) -> Option<Arc<SharedWeights>> {
    if std::env::var("PARLANCE_SHARE_WEIGHTS").is_ok_and(|v| v == "0") {
        return None;
    }
    let meta = std::fs::metadata(path).ok()?;
    let key = (path.canonicalize().ok()?, meta.len(), meta.modified().ok());
    let mut cache = CACHE.get_or_init(Default::default).lock().unwrap_or_else(|e| e.into_inner());
    if let Some(w) = cache.get(&key) {
        return Some(w.clone());
    }
    let bytes = std::fs::read(path).ok()?;
    let initializers = read_initializers(&bytes).ok()?;
    let w = Arc::new(SharedWeights { initializers, prepacked: PrepackedWeights::new() });
    cache.insert(key, w.clone());
    Some(w)
}

/// Drops the weights no session uses any more (each session holds its own reference to every
/// initializer it was given).
pub fn prune() {
    let Some(cache) = CACHE.get() else { return };
    let mut cache = cache.lock().unwrap_or_else(|e| e.into_inner());
    cache.retain(|_, w| Arc::strong_count(w) > 1 || w.initializers.first().is_some_and(|(_, v)| Arc::strong_count(v) > 1));
}

/// Graph files whose weights are shared now.
pub fn shared_files() -> usize {
    CACHE.get().map_or(0, |c| c.lock().unwrap_or_else(|e| e.into_inner()).len())
}

/// One protobuf field: number, and its varint or length-delimited payload.
enum Field<'a> {
    Varint(u64),
    Bytes(&'a [u8]),
    Other,
}

fn varint(buf: &[u8], pos: &mut usize) -> Result<u64, String> {
    let mut v = 0u64;
    for shift in (0..64).step_by(7) {
        let b = *buf.get(*pos).ok_or("truncated varint")?;
        *pos += 1;
        v |= u64::from(b & 0x7f) << shift;
        if b < 0x80 {
            return Ok(v);
        }
    }
    Err("varint too long".into())
}

/// The fields of one protobuf message, in order.
fn fields(buf: &[u8]) -> impl Iterator<Item = Result<(u64, Field<'_>), String>> {
    let mut pos = 0;
    std::iter::from_fn(move || {
        if pos >= buf.len() {
            return None;
        }
        let mut next = || -> Result<(u64, Field<'_>), String> {
            let tag = varint(buf, &mut pos)?;
            let field = match tag & 7 {
                0 => Field::Varint(varint(buf, &mut pos)?),
                1 => {
                    pos += 8;
                    Field::Other
                }
                2 => {
                    let len = varint(buf, &mut pos)? as usize;
                    let end = pos.checked_add(len).filter(|&e| e <= buf.len()).ok_or("truncated field")?;
                    let bytes = &buf[pos..end];
                    pos = end;
                    Field::Bytes(bytes)
                }
                5 => {
                    pos += 4;
                    Field::Other
                }
                w => return Err(format!("wire type {w} not supported")),
            };
            Ok((tag >> 3, field))
        };
        let r = next();
        if r.is_err() {
            pos = buf.len();
        }
        Some(r)
    })
}

/// The initializers of an ONNX model (ModelProto.graph = 7, GraphProto.initializer = 5) that hold
/// their data as `raw_data`, as tensors.
pub fn read_initializers(model: &[u8]) -> Result<Vec<(String, Arc<DynValue>)>, String> {
    let mut out = Vec::new();
    for f in fields(model) {
        let (7, Field::Bytes(graph)) = f? else { continue };
        for g in fields(graph) {
            let (5, Field::Bytes(tensor)) = g? else { continue };
            if let Some((name, value)) = tensor_of(tensor)? {
                out.push((name, Arc::new(value)));
            }
        }
    }
    Ok(out)
}

/// A TensorProto (dims = 1, data_type = 2, name = 8, raw_data = 9, data_location = 14) as a
/// tensor; `None` for one without raw data, stored outside, or of a type not shared.
fn tensor_of(buf: &[u8]) -> Result<Option<(String, DynValue)>, String> {
    let (mut dims, mut dtype, mut name, mut raw, mut external) = (Vec::new(), 0u64, String::new(), None, false);
    for f in fields(buf) {
        match f? {
            (1, Field::Varint(d)) => dims.push(d as i64),
            (1, Field::Bytes(packed)) => {
                let mut p = 0;
                while p < packed.len() {
                    dims.push(varint(packed, &mut p)? as i64);
                }
            }
            (2, Field::Varint(t)) => dtype = t,
            (8, Field::Bytes(n)) => name = String::from_utf8_lossy(n).into_owned(),
            (9, Field::Bytes(r)) => raw = Some(r),
            (14, Field::Varint(1)) => external = true,
            _ => {}
        }
    }
    let Some(raw) = raw.filter(|_| !external && !name.is_empty()) else { return Ok(None) };
    let shape: Vec<i64> = dims;
    let value = match dtype {
        1 => tensor::<f32, 4>(shape, raw, f32::from_le_bytes)?,
        2 => tensor::<u8, 1>(shape, raw, u8::from_le_bytes)?,
        3 => tensor::<i8, 1>(shape, raw, i8::from_le_bytes)?,
        6 => tensor::<i32, 4>(shape, raw, i32::from_le_bytes)?,
        7 => tensor::<i64, 8>(shape, raw, i64::from_le_bytes)?,
        _ => return Ok(None),
    };
    Ok(Some((name, value)))
}

fn tensor<T, const N: usize>(shape: Vec<i64>, raw: &[u8], from: fn([u8; N]) -> T) -> Result<DynValue, String>
where
    T: ort::value::PrimitiveTensorElementType + Clone + std::fmt::Debug + 'static,
{
    let count: i64 = shape.iter().product();
    if raw.len() != count.max(0) as usize * N {
        return Err(format!("initializer of {} bytes for shape {shape:?}", raw.len()));
    }
    let data: Vec<T> = raw.chunks_exact(N).map(|c| from(c.try_into().expect("chunk of N bytes"))).collect();
    Tensor::from_array((shape, data)).map(|t| t.into_dyn()).map_err(|e| e.to_string())
}

#[cfg(test)]
mod tests {
    use super::*;

    fn field(no: u64, wire: u64, payload: &[u8]) -> Vec<u8> {
        let mut out = vec![(no << 3 | wire) as u8];
        if wire == 2 {
            out.push(payload.len() as u8);
        }
        out.extend_from_slice(payload);
        out
    }

    #[test]
    fn raw_initializers_are_read_others_skipped() {
        crate::model::runtime::init().expect("ONNX Runtime (make setup)");
        // TensorProto: dims [2, 2] (packed), int8, name "w", raw data 4 bytes
        let mut t = field(1, 2, &[2, 2]);
        t.extend(field(2, 0, &[3]));
        t.extend(field(8, 2, b"w"));
        t.extend(field(9, 2, &[1, 2, 3, 0xff]));
        // one with float_data (field 4) instead of raw_data: not shared
        let mut u = field(1, 0, &[1]);
        u.extend(field(2, 0, &[1]));
        u.extend(field(8, 2, b"u"));
        let mut graph = field(5, 2, &t);
        graph.extend(field(5, 2, &u));
        graph.extend(field(1, 2, b"node-bytes"));
        let model = [field(1, 0, &[8]), field(7, 2, &graph)].concat();
        let inits = read_initializers(&model).unwrap();
        assert_eq!(inits.len(), 1);
        assert_eq!(inits[0].0, "w");
        assert!(read_initializers(&[0x3a, 0x20, 1]).is_err(), "a truncated message is an error, not a panic");
    }
}
