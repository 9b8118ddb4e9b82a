//! `postgresql` and `mysql` against the real PostgreSQL (127.0.0.1:5432, user postgres, db test) and MariaDB
//! (127.0.0.1:3306, root without password, db test).
#![cfg(feature = "scalers")]

mod scalers_support;

use mysql_async::prelude::Queryable as _;
use scalers_support::{
    TIMEOUT, build_error, dead_address, read, read_err, scaler, unique, with_cleanup,
};

const PG: &str = "host=127.0.0.1 port=5432 user=postgres dbname=test";

async fn pg() -> tokio_postgres::Client {
    let (client, conn) =
        tokio::time::timeout(TIMEOUT, tokio_postgres::connect(PG, tokio_postgres::NoTls))
            .await
            .expect("connect timed out")
            .expect("connect to PostgreSQL at 127.0.0.1:5432 as postgres, db test");
    tokio::spawn(async move {
        let _ = conn.await;
    });
    client
}

#[tokio::test]
async fn postgresql_value_activation_and_errors() {
    let table = unique("pg_jobs");
    let client = pg().await;
    client
        .batch_execute(&format!(
            "CREATE TABLE {table} (id serial primary key, state text)"
        ))
        .await
        .expect("create table");
    let t = table.clone();
    let body = async move {
        let table = t;
        client
            .batch_execute(&format!("INSERT INTO {table} (state) VALUES ('queued')"))
            .await
            .expect("insert");
        let query = format!("SELECT count(*) FROM {table} WHERE state = 'queued'");
        let s = scaler(
            "postgresql",
            &[
                ("host", "127.0.0.1"),
                ("userName", "postgres"),
                ("dbName", "test"),
                ("query", &query),
                ("targetQueryValue", "2"),
                ("activationTargetQueryValue", "1"),
            ],
        );
        assert_eq!(s.metric_spec().metric_name, "s0-postgresql");
        let r = read(s.as_ref()).await;
        // 1 row is not above activation 1.
        assert!((r.value - 1.0).abs() < f64::EPSILON && !r.active, "{r:?}");
        client
            .batch_execute(&format!(
                "INSERT INTO {table} (state) VALUES ('queued'), ('queued'), ('done')"
            ))
            .await
            .expect("insert");
        let r = read(s.as_ref()).await;
        assert!((r.value - 3.0).abs() < f64::EPSILON && r.active, "{r:?}");

        // A libpq connection string and a numeric result.
        let s = scaler(
            "postgresql",
            &[
                ("connection", PG),
                ("query", "SELECT 2.5::numeric"),
                ("targetQueryValue", "1"),
            ],
        );
        let r = read(s.as_ref()).await;
        assert!((r.value - 2.5).abs() < f64::EPSILON && r.active, "{r:?}");

        let s = scaler(
            "postgresql",
            &[
                ("connection", PG),
                ("query", "SELECT NULL"),
                ("targetQueryValue", "1"),
            ],
        );
        assert!(read_err(s.as_ref()).await.contains("NULL"));
        let s = scaler(
            "postgresql",
            &[
                ("connection", PG),
                ("query", "SELECT count(*) FROM ksx_no_such_table"),
                ("targetQueryValue", "1"),
            ],
        );
        let e = read_err(s.as_ref()).await;
        assert!(
            e.starts_with("postgresql database \"test\" at 127.0.0.1:5432: query failed")
                && e.contains("does not exist"),
            "{e}"
        );
    };
    with_cleanup(body, async {
        pg().await
            .batch_execute(&format!("DROP TABLE IF EXISTS {table}"))
            .await
            .expect("drop table");
    })
    .await;
}

#[tokio::test]
async fn postgresql_wrong_address_and_metadata() {
    let dead = dead_address();
    let (host, port) = dead.rsplit_once(':').expect("host:port");
    let s = scaler(
        "postgresql",
        &[
            ("host", host),
            ("port", port),
            ("userName", "postgres"),
            ("dbName", "test"),
            ("query", "SELECT 1"),
            ("targetQueryValue", "1"),
        ],
    );
    let e = read_err(s.as_ref()).await;
    assert!(
        e.starts_with(&format!(
            "postgresql database \"test\" at {dead}: cannot connect"
        )),
        "{e}"
    );
    assert_eq!(
        build_error("postgresql", &[("connection", PG), ("query", "SELECT 1")]),
        "triggers[0] (postgresql): metadata.targetQueryValue is required"
    );
    assert!(
        build_error(
            "postgresql",
            &[("query", "SELECT 1"), ("targetQueryValue", "1")]
        )
        .contains("metadata.connection (or host) is required")
    );
}

