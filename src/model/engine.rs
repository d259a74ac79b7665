//! The model: one ONNX graph that gives the logits, or a shared frozen encoder with a bundle's
//! linear heads on its outputs; a padded batch run.
//!
//! A `Model` is owned by exactly one inference worker; workers' models on one graph run on one
//! shared session (`crate::model::shared_session`), so no lock sits on the hot path.

use std::path::Path;
use std::sync::{Arc, Mutex};

use ndarray::Array2;
use ort::value::{Tensor, TensorElementType};

use crate::model::files::{MANIFEST_FILE, MODEL_FILE};
use crate::model::heads::encoder::Encoder;
use crate::model::heads::Heads;
use crate::model::manifest::Manifest;
use crate::model::session::{ModelOutput, RunError, SessionSettings};
use crate::model::shared_session::{session_for, RunSession};

/// A whole graph that gives the logits itself.
struct GraphBackend {
    session: Arc<RunSession>,
    input_ids: String,
    attention_mask: String,
    /// Fed as zeros (one segment) when the graph takes it.
    token_type_ids: Option<String>,
    intent_output: String,
    slot_output: Option<String>,
}

/// What computes the logits: a whole graph, or a frozen encoder and linear heads on its outputs.
enum Backend {
    Graph(GraphBackend),
    /// The encoder session is shared by every model loaded on the same encoder (and worker slot).
    Heads {
        encoder: Arc<Mutex<Encoder>>,
        heads: Arc<Heads>,
    },
    /// The encoder alone, serving the jobs of every bot on it: each job brings its own heads.
    Encoder(Arc<Mutex<Encoder>>),
}

pub use crate::model::session::RowOutput;

pub struct Model {
    backend: Backend,
    n_intents: usize,
    n_slot_labels: usize,
    pub pad_id: i64,
}

/// Last dimension of a declared shape, when it is fixed.
fn fixed_last_dim(outlet: &ort::value::Outlet) -> Option<i64> {
    outlet.dtype().tensor_shape().and_then(|s| s.last().copied()).filter(|d| *d > 0)
}

impl Model {
    /// Builds the session and checks the graph's inputs and outputs against the manifest.
    /// Returns every mismatch found.
    pub fn load(path: &Path, manifest: &Manifest, settings: &SessionSettings) -> Result<Model, Vec<String>> {
        let session = session_for(path, settings).map_err(|e| vec![crate::errors::chain(&e)])?;

        let mut problems = Vec::new();
        let has_input = |name: &str| session.inputs().iter().any(|i| i.name() == name);
        // A Hugging Face export may or may not take segment ids (BERT does, RoBERTa does not).
        let token_type_ids =
            manifest.inputs.token_type_ids.clone().filter(|n| manifest.format != crate::model::BundleFormat::HuggingFace || has_input(n));
        let wanted: Vec<&String> =
            [Some(&manifest.inputs.input_ids), Some(&manifest.inputs.attention_mask), token_type_ids.as_ref()].into_iter().flatten().collect();
        for name in &wanted {
            match session.inputs().iter().find(|i| i.name() == name.as_str()) {
                None => problems.push(format!("graph has no input {name:?} named in the manifest")),
                Some(i) if i.dtype().tensor_type() != Some(TensorElementType::Int64) => {
                    problems.push(format!("input {name:?} is {:?}, expected an int64 tensor", i.dtype()))
                }
                Some(_) => {}
            }
        }
        for i in session.inputs() {
            if !wanted.iter().any(|w| w.as_str() == i.name()) {
                problems.push(format!("graph input {:?} is not in the manifest's inputs", i.name()));
            }
        }
        let mut checks = vec![(&manifest.outputs.intent_logits, manifest.intents.len(), 2usize, "intents")];
        if let Some(slot) = &manifest.outputs.slot_logits {
            checks.push((slot, manifest.slot_labels.len(), 3usize, "slot_labels"));
        }
        for (name, labels, rank, what) in checks {
            match session.outputs().iter().find(|o| o.name() == name.as_str()) {
                None => {
                    let found: Vec<&str> = session.outputs().iter().map(|o| o.name()).collect();
                    problems.push(format!("graph has no output {name:?} named in the manifest (it has {found:?})"))
                }
                Some(o) => {
                    if o.dtype().tensor_type() != Some(TensorElementType::Float32) {
                        problems.push(format!("output {name:?} is {:?}, expected a float32 tensor", o.dtype()));
                    }
                    if let Some(shape) = o.dtype().tensor_shape() {
                        if shape.len() != rank {
                            problems.push(format!("output {name:?} has rank {}, expected {rank}", shape.len()));
                        }
                    }
                    if let Some(d) = fixed_last_dim(o) {
                        if d as usize != labels {
                            problems.push(format!(
                                "output {name:?} gives {d} scores but the {} lists {labels} {what}",
                                if manifest.format == crate::model::BundleFormat::HuggingFace { "config's id2label" } else { "manifest" }
                            ));
                        }
                    }
                }
            }
        }
        if !problems.is_empty() {
            return Err(problems);
        }
        let graph = GraphBackend {
            session,
            input_ids: manifest.inputs.input_ids.clone(),
            attention_mask: manifest.inputs.attention_mask.clone(),
            token_type_ids,
            intent_output: manifest.outputs.intent_logits.clone(),
            slot_output: manifest.outputs.slot_logits.clone(),
        };
        Ok(Model {
            backend: Backend::Graph(graph),
            n_intents: manifest.intents.len(),
            n_slot_labels: if manifest.has_slots() { manifest.slot_labels.len() } else { 0 },
            pad_id: 0,
        })
    }

