//! Runs the real `ksx cache simulate` and `ksx cache trace` on tiny traces whose results are checked by hand.

use std::path::Path;
use std::process::{Command, Output};

use serde_json::{Value, json};

fn ksx(args: &[&str], dir: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_ksx"))
        .args(args)
        .current_dir(dir)
        .env_remove("KSX_LOG")
        .output()
        .expect("run ksx")
}

fn stdout(out: &Output) -> String {
    String::from_utf8(out.stdout.clone()).expect("utf-8 stdout")
}

fn stderr(out: &Output) -> String {
    String::from_utf8_lossy(&out.stderr).into_owned()
}

/// Writes `text` to `name` in `dir` and runs `simulate` on it with `-o json`.
fn simulate_json(dir: &Path, name: &str, text: &str, args: &[&str]) -> Value {
    std::fs::write(dir.join(name), text).expect("write the trace");
    let mut all = vec!["cache", "simulate", "--trace", name, "-o", "json"];
    all.extend(args);
    let out = ksx(&all, dir);
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    serde_json::from_str(&stdout(&out)).expect("JSON on stdout")
}

fn row(policy: &str, hits: u64, misses: u64) -> Value {
    let ratio = if hits + misses == 0 {
        0.0
    } else {
        hits as f64 / (hits + misses) as f64
    };
    json!({"policy": policy, "hits": hits, "misses": misses, "hitRatio": ratio})
}

#[test]
fn lru_and_belady_by_hand() {
    let dir = tempfile::tempdir().unwrap();
    // Capacity 2 over a b c a b c: LRU always evicts the key needed next (0 hits); Belady evicts `b` for `c`,
    // keeps `a` (hit), evicts `c` (never again) for `b`, then `b` hits: 2 hits.
    let v = simulate_json(
        dir.path(),
        "abc.trace",
        "a\nb\nc\na\nb\nc\n",
        &["--capacity", "2", "--policy", "lru,belady,fifo"],
    );
    assert_eq!(
        v,
        json!({"policies": [row("lru", 0, 6), row("belady", 2, 4), row("fifo", 0, 6)]})
    );
}

#[test]
fn lru_keeps_the_recent_key_fifo_the_old_order() {
    let dir = tempfile::tempdir().unwrap();
    // a b a c b a, capacity 2. LRU: c evicts b, b evicts a, a evicts c → 1 hit (the second a).
    // FIFO: c evicts a, b hits, a evicts b → 2 hits. Belady: c evicts b (a is next), b evicts c, a hits → 2.
    let v = simulate_json(
        dir.path(),
        "t.trace",
        "a\nb\na\nc\nb\na\n",
        &["--capacity", "2", "--policy", "lru,fifo,belady"],
    );
    assert_eq!(
        v["policies"],
        json!([row("lru", 1, 5), row("fifo", 2, 4), row("belady", 2, 4)])
    );
}

#[test]
fn sized_traces_count_bytes() {
    let dir = tempfile::tempdir().unwrap();
    let text = "a 4\nb 4\nc 4\na 4\n";
    // 10 bytes hold two objects: LRU evicts `a` for `c` (0 hits); Belady evicts `b` (never again), `a` hits.
    let v = simulate_json(
        dir.path(),
        "s.trace",
        text,
        &["--capacity", "10", "--policy", "lru,belady"],
    );
    assert_eq!(
        v["policies"],
        json!([row("lru", 0, 4), row("belady", 1, 3)])
    );
    // 12 bytes hold all three.
    let v = simulate_json(
        dir.path(),
        "s.trace",
        text,
        &["--capacity", "12", "--policy", "lru"],
    );
    assert_eq!(v["policies"], json!([row("lru", 1, 3)]));
    // An object above the capacity is a miss that changes nothing.
    let v = simulate_json(
        dir.path(),
        "big.trace",
        "a 2\nhuge 100\na 2\n",
        &["--capacity", "10", "--policy", "all"],
    );
    for p in v["policies"].as_array().unwrap() {
        assert_eq!(
            (p["hits"].as_u64(), p["misses"].as_u64()),
            (Some(1), Some(2)),
            "{p}"
        );
    }
}

