//! SQL scalers: `postgresql` and `mysql` (MySQL or MariaDB). The query returns one number (first column of the
//! first row); NULL, no row or a non-numeric value is an error naming the query's source.

use std::time::Duration;

use tokio::sync::Mutex;

use super::{Meta, bounded, reading};
use crate::event::scaler::{MetricSpec, Reading, Scaler, ScalerError};

/// Parses a number the way a SQL driver prints it (`42`, `3.5`, `1e3`, `-0.25`).
fn parse_number(source: &str, text: &str) -> Result<f64, ScalerError> {
    match text.trim().parse::<f64>() {
        Ok(v) if v.is_finite() => Ok(v),
        _ => Err(ScalerError::new(
            source,
            format!("query returned {text:?}, not a number"),
        )),
    }
}

/// `postgresql`: `query` → one number; `targetQueryValue` (required), `activationTargetQueryValue` (0). The
/// connection is `connection` (a libpq `key=value` string or `postgresql://` URL, usually from
/// `connectionFromEnv` or authentication) or `host`, `port` (5432), `userName`, `dbName`, `sslmode`
/// (`disable`; ksx has no TLS for PostgreSQL yet) and `password`.
pub struct PostgresScaler {
    config: String,
    query: String,
    client: Mutex<Option<tokio_postgres::Client>>,
    spec: MetricSpec,
    source: String,
}

impl std::fmt::Debug for PostgresScaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("PostgresScaler")
            .field("source", &self.source)
            .field("query", &self.query)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

/// A PostgreSQL error with the server's message (the driver's own text is only "db error").
fn pg_error(e: &tokio_postgres::Error) -> String {
    match e.as_db_error() {
        Some(db) => format!("{} ({})", db.message(), db.code().code()),
        None => e.to_string(),
    }
}

/// Quotes a libpq connection-string value.
fn libpq_value(v: &str) -> String {
    format!("'{}'", v.replace('\\', "\\\\").replace('\'', "\\'"))
}

impl PostgresScaler {
    /// Reads the keys documented on the type.
    ///
    /// # Errors
    /// A missing or invalid key, or a connection string that does not parse.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
        meta.no_utilization()?;
        let query = meta.required("query")?;
        let target = meta.f64_required("targetQueryValue")?;
        let activation = meta.f64_or("activationTargetQueryValue", 0.0)?;
        let config = match meta.get("connection")? {
            Some(c) => c,
            None => {
                let host = meta
                    .get("host")?
                    .ok_or_else(|| meta.error("metadata.connection (or host) is required"))?;
                let port = meta.port_or("port", 5432)?;
                let user = meta.required("userName")?;
                let db = meta.required("dbName")?;
                let sslmode = meta.or("sslmode", "disable")?;
                let mut c = format!(
                    "host={} port={port} user={} dbname={} sslmode={}",
                    libpq_value(&host),
                    libpq_value(&user),
                    libpq_value(&db),
                    libpq_value(&sslmode)
                );
                if let Some(p) = meta.get("password")? {
                    c.push_str(" password=");
                    c.push_str(&libpq_value(&p));
                }
                c
            }
        };
        let parsed: tokio_postgres::Config = config
            .parse()
            .map_err(|e| meta.error(format!("invalid connection: {e}")))?;
        let hosts: Vec<String> = parsed
            .get_hosts()
            .iter()
            .map(|h| match h {
                tokio_postgres::config::Host::Tcp(h) => h.clone(),
                tokio_postgres::config::Host::Unix(p) => p.display().to_string(),
            })
            .collect();
        let port = parsed.get_ports().first().copied().unwrap_or(5432);
        let db = parsed.get_dbname().unwrap_or("postgres");
        let source = format!("postgresql database {db:?} at {}:{port}", hosts.join(","));
        Ok(Self {
            config,
            query,
            client: Mutex::new(None),
            spec: meta.spec("postgresql", target, activation),
            source,
        })
    }

    async fn value(&self) -> Result<f64, ScalerError> {
        let mut guard = self.client.lock().await;
        if guard.as_ref().is_none_or(tokio_postgres::Client::is_closed) {
            let (client, connection) = tokio_postgres::connect(&self.config, tokio_postgres::NoTls)
                .await
                .map_err(|e| {
                    ScalerError::new(&self.source, format!("cannot connect: {}", pg_error(&e)))
                })?;
            // The connection task ends when the client is dropped.
            tokio::spawn(async move {
                let _ = connection.await;
            });
            *guard = Some(client);
        }
        let client = guard
            .as_ref()
            .ok_or_else(|| ScalerError::new(&self.source, "no connection"))?;
        // The simple query protocol returns text for every type, numeric included.
        let messages = match client.simple_query(&self.query).await {
            Ok(m) => m,
            Err(e) => {
                if client.is_closed() {
                    *guard = None;
                }
                return Err(ScalerError::new(
                    &self.source,
                    format!("query failed: {}", pg_error(&e)),
                ));
            }
        };
        for m in &messages {
            if let tokio_postgres::SimpleQueryMessage::Row(row) = m {
                return match row.try_get(0) {
                    Ok(Some(text)) => parse_number(&self.source, text),
                    Ok(None) => Err(ScalerError::new(&self.source, "query returned NULL")),
                    Err(e) => Err(ScalerError::new(&self.source, format!("query result: {e}"))),
                };
            }
        }
        Err(ScalerError::new(&self.source, "query returned no row"))
    }
}

