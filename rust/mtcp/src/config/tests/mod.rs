//! Tests of the configuration parser, one file per submodule under test.
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicUsize, Ordering};

use super::{Config, ConfigError};

mod conf_file;
mod keys;
mod samples;
mod tables;
mod validate;
mod values;

/// A fresh directory under the system temp dir, removed on drop.
pub(super) struct TempDir(PathBuf);

impl TempDir {
    pub(super) fn new(tag: &str) -> TempDir {
        static NEXT: AtomicUsize = AtomicUsize::new(0);
        let n = NEXT.fetch_add(1, Ordering::Relaxed);
        let dir =
            std::env::temp_dir().join(format!("mtcp-config-{}-{tag}-{n}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create temp dir");
        TempDir(dir)
    }
    pub(super) fn path(&self) -> &Path {
        &self.0
    }
    /// Writes `text` to `name` (which may contain `/`) inside the directory.
    pub(super) fn write(&self, name: &str, text: &str) -> PathBuf {
        let path = self.0.join(name);
        if let Some(parent) = path.parent() {
            std::fs::create_dir_all(parent).expect("create parent");
        }
        std::fs::write(&path, text).expect("write test file");
        path
    }
}

impl Drop for TempDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}

/// Parses text as if from `file`, expecting an error.
#[track_caller]
pub(super) fn parse_err(text: &str) -> ConfigError {
    match Config::parse_str(text, None) {
        Ok(c) => panic!("expected an error for {text:?}, got {c:?}"),
        Err(e) => e,
    }
}

/// Asserts an error's place and that its message mentions `needle`.
#[track_caller]
pub(super) fn assert_err(
    e: &ConfigError,
    file: Option<&Path>,
    line: Option<usize>,
    key: Option<&str>,
    needle: &str,
) {
    assert_eq!(e.file.as_deref(), file, "file of {e}");
    assert_eq!(e.line, line, "line of {e}");
    assert_eq!(e.key.as_deref(), key, "key of {e}");
    assert!(
        e.message.contains(needle),
        "message of {e:?} should mention {needle:?}"
    );
}
