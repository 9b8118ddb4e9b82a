//! [`FileResultStore`]: results as JSON files `<dir>/<plan>/<id>.json` with an index per plan.

use std::fs;
use std::path::{Path, PathBuf};

use async_trait::async_trait;
use serde::{Deserialize, Serialize};

use super::{ResultStore, StoreResult};
use crate::plan::error::PlanError;
use crate::plan::model::is_dns_label;
use crate::plan::result::{InspectResult, ResultEntry, validate_id};

/// The index file of a plan's directory.
pub const INDEX_FILE: &str = "index.json";
const SUFFIX: &str = ".json";

/// The index of one plan's directory: every result's [`ResultEntry`], oldest first.
#[derive(Debug, Clone, Default, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct Index {
    plan: String,
    results: Vec<ResultEntry>,
}

/// Results as files: `<dir>/<plan>/<id>.json` (one [`InspectResult`] each) and `<dir>/<plan>/index.json` (the
/// plan's [`ResultEntry`]s, oldest first), so listing a history never reads the reports.
///
/// Every write goes to a hidden temporary file in the same directory, is flushed and renamed over the target, so
/// a crash leaves the old file or the new one, never a torn one. A missing index is rebuilt from the result
/// files; a corrupt result or index is an error naming the file. Concurrent writers of one plan from several
/// processes may lose each other's index entries (the last writer wins); the result files stay.
#[derive(Debug, Clone)]
pub struct FileResultStore {
    dir: PathBuf,
}

fn io_error(path: &Path, source: std::io::Error) -> PlanError {
    PlanError::Io {
        path: path.to_owned(),
        source,
    }
}

fn write_atomically(target: &Path, bytes: &[u8]) -> StoreResult<()> {
    ksx_core::persist::write_atomically(target, bytes).map_err(|e| match e {
        ksx_core::Error::Io { path, source } => io_error(&path, source),
        other => io_error(target, std::io::Error::other(other.to_string())),
    })
}

fn to_json<T: Serialize>(value: &T, place: &Path) -> StoreResult<Vec<u8>> {
    let mut bytes = serde_json::to_vec_pretty(value).map_err(|e| PlanError::Corrupt {
        place: place.display().to_string(),
        reason: format!("cannot serialize: {e}"),
    })?;
    bytes.push(b'\n');
    Ok(bytes)
}

impl FileResultStore {
    /// A store in `dir`, creating the directory (and its parents) when missing.
    ///
    /// # Errors
    /// [`PlanError::Io`] naming `dir`.
    pub fn create(dir: impl Into<PathBuf>) -> StoreResult<Self> {
        let dir = dir.into();
        fs::create_dir_all(&dir).map_err(|e| io_error(&dir, e))?;
        Ok(Self { dir })
    }

    /// The directory.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// The file of result `id`.
    ///
    /// # Errors
    /// A malformed id.
    pub fn path_of(&self, id: &str) -> StoreResult<PathBuf> {
        let plan = validate_id(id)?;
        Ok(self.dir.join(plan).join(format!("{id}{SUFFIX}")))
    }

    fn plan_dir(&self, plan: &str) -> StoreResult<PathBuf> {
        if !is_dns_label(plan) {
            return Err(PlanError::InvalidField {
                field: "plan".to_owned(),
                reason: format!("{plan:?} is not a plan name"),
            });
        }
        Ok(self.dir.join(plan))
    }

    /// Reads one result file; `None` when it does not exist.
    ///
    /// # Errors
    /// [`PlanError::Corrupt`] naming the file when it does not parse or holds another id.
    pub fn read_file(path: &Path) -> StoreResult<Option<InspectResult>> {
        let text = match fs::read_to_string(path) {
            Ok(text) => text,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(io_error(path, e)),
        };
        let result: InspectResult =
            serde_json::from_str(&text).map_err(|e| PlanError::Corrupt {
                place: path.display().to_string(),
                reason: e.to_string(),
            })?;
        result.validate().map_err(|e| PlanError::Corrupt {
            place: path.display().to_string(),
            reason: e.to_string(),
        })?;
        let expected = format!("{}{SUFFIX}", result.id);
        if path.file_name().and_then(|n| n.to_str()) != Some(expected.as_str()) {
            return Err(PlanError::Corrupt {
                place: path.display().to_string(),
                reason: format!("holds result {:?}, not the one its name says", result.id),
            });
        }
        Ok(Some(result))
    }

