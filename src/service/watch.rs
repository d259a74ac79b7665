//! The models folder (`--models-dir`): every bundle folder in it is served under its folder's name,
//! at start and, with `--watch-seconds`, whenever one appears or its manifest changes. This is how
//! a model trained over HTTP on one replica reaches the others that share the folder (a shared
//! volume; docs/deploy.md), and how a restart serves it again.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::{Duration, SystemTime};

use crate::model::MANIFEST_FILE;
use crate::service::models::valid_name;
use crate::service::registry::Registry;

/// The bundle folders of `dir`: (name, folder, when its manifest last changed). Hidden folders
/// (a training run's work folder) and folders without a manifest are left out.
pub fn bundles_in(dir: &Path) -> Vec<(String, PathBuf, SystemTime)> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut out: Vec<_> = entries
        .filter_map(|e| e.ok())
        .filter_map(|e| {
            let name = e.file_name().to_str()?.to_string();
            let changed = std::fs::metadata(e.path().join(MANIFEST_FILE)).ok()?.modified().ok()?;
            (valid_name(&name) && !name.starts_with('.')).then(|| (name, e.path(), changed))
        })
        .collect();
    out.sort();
    out
}

/// Serves what `dir` holds that is not served yet, and reloads a served model whose manifest
/// changed after it was loaded; a model served from another folder under the same name is left
/// alone. Returns what it did, one line per model.
pub async fn sync(registry: &Registry, dir: &Path) -> Vec<String> {
    sync_once(registry, dir, &mut Refused::new()).await
}

/// Bundles that failed to load, with the manifest time they failed at: not tried (nor logged)
/// again until their manifest changes.
pub type Refused = HashMap<String, SystemTime>;

/// [`sync`], skipping the bundles of `refused` that have not changed since they failed.
pub async fn sync_once(registry: &Registry, dir: &Path, refused: &mut Refused) -> Vec<String> {
    let mut done = Vec::new();
    for (name, path, changed) in bundles_in(dir) {
        let action = match registry.get(&name) {
            None => "added",
            Some(s) if same_folder(&s.path, &path) && changed > s.loaded_at => "reloaded",
            Some(_) => continue,
        };
        if refused.get(&name) == Some(&changed) {
            continue;
        }
        match registry.add_or_reload(&name, path.clone()).await {
            Ok(s) => {
                refused.remove(&name);
                done.push(format!("{name}: {action} from {} (generation {})", path.display(), s.generation));
            }
            Err(e) => {
                refused.insert(name.clone(), changed);
                tracing::warn!(model = %name, path = %path.display(), error = %e, "models folder: bundle not served (told once until it changes)");
                done.push(format!("{name}: not served: {e}"));
            }
        }
    }
    done
}

fn same_folder(a: &Path, b: &Path) -> bool {
    a == b || matches!((a.canonicalize(), b.canonicalize()), (Ok(x), Ok(y)) if x == y)
}

/// Syncs `dir` every `every`, for ever (a task of the server).
pub async fn watch(registry: Arc<Registry>, dir: PathBuf, every: Duration) {
    let mut refused = Refused::new();
    loop {
        tokio::time::sleep(every).await;
        for line in sync_once(&registry, &dir, &mut refused).await {
            tracing::info!(folder = %dir.display(), "{line}");
        }
    }
}