fn maria_opts() -> mysql_async::OptsBuilder {
    mysql_async::OptsBuilder::default()
        .ip_or_hostname("127.0.0.1")
        .tcp_port(3306)
        .user(Some("root"))
        .db_name(Some("test"))
}

#[tokio::test]
async fn mysql_value_activation_and_errors() {
    let table = unique("my_jobs");
    let mut conn = tokio::time::timeout(TIMEOUT, mysql_async::Conn::new(maria_opts()))
        .await
        .expect("connect timed out")
        .expect("connect to MariaDB at 127.0.0.1:3306 as root, db test");
    conn.query_drop(format!(
        "CREATE TABLE {table} (id int primary key auto_increment, n decimal(10,2))"
    ))
    .await
    .expect("create table");
    let t = table.clone();
    let body = async move {
        let table = t;
        conn.query_drop(format!("INSERT INTO {table} (n) VALUES (1.25), (2.25)"))
            .await
            .expect("insert");
        let sum = format!("SELECT SUM(n) FROM {table}");
        let s = scaler(
            "mysql",
            &[
                ("host", "127.0.0.1"),
                ("username", "root"),
                ("dbName", "test"),
                ("query", &sum),
                ("queryValue", "2"),
                ("activationQueryValue", "3.5"),
            ],
        );
        assert_eq!(s.metric_spec().metric_name, "s0-mysql-test");
        let r = read(s.as_ref()).await;
        // A DECIMAL arrives as text: 3.50, not above 3.5.
        assert!((r.value - 3.5).abs() < 1e-9 && !r.active, "{r:?}");
        conn.query_drop(format!("INSERT INTO {table} (n) VALUES (0.5)"))
            .await
            .expect("insert");
        let r = read(s.as_ref()).await;
        assert!((r.value - 4.0).abs() < 1e-9 && r.active, "{r:?}");

        // A Go DSN and an integer count.
        let count = format!("SELECT COUNT(*) FROM {table}");
        let s = scaler(
            "mysql",
            &[
                ("connectionString", "root@tcp(127.0.0.1:3306)/test"),
                ("query", &count),
                ("queryValue", "1"),
            ],
        );
        let r = read(s.as_ref()).await;
        assert!((r.value - 3.0).abs() < f64::EPSILON && r.active, "{r:?}");

        let s = scaler(
            "mysql",
            &[
                ("connectionString", "root@tcp(127.0.0.1:3306)/test"),
                ("query", "SELECT COUNT(*) FROM ksx_no_such_table"),
                ("queryValue", "1"),
            ],
        );
        let e = read_err(s.as_ref()).await;
        assert!(
            e.starts_with("mysql database \"test\" at 127.0.0.1:3306: query failed")
                && e.contains("doesn't exist"),
            "{e}"
        );
        // The connection survives a server error: the next poll works.
        let s2 = scaler(
            "mysql",
            &[
                ("connectionString", "root@tcp(127.0.0.1:3306)/test"),
                ("query", "SELECT NULL"),
                ("queryValue", "1"),
            ],
        );
        assert!(read_err(s2.as_ref()).await.contains("NULL"));
        let _ = conn.disconnect().await;
    };
    with_cleanup(body, async {
        let mut conn = mysql_async::Conn::new(maria_opts()).await.expect("connect");
        conn.query_drop(format!("DROP TABLE IF EXISTS {table}"))
            .await
            .expect("drop table");
        let _ = conn.disconnect().await;
    })
    .await;
}

#[tokio::test]
async fn mysql_wrong_address_and_metadata() {
    let dead = dead_address();
    let s = scaler(
        "mysql",
        &[
            ("connectionString", &format!("root@tcp({dead})/test")),
            ("query", "SELECT 1"),
            ("queryValue", "1"),
        ],
    );
    let e = read_err(s.as_ref()).await;
    assert!(
        e.starts_with(&format!(
            "mysql database \"test\" at {dead}: cannot connect"
        )),
        "{e}"
    );
    assert_eq!(
        build_error(
            "mysql",
            &[
                ("connectionString", "root@tcp(127.0.0.1:3306)/test"),
                ("query", "SELECT 1")
            ]
        ),
        "triggers[0] (mysql): metadata.queryValue is required"
    );
    assert!(
        build_error(
            "mysql",
            &[
                ("connectionString", "root@unix(/run/x.sock)/test"),
                ("query", "SELECT 1"),
                ("queryValue", "1")
            ]
        )
        .contains("metadata.connectionString: unsupported address")
    );
}
