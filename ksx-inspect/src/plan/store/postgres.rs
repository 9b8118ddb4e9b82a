//! [`PostgresResultStore`]: results as rows of one PostgreSQL table (feature `postgres`).

use async_trait::async_trait;
use tokio_postgres::{Client, NoTls, Row};

use super::{ResultStore, StoreResult};
use crate::plan::error::PlanError;
use crate::plan::result::{InspectResult, ResultEntry, ResultStatus, validate_id};

/// The table name unless [`PostgresResultStore::connect`] is given another.
pub const DEFAULT_TABLE: &str = "ksx_inspect_results";

/// Results in a PostgreSQL table, one row per result:
///
/// | column | type | holds |
/// |---|---|---|
/// | `id` | `TEXT` (primary key) | the result id |
/// | `plan` | `TEXT` (indexed) | the plan |
/// | `status` | `TEXT` | `succeeded`, `partial`, `failed`, `timedOut` |
/// | `started_at` | `TEXT` | RFC 3339 start time (UTC) |
/// | `score`, `danger`, `warning`, `info` | `BIGINT` | the summary, for listings |
/// | `result` | `TEXT` | the [`InspectResult`] as JSON |
///
/// [`PostgresResultStore::connect`] creates the table when missing; a put is one upsert. Errors are
/// [`PlanError::Database`] naming the server, database and table (never the password), or
/// [`PlanError::Corrupt`] naming the row.
pub struct PostgresResultStore {
    client: Client,
    quoted: String,
    place: String,
}

impl std::fmt::Debug for PostgresResultStore {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresResultStore")
            .field("place", &self.place)
            .finish_non_exhaustive()
    }
}

fn db_error(place: &str, action: &str, e: &tokio_postgres::Error) -> PlanError {
    PlanError::Database {
        place: place.to_owned(),
        action: action.to_owned(),
        message: e.to_string(),
    }
}

/// Accepts plain SQL identifiers only, so the name can be quoted into SQL text safely.
fn validate_table(table: &str) -> StoreResult<()> {
    if ksx_core::persist::is_sql_identifier(table) {
        Ok(())
    } else {
        Err(PlanError::InvalidField {
            field: "postgres table".to_owned(),
            reason: format!(
                "{table:?} is not a plain SQL identifier ([A-Za-z_][A-Za-z0-9_]*, at most 63 bytes)"
            ),
        })
    }
}

/// `postgresql://user@host:port/db table t`, without the password.
fn describe(config: &tokio_postgres::Config, table: &str) -> String {
    ksx_core::persist::describe_postgres(config, table)
}

fn count(v: u64) -> i64 {
    i64::try_from(v).unwrap_or(i64::MAX)
}

