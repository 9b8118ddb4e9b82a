//! Small pieces every durable store of ksx needs (VPA checkpoints, inspection results): an atomic file write,
//! the SQL identifier rule for table names quoted into SQL text, and a password-free description of a
//! PostgreSQL target for error messages (feature `postgres`).

use std::fs;
use std::io::Write as _;
use std::path::Path;
use std::sync::atomic::{AtomicU64, Ordering};

use crate::error::{Error, Result};

/// Distinguishes temporary files of concurrent writers in one process.
static TEMP_COUNTER: AtomicU64 = AtomicU64::new(0);

/// Writes `bytes` to `target` atomically: a temporary file in the same directory, flushed, then renamed over
/// `target`, then the directory synced where the platform allows (otherwise only the new name may be lost on a
/// power cut, leaving the previous content). A failed write leaves no temporary file behind.
///
/// # Errors
/// [`Error::Io`] naming the temporary file (writing) or `target` (renaming).
pub fn write_atomically(target: &Path, bytes: &[u8]) -> Result<()> {
    let dir = target
        .parent()
        .filter(|d| !d.as_os_str().is_empty())
        .unwrap_or_else(|| Path::new("."));
    let file_name = target
        .file_name()
        .map(|n| n.to_string_lossy().into_owned())
        .unwrap_or_default();
    let temp = dir.join(format!(
        ".{file_name}.tmp-{}-{}",
        std::process::id(),
        TEMP_COUNTER.fetch_add(1, Ordering::Relaxed)
    ));
    let written = (|| {
        let mut file = fs::File::create(&temp)?;
        file.write_all(bytes)?;
        file.sync_all()
    })();
    if let Err(source) = written {
        let _ = fs::remove_file(&temp);
        return Err(Error::Io { path: temp, source });
    }
    if let Err(source) = fs::rename(&temp, target) {
        let _ = fs::remove_file(&temp);
        return Err(Error::Io {
            path: target.to_owned(),
            source,
        });
    }
    if let Ok(d) = fs::File::open(dir) {
        let _ = d.sync_all();
    }
    Ok(())
}

/// Whether `name` is a plain SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes, PostgreSQL's limit), so
/// it can be quoted into SQL text safely.
pub fn is_sql_identifier(name: &str) -> bool {
    let mut chars = name.chars();
    chars
        .next()
        .is_some_and(|c| c.is_ascii_alphabetic() || c == '_')
        && chars.all(|c| c.is_ascii_alphanumeric() || c == '_')
        && name.len() <= 63
}

/// `postgresql://user@host:port/db table t` for error messages: never the password.
#[cfg(feature = "postgres")]
#[cfg_attr(docsrs, doc(cfg(feature = "postgres")))]
pub fn describe_postgres(config: &tokio_postgres::Config, table: &str) -> String {
    let host = config
        .get_hosts()
        .first()
        .map(|h| match h {
            tokio_postgres::config::Host::Tcp(name) => name.clone(),
            #[cfg(unix)]
            tokio_postgres::config::Host::Unix(path) => path.display().to_string(),
        })
        .unwrap_or_else(|| "localhost".to_owned());
    let port = config.get_ports().first().copied().unwrap_or(5432);
    let user = config.get_user().unwrap_or("");
    let db = config.get_dbname().unwrap_or(user);
    let at = if user.is_empty() {
        String::new()
    } else {
        format!("{user}@")
    };
    format!("postgresql://{at}{host}:{port}/{db} table {table}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn writes_replace_the_whole_file_and_leave_no_temporary() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("state.json");
        write_atomically(&target, b"first, longer content").expect("write");
        write_atomically(&target, b"second").expect("rewrite");
        assert_eq!(fs::read(&target).expect("read"), b"second");
        let names: Vec<_> = fs::read_dir(dir.path())
            .expect("list")
            .map(|e| e.expect("entry").file_name())
            .collect();
        assert_eq!(names, ["state.json"]);
    }

    #[test]
    fn a_missing_directory_names_the_temporary_file() {
        let dir = tempfile::tempdir().expect("temp dir");
        let target = dir.path().join("gone/state.json");
        let err = write_atomically(&target, b"x").expect_err("no directory");
        assert!(
            matches!(&err, Error::Io { path, .. } if path.starts_with(dir.path().join("gone"))),
            "{err}"
        );
    }

    #[test]
    fn identifiers() {
        for ok in ["a", "_t", "ksx_checkpoints_1", &"x".repeat(63)] {
            assert!(is_sql_identifier(ok), "{ok}");
        }
        for bad in ["", "1a", "a-b", "a b", "a;drop", "é", &"x".repeat(64)] {
            assert!(!is_sql_identifier(bad), "{bad}");
        }
    }

    #[cfg(feature = "postgres")]
    #[test]
    fn descriptions_leave_out_the_password() {
        let config: tokio_postgres::Config = "postgresql://ksx:secret@db.example:6543/metrics"
            .parse()
            .expect("config");
        let text = describe_postgres(&config, "t1");
        assert_eq!(text, "postgresql://ksx@db.example:6543/metrics table t1");
    }
}
