//! The built-in collector checks of spec §4.7 (`node-cert-expiry`, `node-disk-usage`, `node-service-down`):
//! hand-built and `openssl`-made certificates against a manual clock, fake `statvfs` figures and unit states
//! through the collector seam, one real `statvfs` and a real collector run on this machine, and the engine side
//! (a Node carrying `/status/collector`).
#![allow(
    clippy::unwrap_used,
    reason = "tests: a failed unwrap is a failed test"
)]

use std::collections::{BTreeMap, BTreeSet};
use std::io;
use std::path::Path;

use jiff::Timestamp;
use ksx_core::{ManualClock, SystemClock};
use ksx_inspect::rules::node::{LocalHost, NodeFinding, NodeHost, UnitState};
use ksx_inspect::rules::node_builtin::{
    BuiltinOptions, CERT_EXPIRY, CollectorHost, DISK_USAGE, FsUsage, SERVICE_DOWN, base64_decode,
    cert_not_after, check_certificates, check_disks, check_services, collect_builtin, disk_paths,
    parse_asn1_time, pem_certificates, used_percent,
};
use ksx_inspect::{Bundle, Config, Engine, RunOptions};
use proptest::prelude::*;

// ---------------------------------------------------------------------------------------------------------
// A fake node

#[derive(Default)]
struct FakeHost {
    files: BTreeMap<String, Vec<u8>>,
    unreadable: BTreeSet<String>,
    dirs: BTreeMap<String, Vec<String>>,
    fs: BTreeMap<String, FsUsage>,
    units: BTreeMap<String, UnitState>,
    systemd_missing: bool,
}

impl NodeHost for FakeHost {
    fn read(&self, path: &str) -> io::Result<Vec<u8>> {
        if self.unreadable.contains(path) {
            return Err(io::Error::new(
                io::ErrorKind::PermissionDenied,
                "permission denied",
            ));
        }
        self.files
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such file"))
    }

    fn unit(&self, unit: &str) -> UnitState {
        if self.systemd_missing {
            return UnitState::Unknown("cannot run systemctl: not found".to_owned());
        }
        self.units.get(unit).cloned().unwrap_or(UnitState::Known {
            load_state: "not-found".to_owned(),
            active_state: "inactive".to_owned(),
            unit_file_state: String::new(),
        })
    }
}

impl CollectorHost for FakeHost {
    fn list_dir(&self, path: &str) -> io::Result<Vec<String>> {
        self.dirs
            .get(path)
            .cloned()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such directory"))
    }

    fn fs_usage(&self, path: &str) -> io::Result<FsUsage> {
        self.fs
            .get(path)
            .copied()
            .ok_or_else(|| io::Error::new(io::ErrorKind::NotFound, "no such path"))
    }
}

fn unit(active: &str) -> UnitState {
    UnitState::Known {
        load_state: "loaded".to_owned(),
        active_state: active.to_owned(),
        unit_file_state: "enabled".to_owned(),
    }
}

// ---------------------------------------------------------------------------------------------------------
// Hand-built certificates (DER written here, independent of the parser)

fn der(tag: u8, content: &[u8]) -> Vec<u8> {
    let mut out = vec![tag];
    let len = content.len();
    if len < 0x80 {
        out.push(u8::try_from(len).unwrap());
    } else if len < 0x100 {
        out.extend([0x81, u8::try_from(len).unwrap()]);
    } else {
        out.extend([
            0x82,
            u8::try_from(len >> 8).unwrap(),
            u8::try_from(len & 0xff).unwrap(),
        ]);
    }
    out.extend_from_slice(content);
    out
}

fn seq(parts: &[Vec<u8>]) -> Vec<u8> {
    der(0x30, &parts.concat())
}

fn name(cn: &str) -> Vec<u8> {
    let atv = seq(&[der(0x06, &[0x55, 0x04, 0x03]), der(0x0c, cn.as_bytes())]);
    seq(&[der(0x31, &atv)])
}

