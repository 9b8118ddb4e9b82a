//! [`FileCheckpointStore`]: one JSON file per checkpoint in a directory.

use std::collections::BTreeSet;
use std::fs;
use std::path::{Path, PathBuf};

use async_trait::async_trait;

use super::{CheckpointObject, CheckpointStore, LoadedCheckpoints, check_writable, validate_key};
use crate::error::{Error, Result};
use crate::vpa::checkpoint::{CheckpointKey, ContainerCheckpoint};

/// The file name suffix of a checkpoint.
const SUFFIX: &str = ".json";

/// Checkpoints as files `<namespace>_<vpaName>_<containerName>.json` in one directory, each holding a
/// `VerticalPodAutoscalerCheckpoint` object ([`CheckpointObject`]).
///
/// `_` cannot occur in Kubernetes names, so a file name maps back to exactly one key ([`validate_key`] refuses
/// keys that would break that). Writes go to a hidden temporary file in the same directory, are flushed to disk
/// and renamed over the target, so a crash leaves the old checkpoint or the new one, never a torn file. Files
/// whose names do not have that form (editor backups, leftover temporary files) are ignored by every method.
/// Several processes may share a directory; the last writer of a key wins.
#[derive(Debug, Clone)]
pub struct FileCheckpointStore {
    dir: PathBuf,
}

impl FileCheckpointStore {
    /// A store in `dir`, creating the directory (and its parents) when missing.
    ///
    /// # Errors
    /// [`ksx_core::Error::Io`] naming `dir` when it cannot be created or is not a directory.
    pub fn create(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        Self::open(dir)
    }

    /// A store in the existing directory `dir`.
    ///
    /// # Errors
    /// [`ksx_core::Error::Io`] naming `dir` when it does not exist or is not a directory.
    pub fn open(dir: impl Into<PathBuf>) -> Result<Self> {
        let dir = dir.into();
        let meta = fs::metadata(&dir).map_err(|e| io_error(&dir, e))?;
        if !meta.is_dir() {
            return Err(io_error(
                &dir,
                std::io::Error::new(std::io::ErrorKind::NotADirectory, "not a directory"),
            ));
        }
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file that holds `key`'s checkpoint.
    ///
    /// # Errors
    /// A key that is not a set of Kubernetes names ([`validate_key`]).
    pub fn path_of(&self, key: &CheckpointKey) -> Result<PathBuf> {
        validate_key(key)?;
        Ok(self.dir.join(format!(
            "{}_{}_{}{SUFFIX}",
            key.namespace, key.vpa_name, key.container_name
        )))
    }

    /// Reads and checks one file; `None` when it does not exist.
    fn read(path: &Path, key: &CheckpointKey) -> Result<Option<ContainerCheckpoint>> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(path, e)),
        };
        let place = path.display().to_string();
        let object = CheckpointObject::parse(&place, &text)?;
        let named = object.key();
        if &named != key {
            return Err(Error::Core(ksx_core::Error::InvalidField {
                object: place,
                field: "spec".to_owned(),
                reason: format!(
                    "holds the checkpoint of {}/{} container {}, but the file name says {}/{} container {}",
                    named.namespace,
                    named.vpa_name,
                    named.container_name,
                    key.namespace,
                    key.vpa_name,
                    key.container_name
                ),
            }));
        }
        Ok(Some(object.status))
    }

    /// Stored keys with their files, sorted by key.
    fn entries(&self) -> Result<Vec<(CheckpointKey, PathBuf)>> {
        let read_dir = fs::read_dir(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        let mut out = Vec::new();
        for entry in read_dir {
            let entry = entry.map_err(|e| io_error(&self.dir, e))?;
            let name = entry.file_name();
            let Some(key) = name.to_str().and_then(key_of_file_name) else {
                continue;
            };
            out.push((key, entry.path()));
        }
        out.sort();
        Ok(out)
    }
}

