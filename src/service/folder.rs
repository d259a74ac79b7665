//! The models folder as training runs share it (`--models-dir`, possibly with other replicas on a
//! shared volume): a lock per model name so two replicas never train the same name at once, the
//! generation of a bundle (compared before a swap, so a bundle another replica wrote meanwhile is
//! never replaced unnoticed), a swap that can be undone, and the clean-up of what killed runs left.
//!
//! Every path here is `<models-dir>/<name>` or a hidden sibling of it (`.train-<name>`,
//! `.train-<name>.lock`, `.old-<name>`) for a name that passed `models::valid_name`: nothing outside
//! the models folder is ever touched, and no hidden folder is a model.

use std::io::Write;
use std::path::{Path, PathBuf};
use std::time::{Duration, SystemTime};

use crate::model::MANIFEST_FILE;
use crate::service::models::valid_name;

/// The lock file of `name`'s training runs.
fn lock_path(dir: &Path, name: &str) -> PathBuf {
    dir.join(format!(".train-{name}.lock"))
}

/// Where the bundle being replaced waits until the new one serves.
fn aside_path(to: &Path) -> PathBuf {
    to.with_file_name(format!(".old-{}", to.file_name().map(|n| n.to_string_lossy()).unwrap_or_default()))
}

/// This machine's name (a pod's name on Kubernetes): whose lock a lock file is.
fn host() -> String {
    let mut buf = [0u8; 256];
    // SAFETY: the buffer and its length are valid; gethostname writes at most that many bytes.
    let ok = unsafe { libc::gethostname(buf.as_mut_ptr().cast(), buf.len()) } == 0;
    let end = buf.iter().position(|&b| b == 0).unwrap_or(buf.len());
    if ok {
        String::from_utf8_lossy(&buf[..end]).into_owned()
    } else {
        "unknown".into()
    }
}

/// `name`'s training lock, held while a run lives; removed when dropped.
#[derive(Debug)]
pub struct Lock {
    path: PathBuf,
}

impl Lock {
    /// Takes the lock (an exclusive create, atomic on a shared volume). A lock older than
    /// `stale_after` is a crashed replica's and is taken over.
    pub fn take(dir: &Path, name: &str, stale_after: Duration) -> Result<Lock, String> {
        let path = lock_path(dir, name);
        for _ in 0..2 {
            match std::fs::OpenOptions::new().write(true).create_new(true).open(&path) {
                Ok(mut f) => {
                    let _ = writeln!(f, "{} {} {}", host(), std::process::id(), chrono::Utc::now().to_rfc3339());
                    return Ok(Lock { path });
                }
                Err(e) if e.kind() == std::io::ErrorKind::AlreadyExists => {
                    if !is_stale(&path, stale_after) {
                        let holder = std::fs::read_to_string(&path).unwrap_or_default();
                        let holder = holder.split_whitespace().next().unwrap_or("another replica").to_string();
                        return Err(format!("model {name:?} is being trained by {holder} (lock {}); try again when it is done", path.display()));
                    }
                    let _ = std::fs::remove_file(&path);
                }
                Err(e) => return Err(format!("cannot take the training lock {}: {e}", path.display())),
            }
        }
        Err(format!("cannot take the training lock {}", path.display()))
    }
}

impl Drop for Lock {
    fn drop(&mut self) {
        let _ = std::fs::remove_file(&self.path);
    }
}

fn is_stale(path: &Path, stale_after: Duration) -> bool {
    let age = std::fs::metadata(path).and_then(|m| m.modified()).ok().and_then(|t| SystemTime::now().duration_since(t).ok());
    age.is_some_and(|a| a > stale_after)
}

/// Whether `name`'s lock is held by a live run of another process: absent, stale, or written by
/// this machine before this process started (a restart) is not.
fn held_elsewhere(dir: &Path, name: &str, stale_after: Duration) -> bool {
    let path = lock_path(dir, name);
    let Ok(text) = std::fs::read_to_string(&path) else { return false };
    let ours = text.split_whitespace().next() == Some(host().as_str());
    !ours && !is_stale(&path, stale_after)
}

/// A bundle's generation as the folder shows it: its manifest's modification time and size.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct Generation {
    modified: SystemTime,
    len: u64,
}

/// The generation of the bundle at `dir`, none when there is none.
pub fn generation(dir: &Path) -> Option<Generation> {
    let meta = std::fs::metadata(dir.join(MANIFEST_FILE)).ok()?;
    Some(Generation { modified: meta.modified().ok()?, len: meta.len() })
}

/// A bundle put in place of another, which waits aside until [`Swap::keep`] removes it or
/// [`Swap::undo`] puts it back.
#[must_use]
pub struct Swap {
    to: PathBuf,
    aside: Option<PathBuf>,
}

impl Swap {
    /// Puts folder `from` at `to`: the old folder (if any) is renamed aside first, so `to` is never
    /// half-written.
    pub fn put(from: &Path, to: &Path) -> std::io::Result<Swap> {
        let aside = aside_path(to);
        let _ = std::fs::remove_dir_all(&aside);
        let had = to.exists();
        if had {
            std::fs::rename(to, &aside)?;
        }
        if let Err(e) = std::fs::rename(from, to) {
            if had {
                let _ = std::fs::rename(&aside, to);
            }
            return Err(e);
        }
        Ok(Swap { to: to.to_path_buf(), aside: had.then_some(aside) })
    }