/// A certificate whose validity is `notBefore` 2029-01-01 and `notAfter` (`tag` 0x17 UTCTime or 0x18
/// GeneralizedTime) `not_after`; `version` false leaves out the optional `[0]` version.
fn cert_with(tag: u8, not_after: &str, version: bool) -> Vec<u8> {
    let ecdsa_sha256 = seq(&[der(0x06, &[0x2a, 0x86, 0x48, 0xce, 0x3d, 0x04, 0x03, 0x02])]);
    let mut tbs = Vec::new();
    if version {
        tbs.push(der(0xa0, &der(0x02, &[2])));
    }
    tbs.extend([
        der(0x02, &[0x01, 0x23]),
        ecdsa_sha256.clone(),
        name("ca"),
        seq(&[der(0x17, b"290101000000Z"), der(tag, not_after.as_bytes())]),
        name("node"),
        seq(&[ecdsa_sha256.clone(), der(0x03, &[0, 4, 1, 2, 3])]),
    ]);
    seq(&[seq(&tbs), ecdsa_sha256, der(0x03, &[0, 0x30, 0x00])])
}

fn cert(not_after: &str) -> Vec<u8> {
    cert_with(0x17, not_after, true)
}

fn base64_encode(bytes: &[u8]) -> String {
    const ALPHABET: &[u8] = b"ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    let mut out = String::new();
    for chunk in bytes.chunks(3) {
        let b = [
            chunk[0],
            chunk.get(1).copied().unwrap_or(0),
            chunk.get(2).copied().unwrap_or(0),
        ];
        let n = (u32::from(b[0]) << 16) | (u32::from(b[1]) << 8) | u32::from(b[2]);
        for i in 0..4 {
            if i <= chunk.len() {
                out.push(char::from(ALPHABET[((n >> (18 - 6 * i)) & 63) as usize]));
            } else {
                out.push('=');
            }
        }
    }
    out
}

fn pem(ders: &[Vec<u8>]) -> Vec<u8> {
    let mut text = String::new();
    for d in ders {
        text.push_str("-----BEGIN CERTIFICATE-----\n");
        let b = base64_encode(d);
        for line in b.as_bytes().chunks(64) {
            text.push_str(std::str::from_utf8(line).unwrap());
            text.push('\n');
        }
        text.push_str("-----END CERTIFICATE-----\n");
    }
    text.into_bytes()
}

fn ts(text: &str) -> Timestamp {
    text.parse().unwrap()
}

/// 2030-01-01T00:00:00Z.
const NOW: i64 = 1_893_456_000;

fn now() -> Timestamp {
    Timestamp::from_second(NOW).unwrap()
}

fn by_item(findings: &[NodeFinding]) -> BTreeMap<String, (String, String)> {
    findings
        .iter()
        .map(|f| (f.item.clone(), (f.value.clone(), f.message.clone())))
        .collect()
}

// ---------------------------------------------------------------------------------------------------------
// Certificates

#[test]
fn not_after_is_read_from_utc_and_generalized_time_with_and_without_version() {
    assert_eq!(
        cert_not_after(&cert("300104000000Z")).unwrap(),
        ts("2030-01-04T00:00:00Z")
    );
    // UTCTime years 50..99 are 19xx.
    assert_eq!(
        cert_not_after(&cert("991231235959Z")).unwrap(),
        ts("1999-12-31T23:59:59Z")
    );
    assert_eq!(
        cert_not_after(&cert_with(0x18, "20510203040506Z", true)).unwrap(),
        ts("2051-02-03T04:05:06Z")
    );
    assert_eq!(
        cert_not_after(&cert_with(0x17, "300104000000Z", false)).unwrap(),
        ts("2030-01-04T00:00:00Z")
    );
}

#[test]
fn a_real_openssl_certificate_parses_in_pem_and_der() {
    // Made by `openssl req -x509 -days 3650`; `openssl x509 -enddate` printed notAfter=Nov 26 18:10:14 2036 GMT.
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/node-certs");
    let want = ts("2036-11-26T18:10:14Z");
    let der_bytes = std::fs::read(data.join("real.der")).unwrap();
    assert_eq!(cert_not_after(&der_bytes).unwrap(), want);
    let text = std::fs::read_to_string(data.join("real.pem")).unwrap();
    let blocks = pem_certificates(&text);
    assert_eq!(blocks.len(), 1);
    let decoded = blocks[0].as_ref().unwrap();
    assert_eq!(decoded, &der_bytes);
    assert_eq!(cert_not_after(decoded).unwrap(), want);
}

