//! Atomic file writes: a temporary file in the target's directory, then a
//! rename. Readers see either the old file or the complete new one, never a
//! partial PNG; a failed or abandoned write removes its temporary file.
//!
//! Temporary names are `.<name>.bufpng-<pid>-<n>.tmp`: dot-prefixed so globs
//! like `*.png` skip them, and recognisable if a killed process leaves one.
//! `<name>` is shortened when the whole would exceed 255 bytes, so a final
//! name that the file system accepts is always writable.

use crate::error::FileError;
use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

static COUNTER: AtomicU64 = AtomicU64::new(0);

/// Suffix that marks bufpng's temporary files.
pub const TEMP_SUFFIX: &str = ".tmp";

/// A file being written under a temporary name next to `path`. `commit`
/// renames it into place; dropping it uncommitted removes it, so an error or
/// an interrupt anywhere before `commit` leaves nothing behind. Errors name
/// the target path.
pub struct AtomicFile {
    path: PathBuf,
    temp: PathBuf,
    file: Option<File>,
}

impl AtomicFile {
    /// Creates the temporary file (the target is untouched until `commit`).
    pub fn create(path: &Path) -> Result<AtomicFile, FileError> {
        let fail = |source| FileError {
            path: path.to_path_buf(),
            source,
        };
        let temp = temp_path(path).map_err(fail)?;
        let file = OpenOptions::new()
            .read(true)
            .write(true)
            .create_new(true)
            .open(&temp)
            .map_err(fail)?;
        Ok(AtomicFile {
            path: path.to_path_buf(),
            temp,
            file: Some(file),
        })
    }

    /// The open temporary file, for writing, seeking back and reading.
    pub fn file(&mut self) -> &mut File {
        self.file.as_mut().expect("only commit takes the file")
    }

    /// Wraps an I/O error with the target path.
    pub fn error(&self, source: io::Error) -> FileError {
        FileError {
            path: self.path.clone(),
            source,
        }
    }

    /// Closes the temporary file and renames it to the target path.
    /// `durable`: first fsync the file, and after the rename its directory,
    /// so the new file survives a power loss (a rename without them can
    /// leave an empty file on some file systems).
    pub fn commit(mut self, durable: bool) -> Result<(), FileError> {
        if let (true, Some(file)) = (durable, &self.file) {
            file.sync_all().map_err(|source| self.error(source))?;
        }
        drop(self.file.take());
        // On failure `self` drops here and removes the temporary file.
        fs::rename(&self.temp, &self.path).map_err(|source| self.error(source))?;
        self.temp = PathBuf::new();
        if durable {
            sync_directory(&self.path).map_err(|source| self.error(source))?;
        }
        Ok(())
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        drop(self.file.take());
        if !self.temp.as_os_str().is_empty() {
            // Best effort: nothing more can be done about a failure here.
            let _ = fs::remove_file(&self.temp);
        }
    }
}

/// The longest file name common file systems accept (Linux's NAME_MAX).
const NAME_MAX: usize = 255;

/// Writes `data` to `path` atomically (and `durable`ly: see `commit`);
/// errors name `path`.
pub fn write_atomic(path: &Path, data: &[u8], durable: bool) -> Result<(), FileError> {
    let mut file = AtomicFile::create(path)?;
    let written = file.file().write_all(data);
    written.map_err(|source| file.error(source))?;
    file.commit(durable)
}

/// fsync of the directory holding `path`, which makes a rename in it durable.
fn sync_directory(path: &Path) -> io::Result<()> {
    let directory = match path.parent() {
        Some(parent) if !parent.as_os_str().is_empty() => parent,
        _ => Path::new("."),
    };
    File::open(directory)?.sync_all()
}

