//! The model layer: a bundle read from its folder and checked (`bundle`, `manifest`, `hf`,
//! `files`), the ONNX Runtime session it runs on (`session`, `runtime`), and the engine that turns
//! a batch of token ids into logits (`engine`): a whole graph, or a shared frozen encoder with a
//! trained bundle's linear `heads`.
//!
//! Files inside this folder import each other by their own paths; the re-exports below are for the
//! layers above.

pub mod bundle;
pub mod engine;
pub mod files;
pub mod heads;
pub mod hf;
pub mod manifest;
pub mod runtime;
pub mod session;
pub mod shared_session;
pub mod weights;

pub use bundle::{detect_format, Bundle, BundleError};
pub use engine::Model;
pub use files::{
    read_bounded, read_text, Problem, HF_CONFIG_FILE, MANIFEST_FILE, MAX_JSON_BYTES, MAX_MODEL_BYTES, MAX_TOKENIZER_BYTES, MODEL_FILE, TOKENIZER_FILE,
};
pub use manifest::{
    schema_problems, BundleFormat, EncoderRef, GraphInputs, GraphOutputs, HeadsRef, Manifest, SlotTransitions, KIND_HEADS, MANIFEST_SCHEMA,
};
pub use session::{build_session, optimizer_list, ModelOutput, RunError, SessionError, SessionSettings, DEFAULT_DISABLED_OPTIMIZERS};