#[test]
fn bad_times_and_shapes_are_errors_naming_the_problem() {
    let e = parse_asn1_time(0x17, b"300230000000Z").unwrap_err();
    assert!(e.contains("impossible date"), "{e}");
    let e = parse_asn1_time(0x17, b"3001040000Z").unwrap_err();
    assert!(e.contains("unsupported time form"), "{e}");
    let e = parse_asn1_time(0x17, b"300104000000+").unwrap_err();
    assert!(e.contains("UTC"), "{e}");
    let e = parse_asn1_time(0x02, b"300104000000Z").unwrap_err();
    assert!(e.contains("tag 0x02"), "{e}");
    let e = cert_not_after(b"").unwrap_err();
    assert!(e.contains("byte 0"), "{e}");
    let e = cert_not_after(&[0x02, 0x01, 0x00]).unwrap_err();
    assert!(e.contains("not a SEQUENCE"), "{e}");
    let e = cert_not_after(&[0x30, 0x82, 0xff]).unwrap_err();
    assert!(e.contains("malformed DER"), "{e}");
    let good = cert("300104000000Z");
    let e = cert_not_after(&good[..good.len() / 2]).unwrap_err();
    assert!(e.contains("past the end"), "{e}");
    assert!(base64_decode("ab$d").unwrap_err().contains('$'));
}

fn cert_host() -> FakeHost {
    let mut h = FakeHost::default();
    let dir = "/etc/kubernetes/pki";
    h.dirs.insert(
        dir.to_owned(),
        [
            "a-3d.crt",
            "b-20d.pem",
            "c-60d.crt",
            "d-past.crt",
            "e-bundle.pem",
            "f-garbage.crt",
            "g-broken.pem",
            "h-key.pem",
            "i-unreadable.crt",
            "j-der.crt",
            "notes.txt",
            "k-7d.crt",
        ]
        .map(str::to_owned)
        .to_vec(),
    );
    let mut put = |n: &str, bytes: Vec<u8>| {
        h.files.insert(format!("{dir}/{n}"), bytes);
    };
    put("a-3d.crt", pem(&[cert("300104000000Z")]));
    put("b-20d.pem", pem(&[cert("300121000000Z")]));
    put("c-60d.crt", pem(&[cert("300302000000Z")]));
    put("d-past.crt", pem(&[cert("291231000000Z")]));
    // The second certificate of a bundle expires in 5 days.
    put(
        "e-bundle.pem",
        pem(&[
            cert_with(0x18, "20500101000000Z", true),
            cert("300106000000Z"),
        ]),
    );
    put("f-garbage.crt", vec![0x30, 0x82, 0xff, 0x00]);
    put(
        "g-broken.pem",
        b"-----BEGIN CERTIFICATE-----\n!!!\n-----END CERTIFICATE-----\n".to_vec(),
    );
    put(
        "h-key.pem",
        b"-----BEGIN PRIVATE KEY-----\nAAAA\n-----END PRIVATE KEY-----\n".to_vec(),
    );
    put("i-unreadable.crt", Vec::new());
    h.unreadable.insert(format!("{dir}/i-unreadable.crt"));
    put("j-der.crt", cert("300103000000Z"));
    // Exactly 7 days: not under 7 days, so a warning.
    put("k-7d.crt", pem(&[cert("300108000000Z")]));
    put("notes.txt", b"not a certificate".to_vec());
    h
}

