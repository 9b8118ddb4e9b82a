//! [`PostgresCheckpointStore`]: checkpoints as rows of one PostgreSQL table (feature `postgres`).

use std::path::PathBuf;

use async_trait::async_trait;
use tokio_postgres::{Client, NoTls, Row};

use super::{CheckpointStore, LoadedCheckpoints, check_version, check_writable, validate_key};
use crate::error::{Error, Result};
use crate::vpa::checkpoint::{CheckpointKey, ContainerCheckpoint};

/// The table name unless [`PostgresCheckpointStore::connect`] is given another.
pub const DEFAULT_TABLE: &str = "ksx_vpa_checkpoints";

/// Checkpoints in a PostgreSQL table, one row per key:
///
/// | column | type | holds |
/// |---|---|---|
/// | `namespace`, `vpa_name`, `container_name` | `TEXT` (primary key) | the [`CheckpointKey`] |
/// | `version` | `TEXT` | the checkpoint version (`v3`) |
/// | `last_update_time` | `BIGINT` | when the checkpoint was taken, Unix seconds |
/// | `checkpoint` | `TEXT` | the [`ContainerCheckpoint`] as JSON |
///
/// [`PostgresCheckpointStore::connect`] creates the table when it is missing. A save is one upsert, so readers
/// see the old row or the new one. Errors are [`ksx_core::Error::Io`] whose path names the server, database and
/// table (`postgresql://postgres@127.0.0.1:5432/test table ksx_vpa_checkpoints`), with the driver's error as
/// the source; the password never appears.
pub struct PostgresCheckpointStore {
    client: Client,
    table: String,
    /// The quoted table name for SQL text.
    quoted: String,
    /// Server, database and table for error messages.
    place: String,
}

impl std::fmt::Debug for PostgresCheckpointStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresCheckpointStore")
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

impl PostgresCheckpointStore {
    /// Connects with a libpq-style connection string (`host=127.0.0.1 user=postgres dbname=test`, or a
    /// `postgresql://` URL), without TLS, and creates `table` when it does not exist. The connection is driven by
    /// a task on the current tokio runtime.
    ///
    /// # Errors
    /// A table name that is not a plain SQL identifier (`[A-Za-z_][A-Za-z0-9_]*`, at most 63 bytes:
    /// [`Error::InvalidField`]), a connection string that does not parse, a server that cannot be reached, or a
    /// table that cannot be created.
    pub async fn connect(connection: &str, table: &str) -> Result<Self> {
        validate_table(table)?;
        let config: tokio_postgres::Config = connection.parse().map_err(|e| {
            Error::invalid(
                "postgres connection string",
                format!("{e} (expected e.g. \"host=127.0.0.1 user=postgres dbname=test\")"),
            )
        })?;
        let place = describe(&config, table);
        let (client, conn) = config
            .connect(NoTls)
            .await
            .map_err(|e| db_error(&place, "connect", &e))?;
        tokio::spawn(async move {
            // A broken connection shows up as an error on the next query, which names the store.
            let _ = conn.await;
        });
        let quoted = format!("\"{table}\"");
        let store = Self {
            client,
            table: table.to_owned(),
            quoted,
            place,
        };
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {} (\
               namespace TEXT NOT NULL, \
               vpa_name TEXT NOT NULL, \
               container_name TEXT NOT NULL, \
               version TEXT NOT NULL, \
               last_update_time BIGINT NOT NULL, \
               checkpoint TEXT NOT NULL, \
               PRIMARY KEY (namespace, vpa_name, container_name))",
            store.quoted
        );
        store
            .client
            .batch_execute(&create)
            .await
            .map_err(|e| db_error(&store.place, "create the table", &e))?;
        Ok(store)
    }

    /// The table name.
    pub fn table(&self) -> &str {
        &self.table
    }

    /// Drops the table with every checkpoint in it (tests clean up with this).
    ///
    /// # Errors
    /// A failing server.
    pub async fn drop_table(&self) -> Result<()> {
        self.client
            .batch_execute(&format!("DROP TABLE IF EXISTS {}", self.quoted))
            .await
            .map_err(|e| db_error(&self.place, "drop the table", &e))
    }

    /// The row that holds `key`, for error messages.
    fn row_place(&self, key: &CheckpointKey) -> String {
        format!(
            "{} row ({}, {}, {})",
            self.place, key.namespace, key.vpa_name, key.container_name
        )
    }

    /// Parses the `checkpoint` column of `key`'s row.
    fn decode(&self, key: &CheckpointKey, text: &str) -> Result<ContainerCheckpoint> {
        let place = self.row_place(key);
        let value: serde_json::Value = serde_json::from_str(text).map_err(|e| {
            Error::Core(ksx_core::Error::Parse {
                location: format!("{place} column checkpoint"),
                reason: format!("not a checkpoint: {e}"),
            })
        })?;
        check_version(
            &place,
            "checkpoint.version",
            value.get("version").and_then(serde_json::Value::as_str),
        )?;
        serde_json::from_value(value).map_err(|e| {
            Error::Core(ksx_core::Error::Parse {
                location: format!("{place} column checkpoint"),
                reason: format!("not a checkpoint: {e}"),
            })
        })
    }

    fn key_of(&self, row: &Row) -> Result<CheckpointKey> {
        let get = |i: usize| {
            row.try_get::<_, String>(i)
                .map_err(|e| db_error(&self.place, "read a key", &e))
        };
        Ok(CheckpointKey {
            namespace: get(0)?,
            vpa_name: get(1)?,
            container_name: get(2)?,
        })
    }
}