impl PostgresResultStore {
    /// Connects with a libpq-style connection string or `postgresql://` URL, without TLS, and creates `table`
    /// when it does not exist. The connection is driven by a task on the current tokio runtime.
    ///
    /// # Errors
    /// A table name that is not a plain identifier, a connection string that does not parse, a server that
    /// cannot be reached, or a table that cannot be created.
    pub async fn connect(connection: &str, table: &str) -> StoreResult<Self> {
        validate_table(table)?;
        let config: tokio_postgres::Config =
            connection
                .parse()
                .map_err(|e: tokio_postgres::Error| PlanError::InvalidField {
                    field: "postgres connection string".to_owned(),
                    reason: format!(
                        "{e} (expected e.g. \"host=127.0.0.1 user=postgres dbname=test\")"
                    ),
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
        let store = Self {
            client,
            quoted: format!("\"{table}\""),
            place,
        };
        let create = format!(
            "CREATE TABLE IF NOT EXISTS {q} (\
               id TEXT PRIMARY KEY, \
               plan TEXT NOT NULL, \
               status TEXT NOT NULL, \
               started_at TEXT NOT NULL, \
               score BIGINT NOT NULL, \
               danger BIGINT NOT NULL, \
               warning BIGINT NOT NULL, \
               info BIGINT NOT NULL, \
               result TEXT NOT NULL); \
             CREATE INDEX IF NOT EXISTS \"{t}_plan\" ON {q} (plan)",
            q = store.quoted,
            t = table
        );
        store
            .client
            .batch_execute(&create)
            .await
            .map_err(|e| db_error(&store.place, "create the table", &e))?;
        Ok(store)
    }

    /// Drops the table with every result in it (tests clean up with this).
    ///
    /// # Errors
    /// A failing server.
    pub async fn drop_table(&self) -> StoreResult<()> {
        self.client
            .batch_execute(&format!("DROP TABLE IF EXISTS {}", self.quoted))
            .await
            .map_err(|e| db_error(&self.place, "drop the table", &e))
    }

    fn row_place(&self, id: &str) -> String {
        format!("{} row {id}", self.place)
    }

    fn entry_of(&self, row: &Row) -> StoreResult<ResultEntry> {
        let text = |i: usize| {
            row.try_get::<_, String>(i)
                .map_err(|e| db_error(&self.place, "read a row", &e))
        };
        let number = |i: usize| {
            row.try_get::<_, i64>(i)
                .map(|v| u64::try_from(v).unwrap_or(0))
                .map_err(|e| db_error(&self.place, "read a row", &e))
        };
        let id = text(0)?;
        let status_text = text(2)?;
        let status = ResultStatus::parse(&status_text).ok_or_else(|| PlanError::Corrupt {
            place: format!("{} column status", self.row_place(&id)),
            reason: format!("unknown status {status_text:?}"),
        })?;
        Ok(ResultEntry {
            plan: text(1)?,
            status,
            started_at: text(3)?,
            score: number(4)?,
            danger: number(5)?,
            warning: number(6)?,
            info: number(7)?,
            id,
        })
    }
}

#[async_trait]
impl ResultStore for PostgresResultStore {
    async fn put(&self, result: &InspectResult) -> StoreResult<()> {
        result.validate()?;
        let json = serde_json::to_string(result).map_err(|e| PlanError::Corrupt {
            place: self.row_place(&result.id),
            reason: format!("cannot serialize: {e}"),
        })?;
        let e = result.entry();
        let sql = format!(
            "INSERT INTO {} (id, plan, status, started_at, score, danger, warning, info, result) \
             VALUES ($1, $2, $3, $4, $5, $6, $7, $8, $9) \
             ON CONFLICT (id) DO UPDATE SET plan = EXCLUDED.plan, status = EXCLUDED.status, \
             started_at = EXCLUDED.started_at, score = EXCLUDED.score, danger = EXCLUDED.danger, \
             warning = EXCLUDED.warning, info = EXCLUDED.info, result = EXCLUDED.result",
            self.quoted
        );
        self.client
            .execute(
                &sql,
                &[
                    &e.id,
                    &e.plan,
                    &e.status.as_str(),
                    &e.started_at,
                    &count(e.score),
                    &count(e.danger),
                    &count(e.warning),
                    &count(e.info),
                    &json,
                ],
            )
            .await
            .map_err(|err| db_error(&self.row_place(&e.id), "put", &err))?;
        Ok(())
    }

    async fn get(&self, id: &str) -> StoreResult<Option<InspectResult>> {
        validate_id(id)?;
        let sql = format!("SELECT result FROM {} WHERE id = $1", self.quoted);
        let row = self
            .client
            .query_opt(&sql, &[&id])
            .await
            .map_err(|e| db_error(&self.row_place(id), "get", &e))?;
        let Some(row) = row else {
            return Ok(None);
        };
        let text: String = row
            .try_get(0)
            .map_err(|e| db_error(&self.row_place(id), "get", &e))?;
        let place = format!("{} column result", self.row_place(id));
        let result: InspectResult =
            serde_json::from_str(&text).map_err(|e| PlanError::Corrupt {
                place: place.clone(),
                reason: e.to_string(),
            })?;
        if result.id != id {
            return Err(PlanError::Corrupt {
                place,
                reason: format!("holds result {:?}", result.id),
            });
        }
        Ok(Some(result))
    }

    async fn list(&self, plan: &str) -> StoreResult<Vec<ResultEntry>> {
        let sql = format!(
            "SELECT id, plan, status, started_at, score, danger, warning, info FROM {} WHERE plan = $1",
            self.quoted
        );
        let rows = self
            .client
            .query(&sql, &[&plan])
            .await
            .map_err(|e| db_error(&self.place, "list", &e))?;
        let mut out = rows
            .iter()
            .map(|r| self.entry_of(r))
            .collect::<StoreResult<Vec<_>>>()?;
        // The database's collation may not order like Rust strings.
        out.sort_by(|a, b| (&a.started_at, &a.id).cmp(&(&b.started_at, &b.id)));
        Ok(out)
    }

    async fn plans(&self) -> StoreResult<Vec<String>> {
        let sql = format!("SELECT DISTINCT plan FROM {}", self.quoted);
        let rows = self
            .client
            .query(&sql, &[])
            .await
            .map_err(|e| db_error(&self.place, "list plans", &e))?;
        let mut out = rows
            .iter()
            .map(|r| {
                r.try_get::<_, String>(0)
                    .map_err(|e| db_error(&self.place, "list plans", &e))
            })
            .collect::<StoreResult<Vec<_>>>()?;
        out.sort();
        Ok(out)
    }

    async fn delete(&self, id: &str) -> StoreResult<bool> {
        validate_id(id)?;
        let sql = format!("DELETE FROM {} WHERE id = $1", self.quoted);
        let n = self
            .client
            .execute(&sql, &[&id])
            .await
            .map_err(|e| db_error(&self.row_place(id), "delete", &e))?;
        Ok(n > 0)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn table_names_are_identifiers() {
        assert!(validate_table("ksx_inspect_results_1").is_ok());
        for bad in ["", "1abc", "a-b", "a\"b", "a b", &"x".repeat(64)] {
            assert!(validate_table(bad).is_err(), "{bad:?}");
        }
    }

    #[test]
    fn descriptions_leave_out_the_password() {
        let config: tokio_postgres::Config =
            "host=db.example port=6543 user=ksx password=secret dbname=r"
                .parse()
                .expect("valid connection string");
        assert_eq!(
            describe(&config, "t"),
            "postgresql://ksx@db.example:6543/r table t"
        );
    }
}