#[test]
fn certificates_are_graded_by_days_left_on_the_manual_clock() {
    let h = cert_host();
    let opts = BuiltinOptions::default();
    let got = by_item(&check_certificates(&h, &opts, now()));
    let p = |n: &str| format!("/etc/kubernetes/pki/{n}");
    let sev = |n: &str| got.get(&p(n)).map(|(s, _)| s.as_str());
    assert_eq!(sev("a-3d.crt"), Some("danger"));
    assert_eq!(sev("b-20d.pem"), Some("warning"));
    assert_eq!(sev("c-60d.crt"), None);
    assert_eq!(sev("d-past.crt"), Some("danger"));
    assert!(got[&p("d-past.crt")].1.contains("expired"), "{got:?}");
    assert_eq!(sev("e-bundle.pem"), None, "the first certificate is fine");
    assert_eq!(sev("e-bundle.pem#1"), Some("danger"));
    assert_eq!(sev("f-garbage.crt"), Some("warning"));
    assert!(got[&p("f-garbage.crt")].1.contains("cannot be parsed"));
    assert_eq!(sev("g-broken.pem"), Some("warning"));
    assert!(got[&p("g-broken.pem")].1.contains("invalid base64"));
    assert_eq!(
        sev("h-key.pem"),
        None,
        "no certificate block, nothing to check"
    );
    assert!(got[&p("i-unreadable.crt")].1.contains("cannot be read"));
    assert_eq!(sev("j-der.crt"), Some("danger"), "DER .crt, 2 days left");
    assert_eq!(sev("k-7d.crt"), Some("warning"));
    assert!(got[&p("a-3d.crt")].1.contains("in 3 d"), "{got:?}");
    assert!(got[&p("b-20d.pem")].1.contains("in 20 d"), "{got:?}");
    assert!(!got.contains_key(&p("notes.txt")));
    assert_eq!(got.len(), 9, "{got:?}");

    // Thresholds are configurable: with 90/10 days the 60-day certificate warns and the 7-day one is a danger.
    let opts = BuiltinOptions {
        cert_warning_days: 90,
        cert_danger_days: 10,
        ..BuiltinOptions::default()
    };
    let got = by_item(&check_certificates(&h, &opts, now()));
    assert_eq!(got[&p("c-60d.crt")].0, "warning");
    assert_eq!(got[&p("k-7d.crt")].0, "danger");
}

#[test]
fn missing_certificate_directories_are_skipped() {
    let h = FakeHost::default();
    assert!(check_certificates(&h, &BuiltinOptions::default(), now()).is_empty());
}

// ---------------------------------------------------------------------------------------------------------
// Disks

fn fs(fsid: u64, blocks: u64, free: u64, avail: u64, files: u64, files_free: u64) -> FsUsage {
    FsUsage {
        fsid,
        blocks,
        blocks_free: free,
        blocks_available: avail,
        files,
        files_free,
    }
}

#[test]
fn used_percent_rounds_up_like_df() {
    assert_eq!(used_percent(900, 100), Some(90));
    assert_eq!(used_percent(800, 100), Some(89)); // 88.9 up
    assert_eq!(used_percent(0, 0), None);
    assert_eq!(used_percent(u64::MAX, u64::MAX), Some(50));
}

#[test]
fn disk_usage_is_graded_on_blocks_and_inodes_once_per_filesystem() {
    let mut h = FakeHost::default();
    // /: 900 used of 1000, 100 available -> 90 % blocks (warning); inodes 10 %.
    h.fs.insert("/".into(), fs(1, 1000, 100, 100, 1000, 900));
    // /var/lib/kubelet: 960 used, 40 available -> 96 % (danger).
    h.fs.insert("/var/lib/kubelet".into(), fs(2, 1000, 40, 40, 1000, 900));
    // /var/lib/crio (first existing runtime root; containerd absent): blocks 800 used, 100 available of
    // 200 free -> 89 % (warning); inodes 860 of 1000 -> 86 % (warning).
    h.fs.insert("/var/lib/crio".into(), fs(3, 1000, 200, 100, 1000, 140));
    // docker exists too, but crio comes first.
    h.fs.insert("/var/lib/docker".into(), fs(4, 1000, 0, 0, 1000, 0));
    let paths = disk_paths(&h);
    assert_eq!(paths, ["/", "/var/lib/kubelet", "/var/lib/crio"]);
    let mut notes = Vec::new();
    let got = by_item(&check_disks(
        &h,
        &paths,
        &BuiltinOptions::default(),
        &mut notes,
    ));
    let sev = |k: &str| got.get(k).map(|(s, _)| s.as_str());
    assert_eq!(sev("/:blocks"), Some("warning"));
    assert!(got["/:blocks"].1.contains("90%"), "{got:?}");
    assert_eq!(sev("/:inodes"), None);
    assert_eq!(sev("/var/lib/kubelet:blocks"), Some("danger"));
    assert!(got["/var/lib/kubelet:blocks"].1.contains("96%"), "{got:?}");
    assert_eq!(sev("/var/lib/crio:blocks"), Some("warning"));
    assert_eq!(sev("/var/lib/crio:inodes"), Some("warning"));
    assert_eq!(got.len(), 4, "{got:?}");
    assert!(notes.is_empty());

    // Configurable thresholds: warning above 90 % leaves / (exactly 90 %) alone.
    let opts = BuiltinOptions {
        disk_warning_percent: 90,
        disk_danger_percent: 99,
        ..BuiltinOptions::default()
    };
    let got = by_item(&check_disks(&h, &paths, &opts, &mut notes));
    assert_eq!(
        got.keys().map(String::as_str).collect::<Vec<_>>(),
        ["/var/lib/kubelet:blocks"]
    );
    assert_eq!(got["/var/lib/kubelet:blocks"].0, "warning");
}