    /// Loads what a bundle's manifest asks for: its own graph, or (kind `heads`) its encoder and
    /// heads. Returns every problem found, each with the file it concerns.
    /// `slot` numbers the inference workers of one model: heads bundles on the same encoder share
    /// one encoder session per slot.
    pub fn load_bundle(dir: &Path, manifest: &Manifest, settings: &SessionSettings, slot: usize) -> Result<Model, Vec<(String, String)>> {
        if manifest.is_heads() {
            return Model::load_heads(dir, manifest, settings, slot);
        }
        let file = MODEL_FILE;
        Model::load(&dir.join(file), manifest, settings).map_err(|p| p.into_iter().map(|m| (file.to_string(), m)).collect())
    }

    /// A heads bundle: the encoder it names (hash checked) and its heads file.
    fn load_heads(dir: &Path, manifest: &Manifest, settings: &SessionSettings, slot: usize) -> Result<Model, Vec<(String, String)>> {
        let man = MANIFEST_FILE.to_string();
        let (Some(r), Some(h)) = (&manifest.encoder, &manifest.heads) else {
            return Err(vec![(man, "kind \"heads\" needs `encoder` and `heads`".into())]);
        };
        let enc_dir = crate::model::heads::resolve_encoder(dir, r).map_err(|m| vec![(man.clone(), m)])?;
        let info = crate::model::heads::encoder::read_encoder_info(&enc_dir, Some((&r.sha256, MANIFEST_FILE)))
            .map_err(|e| vec![(man.clone(), e.to_string())])?;
        if info.hidden_size != r.hidden_size {
            return Err(vec![(man, format!("encoder.hidden_size is {}, the encoder's is {}", r.hidden_size, info.hidden_size))]);
        }
        let n_slots = if manifest.has_slots() { manifest.slot_labels.len() } else { 0 };
        let mut heads = Heads::load(&dir.join(&h.file), info.hidden_size, info.pooled_size(), manifest.intents.len(), n_slots)
            .map_err(|p| p.into_iter().map(|m| (h.file.clone(), m)).collect::<Vec<_>>())?;
        if manifest.fallback_similarity.is_some() && heads.means.is_none() {
            return Err(vec![(
                h.file.clone(),
                "the manifest's fallback_similarity needs the intents' means (tensor \"intent.means\"), which this file lacks".into(),
            )]);
        }
        if let Some(spec) = &h.adapted {
            heads.top = Some(Arc::new(load_adapted(dir, spec, &info, &enc_dir).map_err(|m| vec![(spec.file.clone(), m)])?.for_serving()));
            // the encoder's layers the change was added to, and the f32 weights, are gone: their
            // pages go back to the system (six layers: 43 MB read for each bot loaded)
            crate::model::runtime::release_freed_memory();
        }
        let tokenizer = |info: &_| crate::model::heads::encoder::read_encoder_tokenizer(&enc_dir, info);
        // layers on the graph below them run on that graph, shared by every such bot
        let lower = h.adapted.as_ref().and_then(|a| a.graph.as_deref().map(|g| (g, a.input.as_str())));
        let encoder = crate::model::heads::encoder::shared(&enc_dir, lower, info, tokenizer, settings, slot)
            .map_err(|e| vec![(man, crate::errors::chain(&e))])?;
        let (pad_id, outputs) = {
            let e = encoder.lock().map_err(|_| vec![(String::new(), "encoder lock poisoned".to_string())])?;
            (e.pad_id, e.session.outputs().iter().map(|o| o.name().to_string()).collect::<Vec<_>>())
        };
        if let Some(input) = heads.reads().filter(|i| !outputs.iter().any(|o| o == i)) {
            return Err(vec![(MANIFEST_FILE.into(), format!("heads.adapted.input {input:?} is not an output of the encoder (it has {outputs:?})"))]);
        }
        Ok(Model { backend: Backend::Heads { encoder, heads: Arc::new(heads) }, n_intents: manifest.intents.len(), n_slot_labels: n_slots, pad_id })
    }

