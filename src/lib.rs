//! Parlance: French/English natural-language understanding as a service.
//!
//! The path of a request: `http` (routes, bodies, errors) → `registry` (which model: by name, by
//! language, or the default) → `pipeline` (text → words → language → tokens → `batcher` queue →
//! `model` → `decode`) → response. `bundle` loads and checks a model
//! bundle; `runtime` finds ONNX Runtime; `eval` scores a bundle through the same pipeline.

pub mod batcher;
pub mod bundle;
pub mod config;
pub mod decode;
pub mod entities;
pub mod eval;
pub mod example;
pub mod eval_report;
pub mod heads;
pub mod http;
pub mod lang;
pub mod loadgen;
pub mod merge;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod rasa;
pub mod registry;
pub mod runtime;
pub mod text;
pub mod train;