#[test]
fn one_filesystem_is_reported_once_and_missing_paths_are_skipped() {
    let mut h = FakeHost::default();
    h.fs.insert("/".into(), fs(7, 100, 1, 1, 0, 0));
    h.fs.insert("/var/lib/kubelet".into(), fs(7, 100, 1, 1, 0, 0));
    let paths = disk_paths(&h);
    assert_eq!(paths, ["/", "/var/lib/kubelet"], "no runtime root exists");
    let mut notes = Vec::new();
    let got = check_disks(&h, &paths, &BuiltinOptions::default(), &mut notes);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].item, "/:blocks");
    assert_eq!(got[0].value, "danger");
    // No inode table (files = 0): no inode figure.
    assert!(
        check_disks(
            &FakeHost::default(),
            &paths,
            &BuiltinOptions::default(),
            &mut notes
        )
        .is_empty()
    );
}

#[test]
fn real_statvfs_on_root_gives_sane_numbers() {
    let u = LocalHost::default().fs_usage("/").unwrap();
    assert!(u.blocks > 0);
    assert!(u.blocks_free <= u.blocks);
    assert!(u.blocks_available <= u.blocks_free);
    assert!(u.files_free <= u.files);
    let e = LocalHost::default()
        .fs_usage("/no/such/ksx/path")
        .unwrap_err();
    assert_eq!(e.kind(), io::ErrorKind::NotFound);
}

// ---------------------------------------------------------------------------------------------------------
// Services

#[test]
fn kubelet_and_the_first_present_runtime_must_be_active() {
    let mut h = FakeHost::default();
    h.units.insert("kubelet.service".into(), unit("active"));
    h.units.insert("crio.service".into(), unit("failed"));
    h.units.insert("docker.service".into(), unit("active"));
    let mut notes = Vec::new();
    let got = check_services(&h, &mut notes);
    assert_eq!(got.len(), 1, "{got:?}");
    assert_eq!(got[0].item, "crio.service");
    assert_eq!(got[0].value, "danger");
    assert!(got[0].message.contains("failed"));

    h.units.insert("containerd.service".into(), unit("active"));
    assert!(
        check_services(&h, &mut notes).is_empty(),
        "containerd comes first"
    );

    h.units.insert("kubelet.service".into(), unit("inactive"));
    let got = check_services(&h, &mut notes);
    assert_eq!(got.len(), 1);
    assert_eq!(got[0].item, "kubelet.service");

    // Not installed kubelet: down; no runtime installed at all: nothing more.
    let got = check_services(&FakeHost::default(), &mut notes);
    assert_eq!(got.len(), 1);
    assert!(got[0].message.contains("not installed"), "{got:?}");
    assert!(notes.is_empty());
}

#[test]
fn unknown_systemd_is_a_finding_and_a_note_like_node_rules() {
    let h = FakeHost {
        systemd_missing: true,
        ..FakeHost::default()
    };
    let mut notes = Vec::new();
    let got = check_services(&h, &mut notes);
    assert_eq!(
        got.iter().map(|f| f.item.as_str()).collect::<Vec<_>>(),
        ["kubelet.service", "containerd.service"]
    );
    assert!(
        got.iter()
            .all(|f| f.value == "danger" && f.message.contains("unknown"))
    );
    assert_eq!(notes.len(), 2, "{notes:?}");
    assert!(notes[0].contains("state unknown"));
}

// ---------------------------------------------------------------------------------------------------------
// Whole runs