    /// A heads bundle's heads (they run on a shared encoder's output).
    pub fn heads(&self) -> Option<Arc<Heads>> {
        match &self.backend {
            Backend::Heads { heads, .. } => Some(heads.clone()),
            _ => None,
        }
    }

    /// The same model's encoder alone, for a queue shared by every bot on that encoder; with the
    /// session's identity, which names the queue.
    pub fn encoder_only(&self) -> Option<(usize, Model)> {
        let Backend::Heads { encoder, .. } = &self.backend else { return None };
        let model = Model { backend: Backend::Encoder(encoder.clone()), n_intents: 0, n_slot_labels: 0, pad_id: self.pad_id };
        Some((Arc::as_ptr(encoder) as usize, model))
    }

    /// Runs queued items as one batch: each item's row of the output, its padding cut off. On a
    /// shared encoder, `heads[i]` is item i's bot (an item without heads is refused).
    pub fn run_rows(&mut self, items: &[Vec<i64>], heads: &[Option<Arc<Heads>>]) -> Result<Vec<RowOutput>, RunError> {
        if let Backend::Encoder(encoder) = &self.backend {
            // an adapted bot's rows need the states its own top layer reads (bots on one encoder
            // read the same output: the encoder's top-layer.json names it)
            let keep = heads.iter().flatten().find_map(|h| h.reads());
            let out = encoder.lock().map_err(|_| RunError::Poisoned)?.run_keeping(items, keep)?;
            return items
                .iter()
                .zip(heads)
                .enumerate()
                .map(|(r, (item, h))| h.as_ref().ok_or(RunError::NoHeads)?.apply_row(&out, r, item.len()))
                .collect();
        }
        let out = self.run(items)?;
        let rows = items.iter().enumerate();
        Ok(rows
            .map(|(r, item)| RowOutput {
                intent_logits: out.intent_logits.row(r).to_vec(),
                slot_logits: out.slot_logits.slice(ndarray::s![r, ..item.len(), ..]).to_owned(),
                similarity: out.similarity.as_ref().map(|s| s[r]),
            })
            .collect())
    }

    /// Runs the largest batch the queue can form (`n` items of `width` padding tokens) once, so
    /// that ONNX Runtime's arena is sized at start. A shared encoder session is warmed once, by the
    /// first bot on it.
    pub fn warm_up(&mut self, n: usize, width: usize) -> Result<(), RunError> {
        let filler = vec![vec![self.pad_id; width]; n];
        if let Backend::Heads { encoder, .. } | Backend::Encoder(encoder) = &self.backend {
            let e = encoder.lock().map_err(|_| RunError::Poisoned)?;
            if !e.session.warmed_for(n * width) {
                e.run(&filler)?;
            }
            return Ok(());
        }
        if let Backend::Graph(g) = &self.backend {
            if g.session.warmed_for(n * width) {
                return Ok(());
            }
        }
        self.run(&filler).map(|_| ())
    }

    /// Runs token id sequences as one batch, padded to the longest.
    pub fn run(&mut self, items: &[Vec<i64>]) -> Result<ModelOutput, RunError> {
        let batch = items.len();
        let width = items.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let out = match &mut self.backend {
            Backend::Graph(g) => g.run(items, self.pad_id)?,
            Backend::Heads { encoder, heads } => {
                let out = encoder.lock().map_err(|_| RunError::Poisoned)?.run_keeping(items, heads.reads())?;
                heads.apply(&out)?
            }
            Backend::Encoder(_) => return Err(RunError::NoLogits),
        };
        if out.intent_logits.shape() != [batch, self.n_intents] {
            return Err(RunError::Output(format!(
                "intent output has shape {:?}, expected [{batch}, {}] (batch, intents in the manifest)",
                out.intent_logits.shape(),
                self.n_intents
            )));
        }
        if out.slot_logits.shape() != [batch, width, self.n_slot_labels] {
            return Err(RunError::Output(format!(
                "slot output has shape {:?}, expected [{batch}, {width}, {}] (batch, tokens, slot labels in the manifest)",
                out.slot_logits.shape(),
                self.n_slot_labels
            )));
        }
        Ok(out)
    }
}