#[async_trait::async_trait]
impl Scaler for PostgresScaler {
    fn metric_spec(&self) -> &MetricSpec {
        &self.spec
    }

    async fn poll(&self, _now_nanos: i64, timeout: Duration) -> Result<Reading, ScalerError> {
        let value = bounded(&self.source, timeout, self.value()).await?;
        Ok(reading(value, self.spec.activation))
    }
}

/// A parsed MySQL connection.
#[derive(Clone, PartialEq, Eq)]
struct MysqlTarget {
    host: String,
    port: u16,
    user: String,
    password: Option<String>,
    db: Option<String>,
}

impl std::fmt::Debug for MysqlTarget {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlTarget")
            .field("host", &self.host)
            .field("port", &self.port)
            .field("user", &self.user)
            .field("db", &self.db)
            .finish_non_exhaustive()
    }
}

/// Parses a Go driver DSN, `user[:password]@tcp(host[:port])/db[?params]` (or `…@/db` for 127.0.0.1:3306).
fn parse_go_dsn(dsn: &str) -> Result<MysqlTarget, String> {
    let (creds, rest) = dsn
        .rsplit_once('@')
        .ok_or_else(|| "expected user[:password]@tcp(host:port)/dbname".to_owned())?;
    let (user, password) = match creds.split_once(':') {
        Some((u, p)) => (u.to_owned(), Some(p.to_owned())),
        None => (creds.to_owned(), None),
    };
    let (addr, db) = rest
        .split_once('/')
        .ok_or_else(|| "expected /dbname after the address".to_owned())?;
    let db = db.split('?').next().unwrap_or_default();
    let (host, port) = if addr.is_empty() {
        ("127.0.0.1".to_owned(), 3306)
    } else {
        let inner = addr
            .strip_prefix("tcp(")
            .and_then(|a| a.strip_suffix(')'))
            .ok_or_else(|| format!("unsupported address {addr:?}: only tcp(host:port)"))?;
        match inner.rsplit_once(':') {
            Some((h, p)) => (
                h.to_owned(),
                p.parse::<u16>()
                    .map_err(|_| format!("invalid port {p:?}"))?,
            ),
            None => (inner.to_owned(), 3306),
        }
    };
    Ok(MysqlTarget {
        host,
        port,
        user,
        password,
        db: (!db.is_empty()).then(|| db.to_owned()),
    })
}

/// `mysql`: `query` → one number; `queryValue` (required), `activationQueryValue` (0). The connection is
/// `connectionString` (a Go driver DSN `user:password@tcp(host:port)/db`, usually from `connectionStringFromEnv`
/// or authentication) or `host`, `port` (3306), `username`, `dbName` and `password`. Metric `mysql-<dbName>`.
pub struct MysqlScaler {
    target: MysqlTarget,
    query: String,
    conn: Mutex<Option<mysql_async::Conn>>,
    spec: MetricSpec,
    source: String,
}

impl std::fmt::Debug for MysqlScaler {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("MysqlScaler")
            .field("source", &self.source)
            .field("query", &self.query)
            .field("spec", &self.spec)
            .finish_non_exhaustive()
    }
}

impl MysqlScaler {
    /// Reads the keys documented on the type.
    ///
    /// # Errors
    /// A missing or invalid key, or a DSN that does not parse.
    pub fn from_meta(meta: &Meta<'_>) -> Result<Self, ScalerError> {
        meta.no_utilization()?;
        let query = meta.required("query")?;
        let target_value = meta.f64_required("queryValue")?;
        let activation = meta.f64_or("activationQueryValue", 0.0)?;
        let target = match meta.get("connectionString")? {
            Some(dsn) => parse_go_dsn(&dsn)
                .map_err(|e| meta.error(format!("metadata.connectionString: {e}")))?,
            None => MysqlTarget {
                host: meta
                    .get("host")?
                    .ok_or_else(|| meta.error("metadata.connectionString (or host) is required"))?,
                port: meta.port_or("port", 3306)?,
                user: meta.required("username")?,
                password: meta.get("password")?,
                db: Some(meta.required("dbName")?),
            },
        };
        let db = target.db.clone().unwrap_or_default();
        let source = format!("mysql database {db:?} at {}:{}", target.host, target.port);
        Ok(Self {
            spec: meta.spec(&format!("mysql-{db}"), target_value, activation),
            target,
            query,
            conn: Mutex::new(None),
            source,
        })
    }