    /// The new bundle stays; the old one is removed.
    pub fn keep(self) {
        if let Some(a) = &self.aside {
            let _ = std::fs::remove_dir_all(a);
        }
    }

    /// The old bundle goes back (or, when there was none, the new one is removed).
    pub fn undo(self) {
        let _ = std::fs::remove_dir_all(&self.to);
        if let Some(a) = &self.aside {
            let _ = std::fs::rename(a, &self.to);
        }
    }
}

/// Removes what killed or crashed runs left in `dir`: work folders (`.train-NAME`), bundles set
/// aside (`.old-NAME`, put back when the bundle itself is missing) and stale locks, except for a
/// name another live replica is training. Returns one line per thing done.
pub fn clean_leftovers(dir: &Path, stale_after: Duration) -> Vec<String> {
    let Ok(entries) = std::fs::read_dir(dir) else { return Vec::new() };
    let mut done = Vec::new();
    for e in entries.filter_map(|e| e.ok()) {
        let file = e.file_name().to_string_lossy().into_owned();
        let (kind, name) = if let Some(n) = file.strip_prefix(".train-").and_then(|n| n.strip_suffix(".lock")) {
            ("lock", n)
        } else if let Some(n) = file.strip_prefix(".train-") {
            ("work", n)
        } else if let Some(n) = file.strip_prefix(".old-") {
            ("aside", n)
        } else {
            continue;
        };
        if !valid_name(name) || held_elsewhere(dir, name, stale_after) {
            continue;
        }
        let path = e.path();
        let (outcome, what) = match kind {
            "lock" => (std::fs::remove_file(&path), "removed"),
            "aside" if !dir.join(name).exists() => (std::fs::rename(&path, dir.join(name)), "put back"),
            _ => (std::fs::remove_dir_all(&path), "removed"),
        };
        if outcome.is_ok() {
            done.push(format!("{file}: left by an earlier training run; {what}"));
        }
    }
    done
}

#[cfg(test)]
mod tests {
    use super::*;

    fn bundle(dir: &Path, name: &str, manifest: &str) -> PathBuf {
        let p = dir.join(name);
        std::fs::create_dir_all(&p).unwrap();
        std::fs::write(p.join(MANIFEST_FILE), manifest).unwrap();
        p
    }

    #[test]
    fn one_lock_per_name_released_on_drop_and_taken_over_when_stale() {
        let d = tempfile::tempdir().unwrap();
        let long = Duration::from_secs(3600);
        let lock = Lock::take(d.path(), "bot", long).unwrap();
        let err = Lock::take(d.path(), "bot", long).unwrap_err();
        assert!(err.contains("is being trained by"), "{err}");
        assert!(Lock::take(d.path(), "other", long).is_ok(), "names lock apart");
        drop(lock);
        let again = Lock::take(d.path(), "bot", long).unwrap();
        std::thread::sleep(Duration::from_millis(20));
        let _taken_over = Lock::take(d.path(), "bot", Duration::from_millis(1)).unwrap();
        drop(again);
    }

    #[test]
    fn a_swap_is_kept_or_undone() {
        let d = tempfile::tempdir().unwrap();
        let old = bundle(d.path(), "bot", "old");
        let new = bundle(d.path(), ".train-bot", "new");
        let before = generation(&old);
        Swap::put(&new, &old).unwrap().undo();
        assert_eq!(std::fs::read_to_string(old.join(MANIFEST_FILE)).unwrap(), "old");
        assert_eq!(generation(&old), before);
        let new = bundle(d.path(), ".train-bot", "newer");
        Swap::put(&new, &old).unwrap().keep();
        assert_eq!(std::fs::read_to_string(old.join(MANIFEST_FILE)).unwrap(), "newer");
        assert!(!d.path().join(".old-bot").exists());
        // no bundle before: undo removes the new one
        let fresh = bundle(d.path(), ".train-x", "x");
        Swap::put(&fresh, &d.path().join("x")).unwrap().undo();
        assert!(!d.path().join("x").exists());
        assert_eq!(generation(&d.path().join("x")), None);
    }

    #[test]
    fn leftovers_are_cleaned_but_not_another_replicas_run() {
        let d = tempfile::tempdir().unwrap();
        bundle(d.path(), ".train-dead", "x");
        bundle(d.path(), ".old-gone", "kept aside");
        bundle(d.path(), ".train-alive", "x");
        std::fs::write(d.path().join(".train-alive.lock"), "some-other-host 1 now\n").unwrap();
        std::fs::write(d.path().join(".train-mine.lock"), format!("{} 1 now\n", host())).unwrap();
        let outside = d.path().join("outside");
        std::fs::create_dir_all(&outside).unwrap();
        let done = clean_leftovers(d.path(), Duration::from_secs(3600));
        assert_eq!(done.len(), 3, "{done:?}");
        assert!(!d.path().join(".train-dead").exists());
        assert!(!d.path().join(".train-mine.lock").exists(), "this machine's lock from before a restart");
        assert_eq!(std::fs::read_to_string(d.path().join("gone").join(MANIFEST_FILE)).unwrap(), "kept aside", "put back");
        assert!(d.path().join(".train-alive").exists() && d.path().join(".train-alive.lock").exists());
        assert!(outside.exists());
    }
}