#[test]
fn all_expands_in_the_documented_order_and_belady_bounds_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let args = [
        "cache",
        "simulate",
        "--zipf",
        "0.9",
        "--keys",
        "500",
        "--requests",
        "5000",
        "--capacity",
        "50",
        "--policy",
        "all",
        "-o",
        "json",
    ];
    let out = ksx(&args, dir.path());
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(
        stdout(&out),
        stdout(&ksx(&args, dir.path())),
        "deterministic"
    );
    let v: Value = serde_json::from_str(&stdout(&out)).unwrap();
    let rows = v["policies"].as_array().unwrap();
    let names: Vec<&str> = rows.iter().map(|p| p["policy"].as_str().unwrap()).collect();
    assert_eq!(
        names,
        [
            "lru", "fifo", "clock", "sieve", "s3fifo", "arc", "wtinylfu", "belady"
        ]
    );
    let belady = rows[7]["hits"].as_u64().unwrap();
    for p in rows {
        let (hits, misses) = (p["hits"].as_u64().unwrap(), p["misses"].as_u64().unwrap());
        assert_eq!(hits + misses, 5000);
        assert!(hits <= belady, "{p}");
        assert_eq!(
            p.as_object().unwrap().len(),
            4,
            "exactly policy, hits, misses, hitRatio"
        );
    }
}

#[test]
fn table_with_bars() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("abc.trace"), "a\nb\nc\na\nb\nc\n").unwrap();
    let out = ksx(
        &[
            "cache",
            "simulate",
            "--trace",
            "abc.trace",
            "--capacity",
            "2",
            "--policy",
            "lru,belady",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    insta::assert_snapshot!(stdout(&out), @r"
    trace abc.trace: 6 requests, 3 keys; capacity 2 objects

    POLICY  HITS  MISSES  HIT RATIO  CHART
    lru        0       6     0.0000  ········································
    belady     2       4     0.3333  █████████████···························
    ");
}

#[test]
fn bad_input_exits_with_2_and_names_the_place() {
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("mixed.trace"), "a\nb 10\n").unwrap();
    std::fs::write(dir.path().join("size.trace"), "a 1\nb ten\n").unwrap();
    std::fs::write(dir.path().join("ok.trace"), "a\n").unwrap();
    let cases: [(&[&str], &str); 7] = [
        (
            &["--trace", "mixed.trace", "--capacity", "1"],
            "mixed.trace:2: line has a size but line 1 has none",
        ),
        (
            &["--trace", "size.trace", "--capacity", "1"],
            "size.trace:2: invalid size \"ten\"",
        ),
        (
            &["--trace", "ok.trace", "--capacity", "0"],
            "invalid capacity: must be at least 1",
        ),
        (
            &[
                "--trace",
                "ok.trace",
                "--capacity",
                "1",
                "--policy",
                "lru,mru",
            ],
            "unknown eviction policy \"mru\"",
        ),
        (
            &["--trace", "missing.trace", "--capacity", "1"],
            "cannot read trace file missing.trace",
        ),
        (&["--capacity", "1"], "required"),
        (
            &["--zipf", "-1", "--capacity", "1"],
            "invalid zipf: exponent -1",
        ),
    ];
    for (args, expected) in cases {
        let mut all = vec!["cache", "simulate"];
        all.extend(args);
        let out = ksx(&all, dir.path());
        assert_eq!(out.status.code(), Some(2), "{args:?}");
        assert!(
            stderr(&out).contains(expected),
            "{args:?}: {}",
            stderr(&out)
        );
        assert!(out.stdout.is_empty(), "{args:?}");
    }
}

#[test]
fn trace_generator_writes_the_file_format() {
    let dir = tempfile::tempdir().unwrap();
    let out = ksx(
        &[
            "cache",
            "trace",
            "--kind",
            "loop",
            "--keys",
            "3",
            "--requests",
            "7",
        ],
        dir.path(),
    );
    assert!(out.status.success(), "stderr: {}", stderr(&out));
    assert_eq!(stdout(&out), "1\n2\n3\n1\n2\n3\n1\n");
    // A loop of 3 keys in 2 slots: LRU never hits. Belady: 3 evicts 2 (1 is next), 1 hits, 2 evicts 1 (3 is
    // next), 3 hits, the last 1 misses: 2 hits.
    let v = simulate_json(
        dir.path(),
        "loop.trace",
        &stdout(&out),
        &["--capacity", "2", "--policy", "lru,belady"],
    );
    assert_eq!(
        v["policies"],
        json!([row("lru", 0, 7), row("belady", 2, 5)])
    );
    let epochs = ksx(
        &[
            "cache", "trace", "--kind", "epochs", "--keys", "4", "--epochs", "2", "--seed", "9",
        ],
        dir.path(),
    );
    let text = stdout(&epochs);
    assert_eq!(text.lines().count(), 8);
    let bad = ksx(&["cache", "trace", "--kind", "zipfian"], dir.path());
    assert_eq!(bad.status.code(), Some(2));
}