fn temp_path(path: &Path) -> io::Result<PathBuf> {
    let name = path.file_name().ok_or_else(|| {
        io::Error::new(
            io::ErrorKind::InvalidInput,
            "path has no file name (it ends in '/' or '..')",
        )
    })?;
    let suffix = format!(
        ".bufpng-{}-{}{TEMP_SUFFIX}",
        std::process::id(),
        COUNTER.fetch_add(1, Ordering::Relaxed)
    );
    let room = NAME_MAX - 1 - suffix.len();
    let mut temp_name = std::ffi::OsString::from(".");
    if name.len() <= room {
        temp_name.push(name);
    } else {
        // pid and counter keep it unique; the name part is only a hint.
        let lossy = name.to_string_lossy();
        let mut end = room;
        while !lossy.is_char_boundary(end) {
            end -= 1;
        }
        temp_name.push(&lossy[..end]);
    }
    temp_name.push(suffix);
    Ok(path.with_file_name(temp_name))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::scratch::ScratchDir;

    fn scratch(name: &str) -> ScratchDir {
        ScratchDir::new("atomic", name)
    }

    fn entries(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> = fs::read_dir(dir)
            .unwrap()
            .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
            .collect();
        names.sort();
        names
    }

    #[test]
    fn writes_and_replaces() {
        let dir = scratch("replace");
        let path = dir.join("a.png");
        write_atomic(&path, b"first", false).unwrap();
        write_atomic(&path, b"second", false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"second");
        write_atomic(&path, b"durable", true).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"durable");
        assert_eq!(entries(&dir), ["a.png"]);
    }

    #[test]
    fn missing_directory_names_the_file_and_leaves_nothing() {
        let dir = scratch("missing");
        let path = dir.join("no/such/dir/a.png");
        let err = write_atomic(&path, b"x", false).unwrap_err();
        assert_eq!(err.path, path);
        assert_eq!(err.source.kind(), io::ErrorKind::NotFound);
        assert!(entries(&dir).is_empty());
    }

    #[test]
    fn names_up_to_the_file_system_limit_are_writable() {
        // Regression: the temporary name (name plus ~25 bytes) exceeded
        // NAME_MAX, so a valid 249-byte name failed with ENAMETOOLONG.
        let dir = scratch("long");
        for name in ["a".repeat(251) + ".png", "é".repeat(125) + ".png"] {
            let path = dir.join(&name);
            write_atomic(&path, b"x", false).unwrap();
            assert_eq!(fs::read(&path).unwrap(), b"x");
        }
        assert_eq!(entries(&dir).len(), 2);
    }

    #[test]
    fn path_that_is_a_directory_keeps_it_and_leaves_no_temp() {
        let dir = scratch("isdir");
        let target = dir.join("taken");
        fs::create_dir(&target).unwrap();
        let err = write_atomic(&target, b"x", false).unwrap_err();
        assert_eq!(err.path, target);
        assert!(target.is_dir());
        assert_eq!(entries(&dir), ["taken"]);
    }

    #[test]
    fn dropped_without_commit_leaves_nothing() {
        let dir = scratch("abandon");
        let path = dir.join("a.png");
        write_atomic(&path, b"old", false).unwrap();
        let mut file = AtomicFile::create(&path).unwrap();
        file.file().write_all(b"partial").unwrap();
        assert_eq!(entries(&dir).len(), 2);
        drop(file);
        assert_eq!(entries(&dir), ["a.png"]);
        assert_eq!(fs::read(&path).unwrap(), b"old");
    }

    #[test]
    fn streamed_writes_can_seek_back_before_commit() {
        use std::io::{Seek, SeekFrom};
        let dir = scratch("seek");
        let path = dir.join("a.png");
        let mut file = AtomicFile::create(&path).unwrap();
        file.file().write_all(b"xxxx tail").unwrap();
        file.file().seek(SeekFrom::Start(0)).unwrap();
        file.file().write_all(b"head").unwrap();
        file.commit(false).unwrap();
        assert_eq!(fs::read(&path).unwrap(), b"head tail");
        assert_eq!(entries(&dir), ["a.png"]);
    }
}