#[async_trait]
impl CheckpointStore for PostgresCheckpointStore {
    async fn save(&self, key: &CheckpointKey, checkpoint: &ContainerCheckpoint) -> Result<()> {
        check_writable(key, checkpoint)?;
        let json = serde_json::to_string(checkpoint).map_err(|e| {
            Error::Core(ksx_core::Error::Parse {
                location: self.row_place(key),
                reason: format!("cannot serialize the checkpoint: {e}"),
            })
        })?;
        let sql = format!(
            "INSERT INTO {} (namespace, vpa_name, container_name, version, last_update_time, checkpoint) \
             VALUES ($1, $2, $3, $4, $5, $6) \
             ON CONFLICT (namespace, vpa_name, container_name) DO UPDATE SET \
             version = EXCLUDED.version, last_update_time = EXCLUDED.last_update_time, \
             checkpoint = EXCLUDED.checkpoint",
            self.quoted
        );
        self.client
            .execute(
                &sql,
                &[
                    &key.namespace,
                    &key.vpa_name,
                    &key.container_name,
                    &checkpoint.version,
                    &checkpoint.last_update_time,
                    &json,
                ],
            )
            .await
            .map_err(|e| db_error(&self.row_place(key), "save", &e))?;
        Ok(())
    }

    async fn load(&self, key: &CheckpointKey) -> Result<Option<ContainerCheckpoint>> {
        validate_key(key)?;
        let sql = format!(
            "SELECT checkpoint FROM {} WHERE namespace = $1 AND vpa_name = $2 AND container_name = $3",
            self.quoted
        );
        let row = self
            .client
            .query_opt(&sql, &[&key.namespace, &key.vpa_name, &key.container_name])
            .await
            .map_err(|e| db_error(&self.row_place(key), "load", &e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let text: String = row
            .try_get(0)
            .map_err(|e| db_error(&self.row_place(key), "load", &e))?;
        self.decode(key, &text).map(Some)
    }

    async fn list(&self) -> Result<Vec<CheckpointKey>> {
        let sql = format!(
            "SELECT namespace, vpa_name, container_name FROM {} ORDER BY namespace, vpa_name, container_name",
            self.quoted
        );
        let rows = self
            .client
            .query(&sql, &[])
            .await
            .map_err(|e| db_error(&self.place, "list", &e))?;
        let mut keys = rows
            .iter()
            .map(|row| self.key_of(row))
            .collect::<Result<Vec<_>>>()?;
        // The database's collation may not order like Rust strings; the trait promises Rust's order.
        keys.sort();
        Ok(keys)
    }

    async fn delete(&self, key: &CheckpointKey) -> Result<bool> {
        validate_key(key)?;
        let sql = format!(
            "DELETE FROM {} WHERE namespace = $1 AND vpa_name = $2 AND container_name = $3",
            self.quoted
        );
        let n = self
            .client
            .execute(&sql, &[&key.namespace, &key.vpa_name, &key.container_name])
            .await
            .map_err(|e| db_error(&self.row_place(key), "delete", &e))?;
        Ok(n > 0)
    }

    async fn load_all(&self) -> Result<LoadedCheckpoints> {
        let sql = format!(
            "SELECT namespace, vpa_name, container_name, checkpoint FROM {}",
            self.quoted
        );
        let rows = self
            .client
            .query(&sql, &[])
            .await
            .map_err(|e| db_error(&self.place, "load", &e))?;
        let mut loaded = LoadedCheckpoints::default();
        for row in &rows {
            let key = self.key_of(row)?;
            let decoded = row
                .try_get::<_, String>(3)
                .map_err(|e| db_error(&self.row_place(&key), "load", &e))
                .and_then(|text| self.decode(&key, &text));
            match decoded {
                Ok(checkpoint) => loaded.checkpoints.push((key, checkpoint)),
                Err(e) => loaded.errors.push(e),
            }
        }
        loaded.checkpoints.sort_by(|a, b| a.0.cmp(&b.0));
        Ok(loaded)
    }
}

/// Accepts plain SQL identifiers only, so the name can be quoted into SQL text safely.
fn validate_table(table: &str) -> Result<()> {
    if ksx_core::persist::is_sql_identifier(table) {
        Ok(())
    } else {
        Err(Error::invalid(
            "postgres table",
            format!(
                "{table:?} is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 bytes)"
            ),
        ))
    }
}

/// `postgresql://user@host:port/db table t`, without the password.
fn describe(config: &tokio_postgres::Config, table: &str) -> String {
    ksx_core::persist::describe_postgres(config, table)
}

fn db_error(place: &str, action: &str, e: &tokio_postgres::Error) -> Error {
    Error::Core(ksx_core::Error::Io {
        path: PathBuf::from(place),
        source: std::io::Error::other(format!("{action}: {e}")),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_identifiers() {
        assert!(validate_table("ksx_vpa_checkpoints_123").is_ok());
        for bad in ["", "1abc", "a-b", "a\"b", "a b", &"x".repeat(64)] {
            assert!(validate_table(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn descriptions_leave_out_the_password() {
        let config: tokio_postgres::Config =
            "host=db.example port=6543 user=vpa password=secret dbname=ckpt"
                .parse()
                .unwrap();
        let d = describe(&config, "t");
        assert_eq!(d, "postgresql://vpa@db.example:6543/ckpt table t");
    }
}