    async fn value(&self) -> Result<f64, ScalerError> {
        use mysql_async::prelude::Queryable as _;
        let mut guard = self.conn.lock().await;
        // Taken out while in use: a poll cancelled by its timeout drops a connection that may be mid-query.
        let mut conn = match guard.take() {
            Some(c) => c,
            None => {
                let opts = mysql_async::OptsBuilder::default()
                    .ip_or_hostname(self.target.host.clone())
                    .tcp_port(self.target.port)
                    .user(Some(self.target.user.clone()))
                    .pass(self.target.password.clone())
                    .db_name(self.target.db.clone());
                mysql_async::Conn::new(opts)
                    .await
                    .map_err(|e| ScalerError::new(&self.source, format!("cannot connect: {e}")))?
            }
        };
        let row: Option<mysql_async::Row> = match conn.query_first(self.query.as_str()).await {
            Ok(r) => {
                *guard = Some(conn);
                r
            }
            Err(e) => {
                // Server errors leave the connection usable; anything else reconnects next time.
                if matches!(e, mysql_async::Error::Server(_)) {
                    *guard = Some(conn);
                }
                return Err(ScalerError::new(&self.source, format!("query failed: {e}")));
            }
        };
        let row = row.ok_or_else(|| ScalerError::new(&self.source, "query returned no row"))?;
        match row.as_ref(0) {
            None => Err(ScalerError::new(&self.source, "query returned no column")),
            Some(mysql_async::Value::NULL) => {
                Err(ScalerError::new(&self.source, "query returned NULL"))
            }
            Some(mysql_async::Value::Bytes(b)) => {
                parse_number(&self.source, &String::from_utf8_lossy(b))
            }
            #[allow(clippy::cast_precision_loss, reason = "SQL counts far below 2^53")]
            Some(mysql_async::Value::Int(i)) => Ok(*i as f64),
            #[allow(clippy::cast_precision_loss, reason = "SQL counts far below 2^53")]
            Some(mysql_async::Value::UInt(u)) => Ok(*u as f64),
            Some(mysql_async::Value::Float(f)) => Ok(f64::from(*f)),
            Some(mysql_async::Value::Double(d)) => Ok(*d),
            Some(other) => Err(ScalerError::new(
                &self.source,
                format!("query returned {other:?}, not a number"),
            )),
        }
    }
}

#[async_trait::async_trait]
impl Scaler for MysqlScaler {
    fn metric_spec(&self) -> &MetricSpec {
        &self.spec
    }

    async fn poll(&self, _now_nanos: i64, timeout: Duration) -> Result<Reading, ScalerError> {
        let value = bounded(&self.source, timeout, self.value()).await?;
        Ok(reading(value, self.spec.activation))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn go_dsn() {
        let t = parse_go_dsn("root:pw@tcp(db.local:3307)/test?parseTime=true").unwrap();
        assert_eq!(
            (
                t.host.as_str(),
                t.port,
                t.user.as_str(),
                t.password.as_deref(),
                t.db.as_deref()
            ),
            ("db.local", 3307, "root", Some("pw"), Some("test"))
        );
        let t = parse_go_dsn("app@/jobs").unwrap();
        assert_eq!(
            (t.host.as_str(), t.port, t.password),
            ("127.0.0.1", 3306, None)
        );
        assert!(
            parse_go_dsn("root@unix(/tmp/sock)/db")
                .unwrap_err()
                .contains("only tcp")
        );
        assert!(parse_go_dsn("nonsense").is_err());
    }

    proptest::proptest! {
        #[test]
        fn garbage_dsns_never_panic(s in "[ -~]{0,40}") {
            let _ = parse_go_dsn(&s);
        }
    }

    #[test]
    fn numbers() {
        assert_eq!(parse_number("s", " 42.5 ").ok(), Some(42.5));
        assert!(parse_number("s", "NaN").is_err());
        assert!(
            parse_number("s", "abc")
                .unwrap_err()
                .to_string()
                .contains("not a number")
        );
    }

    #[test]
    fn libpq_quoting() {
        assert_eq!(libpq_value("a'b\\c"), "'a\\'b\\\\c'");
    }
}