    /// Result files of a plan directory, sorted by name (= start time).
    fn result_files(plan_dir: &Path) -> StoreResult<Vec<PathBuf>> {
        let read_dir = match fs::read_dir(plan_dir) {
            Ok(r) => r,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
            Err(e) => return Err(io_error(plan_dir, e)),
        };
        let mut out = Vec::new();
        for entry in read_dir {
            let entry = entry.map_err(|e| io_error(plan_dir, e))?;
            let name = entry.file_name();
            let Some(id) = name.to_str().and_then(|n| n.strip_suffix(SUFFIX)) else {
                continue;
            };
            if validate_id(id).is_ok() {
                out.push(entry.path());
            }
        }
        out.sort();
        Ok(out)
    }

    /// The index of `plan`, rebuilt from the result files when missing.
    fn read_index(&self, plan: &str) -> StoreResult<Index> {
        let plan_dir = self.plan_dir(plan)?;
        let path = plan_dir.join(INDEX_FILE);
        match fs::read_to_string(&path) {
            Ok(text) => {
                let index: Index = serde_json::from_str(&text).map_err(|e| PlanError::Corrupt {
                    place: path.display().to_string(),
                    reason: format!("not a result index: {e}"),
                })?;
                Ok(index)
            }
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
                let mut index = Index {
                    plan: plan.to_owned(),
                    results: Vec::new(),
                };
                for file in Self::result_files(&plan_dir)? {
                    if let Some(result) = Self::read_file(&file)? {
                        index.results.push(result.entry());
                    }
                }
                Ok(index)
            }
            Err(e) => Err(io_error(&path, e)),
        }
    }

    fn write_index(plan_dir: &Path, index: &mut Index) -> StoreResult<()> {
        index
            .results
            .sort_by(|a, b| (&a.started_at, &a.id).cmp(&(&b.started_at, &b.id)));
        let path = plan_dir.join(INDEX_FILE);
        let bytes = to_json(index, &path)?;
        write_atomically(&path, &bytes)
    }
}

#[async_trait]
impl ResultStore for FileResultStore {
    async fn put(&self, result: &InspectResult) -> StoreResult<()> {
        result.validate()?;
        let plan_dir = self.plan_dir(&result.plan)?;
        fs::create_dir_all(&plan_dir).map_err(|e| io_error(&plan_dir, e))?;
        let path = self.path_of(&result.id)?;
        let bytes = to_json(result, &path)?;
        write_atomically(&path, &bytes)?;
        let mut index = self.read_index(&result.plan)?;
        index.results.retain(|e| e.id != result.id);
        index.results.push(result.entry());
        Self::write_index(&plan_dir, &mut index)
    }

    async fn get(&self, id: &str) -> StoreResult<Option<InspectResult>> {
        let path = self.path_of(id)?;
        Self::read_file(&path)
    }

    async fn list(&self, plan: &str) -> StoreResult<Vec<ResultEntry>> {
        let mut index = self.read_index(plan)?;
        index
            .results
            .sort_by(|a, b| (&a.started_at, &a.id).cmp(&(&b.started_at, &b.id)));
        Ok(index.results)
    }

    async fn plans(&self) -> StoreResult<Vec<String>> {
        let read_dir = fs::read_dir(&self.dir).map_err(|e| io_error(&self.dir, e))?;
        let mut out = Vec::new();
        for entry in read_dir {
            let entry = entry.map_err(|e| io_error(&self.dir, e))?;
            let Some(name) = entry.file_name().to_str().map(str::to_owned) else {
                continue;
            };
            if !is_dns_label(&name) || !entry.path().is_dir() {
                continue;
            }
            let has_results = entry.path().join(INDEX_FILE).is_file()
                || !Self::result_files(&entry.path())?.is_empty();
            if has_results && !self.list(&name).await?.is_empty() {
                out.push(name);
            }
        }
        out.sort();
        Ok(out)
    }

    async fn delete(&self, id: &str) -> StoreResult<bool> {
        let path = self.path_of(id)?;
        let plan = validate_id(id)?;
        let plan_dir = self.plan_dir(plan)?;
        let existed = match fs::remove_file(&path) {
            Ok(()) => true,
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => false,
            Err(e) => return Err(io_error(&path, e)),
        };
        if plan_dir.is_dir() {
            let mut index = self.read_index(plan)?;
            let before = index.results.len();
            index.results.retain(|e| e.id != id);
            if index.results.len() != before {
                Self::write_index(&plan_dir, &mut index)?;
            }
        }
        Ok(existed)
    }
}