/// The key a checkpoint file name stands for, or `None` for any other file.
fn key_of_file_name(name: &str) -> Option<CheckpointKey> {
    let stem = name.strip_suffix(SUFFIX)?;
    let mut parts = stem.split('_');
    let key = CheckpointKey {
        namespace: parts.next()?.to_owned(),
        vpa_name: parts.next()?.to_owned(),
        container_name: parts.next()?.to_owned(),
    };
    if parts.next().is_some() || validate_key(&key).is_err() {
        return None;
    }
    Some(key)
}

fn io_error(path: &Path, source: std::io::Error) -> Error {
    Error::Core(ksx_core::Error::Io {
        path: path.to_owned(),
        source,
    })
}

/// Writes `bytes` to `target` atomically (see [`ksx_core::persist::write_atomically`]).
fn write_atomically(target: &Path, bytes: &[u8]) -> Result<()> {
    ksx_core::persist::write_atomically(target, bytes).map_err(Error::Core)
}

#[async_trait]
impl CheckpointStore for FileCheckpointStore {
    async fn save(&self, key: &CheckpointKey, checkpoint: &ContainerCheckpoint) -> Result<()> {
        check_writable(key, checkpoint)?;
        let path = self.path_of(key)?;
        let object = CheckpointObject::new(key, checkpoint.clone());
        let mut bytes = serde_json::to_vec_pretty(&object).map_err(|e| {
            Error::Core(ksx_core::Error::Parse {
                location: path.display().to_string(),
                reason: format!("cannot serialize the checkpoint: {e}"),
            })
        })?;
        bytes.push(b'\n');
        write_atomically(&path, &bytes)
    }

    async fn load(&self, key: &CheckpointKey) -> Result<Option<ContainerCheckpoint>> {
        let path = self.path_of(key)?;
        Self::read(&path, key)
    }

    async fn list(&self) -> Result<Vec<CheckpointKey>> {
        Ok(self.entries()?.into_iter().map(|(key, _)| key).collect())
    }

    async fn delete(&self, key: &CheckpointKey) -> Result<bool> {
        let path = self.path_of(key)?;
        match fs::remove_file(&path) {
            Ok(()) => Ok(true),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(false),
            Err(e) => Err(io_error(&path, e)),
        }
    }

    async fn load_all(&self) -> Result<LoadedCheckpoints> {
        let mut loaded = LoadedCheckpoints::default();
        for (key, path) in self.entries()? {
            match Self::read(&path, &key) {
                Ok(Some(checkpoint)) => loaded.checkpoints.push((key, checkpoint)),
                Ok(None) => {}
                Err(e) => loaded.errors.push(e),
            }
        }
        Ok(loaded)
    }

    async fn collect_orphans(&self, live: &BTreeSet<CheckpointKey>) -> Result<Vec<CheckpointKey>> {
        let mut deleted = Vec::new();
        for (key, path) in self.entries()? {
            if live.contains(&key) {
                continue;
            }
            match fs::remove_file(&path) {
                Ok(()) => deleted.push(key),
                Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
                Err(e) => return Err(io_error(&path, e)),
            }
        }
        Ok(deleted)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn file_names_map_back_to_keys() {
        let key = CheckpointKey {
            namespace: "shop".into(),
            vpa_name: "web.v2".into(),
            container_name: "app".into(),
        };
        let store = FileCheckpointStore {
            dir: PathBuf::from("/x"),
        };
        let path = store.path_of(&key).unwrap();
        assert_eq!(path, PathBuf::from("/x/shop_web.v2_app.json"));
        let name = path.file_name().unwrap().to_str().unwrap();
        assert_eq!(key_of_file_name(name), Some(key));
        for other in [
            "shop_web.json",
            "a_b_c_d.json",
            ".shop_web_app.json.tmp-1-2",
            "shop_web_app.json~",
            "shop__app.json",
        ] {
            assert_eq!(key_of_file_name(other), None, "{other}");
        }
    }
}
