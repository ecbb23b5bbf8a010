//! Test support: a fresh directory under the system's temporary directory,
//! removed with its contents when the test that made it ends (pass or panic),
//! so `cargo test` leaves nothing behind.

use std::path::{Path, PathBuf};

pub(crate) struct ScratchDir(PathBuf);

impl ScratchDir {
    /// `bufpng-<what>-<pid>-<name>`, emptied if an earlier run left it.
    pub(crate) fn new(what: &str, name: &str) -> ScratchDir {
        let dir = std::env::temp_dir().join(format!("bufpng-{what}-{}-{name}", std::process::id()));
        let _ = std::fs::remove_dir_all(&dir);
        std::fs::create_dir_all(&dir).expect("create a scratch directory");
        ScratchDir(dir)
    }
}

impl std::ops::Deref for ScratchDir {
    type Target = Path;

    fn deref(&self) -> &Path {
        &self.0
    }
}

impl AsRef<Path> for ScratchDir {
    fn as_ref(&self) -> &Path {
        &self.0
    }
}

impl Drop for ScratchDir {
    fn drop(&mut self) {
        let _ = std::fs::remove_dir_all(&self.0);
    }
}