#[test]
fn collect_builtin_reports_every_check_with_the_clock_time() {
    let mut h = cert_host();
    h.units.insert("kubelet.service".into(), unit("active"));
    h.units.insert("containerd.service".into(), unit("active"));
    h.fs.insert("/".into(), fs(1, 1000, 500, 500, 1000, 500));
    let clock = ManualClock::at_unix_secs(NOW);
    let mut notes = Vec::new();
    let got = collect_builtin(&h, &BuiltinOptions::default(), &clock, &mut notes);
    assert_eq!(
        got.keys().map(String::as_str).collect::<Vec<_>>(),
        [CERT_EXPIRY, DISK_USAGE, SERVICE_DOWN]
    );
    assert_eq!(got[CERT_EXPIRY].len(), 9);
    assert!(got[DISK_USAGE].is_empty());
    assert!(got[SERVICE_DOWN].is_empty());
    // A year later everything but the 2050 certificate has expired.
    let later = ManualClock::at_unix_secs(NOW + 365 * 86_400);
    let got = collect_builtin(&h, &BuiltinOptions::default(), &later, &mut notes);
    let expired = got[CERT_EXPIRY]
        .iter()
        .filter(|f| f.message.contains("expired"))
        .count();
    assert_eq!(expired, 7, "{:?}", got[CERT_EXPIRY]);
}

#[test]
fn the_real_collector_runs_on_this_machine() {
    let mut notes = Vec::new();
    let got = collect_builtin(
        &LocalHost::default(),
        &BuiltinOptions::default(),
        &SystemClock,
        &mut notes,
    );
    assert_eq!(got.len(), 3);
    for findings in got.values() {
        for f in findings {
            assert!(matches!(f.value.as_str(), "warning" | "danger"), "{f:?}");
            assert!(!f.message.is_empty());
        }
    }
}

#[test]
fn the_engine_reads_collector_results_from_a_node_with_their_severities() {
    let node = serde_json::json!({
        "apiVersion": "v1",
        "kind": "Node",
        "metadata": {"name": "n1"},
        "status": {"collector": {
            "node-cert-expiry": [
                {"check": "certificate", "item": "/a.crt", "value": "danger", "message": "a expired"},
                {"check": "certificate", "item": "/b.crt", "value": "warning", "message": "b in 20 d"}
            ],
            "node-service-down": []
        }}
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("node.yaml");
    std::fs::write(&file, serde_yaml::to_string(&node).unwrap()).unwrap();
    let loaded = ksx_core::manifest::load_paths(&[file.as_path()]);
    let bundle = Bundle::from_loaded(&loaded, "default");
    let objects = bundle.objects().iter().cloned().map(|mut o| {
        o.source = None;
        o
    });
    let bundle = Bundle::from_objects(objects.collect());
    let options = RunOptions {
        checks: Some(vec![
            CERT_EXPIRY.into(),
            DISK_USAGE.into(),
            SERVICE_DOWN.into(),
        ]),
        ..RunOptions::default()
    };
    let engine = Engine::new(&Config::default(), &options).unwrap();
    let r = engine.inspect(&bundle, &ManualClock::at_unix_secs(NOW));
    let got: Vec<(String, String, String)> = r
        .findings
        .iter()
        .map(|f| {
            (
                f.check_id.clone(),
                f.severity.to_string(),
                f.message.clone(),
            )
        })
        .collect();
    assert_eq!(
        got,
        [
            (CERT_EXPIRY.into(), "danger".into(), "a expired".into()),
            (CERT_EXPIRY.into(), "warning".into(), "b in 20 d".into()),
        ]
    );
    // Two checks had results (a test each), node-disk-usage none.
    assert_eq!(r.summary.tests.total, 2);
}

// ---------------------------------------------------------------------------------------------------------
// Garbage never panics

proptest! {
    #[test]
    fn der_parser_never_panics(bytes in proptest::collection::vec(any::<u8>(), 0..512)) {
        let _ = cert_not_after(&bytes);
    }

    #[test]
    fn mutated_certificates_never_panic(i in 0usize..200, b in any::<u8>(), cut in 0usize..200) {
        let mut c = cert("300104000000Z");
        let n = c.len();
        c[i % n] = b;
        c.truncate(n - cut % n);
        let _ = cert_not_after(&c);
    }

    #[test]
    fn pem_and_base64_never_panic(text in "\\PC{0,300}") {
        let _ = pem_certificates(&text);
        let _ = pem_certificates(&format!("-----BEGIN CERTIFICATE-----{text}-----END CERTIFICATE-----"));
        let _ = base64_decode(&text);
    }

    #[test]
    fn base64_round_trips(bytes in proptest::collection::vec(any::<u8>(), 0..300)) {
        prop_assert_eq!(base64_decode(&base64_encode(&bytes)).unwrap(), bytes);
    }
}
