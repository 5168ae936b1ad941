//! The fence image as one small file, replaced atomically.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
use std::os::unix::fs::OpenOptionsExt;
use std::path::{Path, PathBuf};

use warden_core::controller::FenceRecord;

use super::errno;
use crate::fence::image::{Image, LEN};
use crate::fence::{apply, FenceStore, FenceStoreError, Fences};

/// The fence records in the file at `path` (the [fence image](crate::fence::image)).
///
/// A store writes the whole image to `path.tmp`, fsyncs it, renames it over
/// `path` and fsyncs the directory: after a crash at any point the file is
/// the old image or the new one, and once `store` returns, the new one
/// survives power loss. A missing file loads as "nobody fenced" (first
/// boot); a file that is there but not a valid image is an error, never
/// "nobody fenced".
#[derive(Debug)]
pub struct FenceFile {
    path: PathBuf,
    tmp: PathBuf,
    dir: PathBuf,
    current: Option<Image>,
    last_error: Option<String>,
}

impl FenceFile {
    /// The store at `path`; nothing is read until [`FenceStore::load`].
    #[must_use]
    pub fn new(path: &Path) -> Self {
        let dir = match path.parent() {
            Some(d) if !d.as_os_str().is_empty() => d.to_owned(),
            _ => PathBuf::from("."),
        };
        let mut tmp = path.as_os_str().to_owned();
        tmp.push(".tmp");
        Self { path: path.to_owned(), tmp: PathBuf::from(tmp), dir, current: None, last_error: None }
    }

    /// The file.
    #[must_use]
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// Whether the file existed at the last load.
    #[must_use]
    pub fn existed(&self) -> bool {
        self.current.is_some_and(|i| i.generation > 0)
    }

    /// What the last failed call did, with the file it failed on (the
    /// trait's error carries only the OS error number).
    #[must_use]
    pub fn last_error(&self) -> Option<&str> {
        self.last_error.as_deref()
    }

    fn read(&mut self) -> Result<Image, FenceStoreError> {
        match fs::read(&self.path) {
            Ok(bytes) => Image::decode(&bytes).map_err(|c| {
                self.last_error = Some(format!("{}: {c}", self.path.display()));
                FenceStoreError::Corrupt(c)
            }),
            Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(Image::default()),
            Err(e) => Err(self.device("read", &self.path.clone(), &e)),
        }
    }

    fn device(&mut self, doing: &str, path: &Path, e: &io::Error) -> FenceStoreError {
        self.last_error = Some(format!("{doing} {}: {e}", path.display()));
        FenceStoreError::Device { code: errno(e) }
    }

    fn write(&mut self, image: &Image) -> Result<(), FenceStoreError> {
        let bytes: [u8; LEN] = image.encode();
        let tmp = self.tmp.clone();
        let mut file = OpenOptions::new()
            .write(true)
            .create(true)
            .truncate(true)
            .mode(0o600)
            .open(&tmp)
            .map_err(|e| self.device("create", &tmp, &e))?;
        file.write_all(&bytes).map_err(|e| self.device("write", &tmp, &e))?;
        file.sync_all().map_err(|e| self.device("fsync", &tmp, &e))?;
        drop(file);
        let path = self.path.clone();
        fs::rename(&tmp, &path).map_err(|e| self.device("rename over", &path, &e))?;
        let dir = self.dir.clone();
        File::open(&dir).and_then(|d| d.sync_all()).map_err(|e| self.device("fsync directory", &dir, &e))
    }
}

impl FenceStore for FenceFile {
    fn load(&mut self) -> Result<Fences, FenceStoreError> {
        let image = self.read()?;
        self.current = Some(image);
        Ok(image.fences)
    }

    fn store(&mut self, record: FenceRecord) -> Result<(), FenceStoreError> {
        let current = match self.current {
            Some(image) => image,
            None => self.read()?,
        };
        let next = Image { generation: current.generation.saturating_add(1), fences: apply(current.fences, record)? };
        // Until the rename is durable, what is on disk is unknown to us:
        // read it again before the next store.
        self.current = None;
        self.write(&next)?;
        self.current = Some(next);
        Ok(())
    }
}
