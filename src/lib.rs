//! Parlance: French/English natural-language understanding as a service.
//!
//! The folders follow a request's path (README, "How a request flows"):
//! `http` (routes, wire types, auth, the error table) → `service` (the served models: select,
//! parse, reload) → `pipeline` (input checks, text → ids, merge, results) → `batcher` (the queue
//! and the inference workers) → `model` (bundles, sessions, the engine, trained heads) → `decode`
//! (logits → intent ranking and BIO spans) → `entities` (the built-in grammar and the entity type).
//! Beside the path: `data` (MASSIVE and Rasa readers), `train` (`parlance train`), `tools`
//! (`eval`, `bench`, the commands), and the leaves `text`, `lang`, `metrics` and `errors` (an
//! error with its causes in one line). `config` turns the command
//! line into a loaded service; `layout` reads the usable cores and chooses the threads of each part.

pub mod batcher;
pub mod config;
pub mod data;
pub mod decode;
pub mod entities;
pub mod errors;
pub mod http;
pub mod lang;
pub mod layout;
pub mod metrics;
pub mod model;
pub mod pipeline;
pub mod service;
pub mod text;
pub mod tools;
pub mod train;