/// A bot's adapted top layer(s), checked against the encoder it runs on (whose own top layers
/// they are added to, when stored as changes: those layers' hash checked; the graph below them,
/// when they run on one, checked against the encoder folder's).
fn load_adapted(
    dir: &Path,
    spec: &crate::model::manifest::TopLayerSpec,
    info: &crate::model::heads::encoder::EncoderInfo,
    enc_dir: &Path,
) -> Result<crate::model::heads::stack::Stack, String> {
    spec.check()?;
    if spec.hidden != info.hidden_size {
        return Err(format!("the adapted layer is {} wide, the encoder {}", spec.hidden, info.hidden_size));
    }
    if !info.pool_outputs.contains(&spec.replaces) {
        return Err(format!("the adapted layer replaces {:?}, which the encoder does not pool ({:?})", spec.replaces, info.pool_outputs));
    }
    if spec.graph.is_some() && !info.pool_outputs.iter().all(|p| spec.outputs().contains(p)) {
        return Err(format!("layers on the graph below them must give every pooled output {:?}; they give {:?}", info.pool_outputs, spec.outputs()));
    }
    if spec.file.contains(['/', '\\']) || spec.file.starts_with('.') {
        return Err(format!("heads.adapted.file {:?} must be a file name inside the bundle", spec.file));
    }
    use crate::model::heads::stack::{encoder_stack, spec_file, Stack};
    if let (Some(g), Some(want)) = (&spec.graph, &spec.graph_sha256) {
        let got = crate::model::heads::encoder::file_sha256(&enc_dir.join(g)).map_err(|e| e.to_string())?;
        if !got.eq_ignore_ascii_case(want) {
            return Err(format!("the layers run on {g} with sha256 {want}; the encoder's (in {}) has {got}", enc_dir.display()));
        }
    }
    let Some(want) = &spec.base_sha256 else { return Stack::load(&dir.join(&spec.file), spec, None) };
    let offers = spec_file(spec.layers);
    let (base, sha) = encoder_stack(enc_dir, spec.layers)?.ok_or_else(|| {
        format!("the layers are stored as changes from the encoder's top layers, and {} offers none (no {offers})", enc_dir.display())
    })?;
    if &sha != want {
        return Err(format!("the layer is a change from a top layer with sha256 {want}; the encoder's (in {}) has {sha}", enc_dir.display()));
    }
    Stack::load(&dir.join(&spec.file), spec, Some(&base))
}

impl GraphBackend {
    fn run(&self, items: &[Vec<i64>], pad_id: i64) -> Result<ModelOutput, RunError> {
        let batch = items.len();
        let width = items.iter().map(Vec::len).max().unwrap_or(0).max(1);
        let mut ids = Array2::<i64>::from_elem((batch, width), pad_id);
        let mut mask = Array2::<i64>::zeros((batch, width));
        for (r, item) in items.iter().enumerate() {
            for (c, &id) in item.iter().enumerate() {
                ids[[r, c]] = id;
                mask[[r, c]] = 1;
            }
        }
        let mut inputs = vec![
            (self.input_ids.as_str(), Tensor::from_array(ids)?.into_dyn()),
            (self.attention_mask.as_str(), Tensor::from_array(mask)?.into_dyn()),
        ];
        if let Some(name) = &self.token_type_ids {
            inputs.push((name.as_str(), Tensor::from_array(Array2::<i64>::zeros((batch, width)))?.into_dyn()));
        }
        let mut names = vec![self.intent_output.as_str()];
        names.extend(self.slot_output.as_deref());
        let mut outputs = self.session.run(&inputs, &names)?.into_iter();
        let intent = outputs.next().ok_or_else(|| RunError::Output("intent output missing".into()))?;
        let slots = match &self.slot_output {
            Some(_) => outputs.next().ok_or_else(|| RunError::Output("slot output missing".into()))?,
            None => ndarray::ArrayD::zeros(vec![batch, width, 0]),
        };
        let intent_logits = intent.into_dimensionality()?;
        let slot_logits = slots.into_dimensionality()?;
        Ok(ModelOutput { intent_logits, slot_logits, similarity: None })
    }
}
