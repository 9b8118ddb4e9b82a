//! The built-in collector checks of spec §4.7 that only the node collector can evaluate: `node-cert-expiry`
//! (PEM/DER certificates in configured directories), `node-disk-usage` (blocks and inodes of the kubelet's
//! filesystems through `statvfs`) and `node-service-down` (kubelet and the container runtime through systemd).
//!
//! [`collect_builtin`] runs them on a [`CollectorHost`] and returns check ID → findings, which
//! `ksx-node-inspect` prints under the `collector` key of its JSON (next to the node rules' `rules`). For these
//! findings [`NodeFinding`]'s `value` is the finding's severity (`warning` or `danger`). The engine evaluates
//! them on a `Node` object whose `/status/collector/<check-id>` holds that findings list; a Node without that
//! entry gives no test.

use std::collections::BTreeMap;
use std::io;

use jiff::Timestamp;
use serde_json::Value;

use super::node::{LocalHost, NodeFinding, NodeHost, UnitState};

/// `node-cert-expiry`.
pub const CERT_EXPIRY: &str = "node-cert-expiry";
/// `node-disk-usage`.
pub const DISK_USAGE: &str = "node-disk-usage";
/// `node-service-down`.
pub const SERVICE_DOWN: &str = "node-service-down";

/// Default certificate directories.
pub const DEFAULT_CERT_DIRS: &[&str] = &["/etc/kubernetes/pki", "/var/lib/kubelet/pki"];
/// Container runtime roots, the first existing one is checked.
pub const RUNTIME_ROOTS: &[&str] = &["/var/lib/containerd", "/var/lib/crio", "/var/lib/docker"];
/// Container runtime units, the first present one is checked.
pub const RUNTIME_UNITS: &[&str] = &["containerd.service", "crio.service", "docker.service"];
/// The kubelet's unit.
pub const KUBELET_UNIT: &str = "kubelet.service";

const SECS_PER_DAY: i64 = 86_400;

/// Settings of the built-in collector checks.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BuiltinOptions {
    /// Directories scanned (not recursively) for `*.crt` and `*.pem`; missing ones are skipped.
    pub cert_dirs: Vec<String>,
    /// A certificate expiring in fewer days is a warning.
    pub cert_warning_days: i64,
    /// A certificate expiring in fewer days, or expired, is a danger.
    pub cert_danger_days: i64,
    /// Usage above this percentage of blocks or inodes is a warning.
    pub disk_warning_percent: u64,
    /// Usage above this percentage of blocks or inodes is a danger.
    pub disk_danger_percent: u64,
}

impl Default for BuiltinOptions {
    fn default() -> Self {
        Self {
            cert_dirs: DEFAULT_CERT_DIRS.iter().map(|s| (*s).to_owned()).collect(),
            cert_warning_days: 30,
            cert_danger_days: 7,
            disk_warning_percent: 85,
            disk_danger_percent: 95,
        }
    }
}

/// Figures of one filesystem, as `statvfs` gives them (counts of fragments and inodes).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub struct FsUsage {
    /// The filesystem's ID (several paths on one filesystem are reported once).
    pub fsid: u64,
    /// Total blocks.
    pub blocks: u64,
    /// Free blocks.
    pub blocks_free: u64,
    /// Blocks available to unprivileged users.
    pub blocks_available: u64,
    /// Total inodes (0 when the filesystem has no fixed inode table).
    pub files: u64,
    /// Free inodes.
    pub files_free: u64,
}

/// What the built-in collector checks read besides [`NodeHost`].
pub trait CollectorHost: NodeHost {
    /// The file names in the directory at the absolute node path `path`.
    ///
    /// # Errors
    /// The directory is missing or unreadable.
    fn list_dir(&self, path: &str) -> io::Result<Vec<String>>;

    /// The filesystem figures of the absolute node path `path`.
    ///
    /// # Errors
    /// The path is missing or `statvfs` failed.
    fn fs_usage(&self, path: &str) -> io::Result<FsUsage>;
}

impl CollectorHost for LocalHost {
    fn list_dir(&self, path: &str) -> io::Result<Vec<String>> {
        let mut names = Vec::new();
        for entry in std::fs::read_dir(self.root.join(path.trim_start_matches('/')))? {
            let entry = entry?;
            if entry.path().is_file() {
                names.push(entry.file_name().to_string_lossy().into_owned());
            }
        }
        names.sort();
        Ok(names)
    }

    fn fs_usage(&self, path: &str) -> io::Result<FsUsage> {
        let s = nix::sys::statvfs::statvfs(&self.root.join(path.trim_start_matches('/')))
            .map_err(io::Error::from)?;
        Ok(FsUsage {
            fsid: s.filesystem_id(),
            blocks: s.blocks(),
            blocks_free: s.blocks_free(),
            blocks_available: s.blocks_available(),
            files: s.files(),
            files_free: s.files_free(),
        })
    }
}

// ---------------------------------------------------------------------------------------------------------
// Certificates

/// A DER read error: what is wrong and at which byte offset.
fn der_err(what: &str, at: usize) -> String {
    format!("malformed DER at byte {at}: {what}")
}

/// One TLV: (tag, content, offset of the content, offset after it).
fn tlv(data: &[u8], at: usize) -> Result<(u8, usize, usize), String> {
    let tag = *data.get(at).ok_or_else(|| der_err("missing tag", at))?;
    if tag & 0x1f == 0x1f {
        return Err(der_err("multi-byte tag", at));
    }
    let first = *data
        .get(at + 1)
        .ok_or_else(|| der_err("missing length", at + 1))?;
    let (len, start) = if first < 0x80 {
        (usize::from(first), at + 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return Err(der_err("unsupported length form", at + 1));
        }
        let mut len = 0usize;
        for i in 0..n {
            let b = *data
                .get(at + 2 + i)
                .ok_or_else(|| der_err("truncated length", at + 2 + i))?;
            len = (len << 8) | usize::from(b);
        }
        (len, at + 2 + n)
    };
    let end = start
        .checked_add(len)
        .filter(|e| *e <= data.len())
        .ok_or_else(|| der_err("length runs past the end", at))?;
    Ok((tag, start, end))
}

fn digits(text: &[u8], from: usize, n: usize) -> Option<i16> {
    let part = text.get(from..from + n)?;
    part.iter().try_fold(0i16, |acc, b| {
        b.is_ascii_digit().then(|| acc * 10 + i16::from(b - b'0'))
    })
}

/// Parses an ASN.1 UTCTime (`tag` 0x17, `YYMMDDHHMMSSZ`) or GeneralizedTime (0x18, `YYYYMMDDHHMMSSZ`).
///
/// # Errors
/// Another tag, another form (fractions, offsets) or an impossible date.
pub fn parse_asn1_time(tag: u8, text: &[u8]) -> Result<Timestamp, String> {
    let (year, rest) = match (tag, text.len()) {
        (0x17, 13) => {
            let yy = digits(text, 0, 2).ok_or("UTCTime: bad year")?;
            (if yy < 50 { 2000 + yy } else { 1900 + yy }, 2)
        }
        (0x18, 15) => (digits(text, 0, 4).ok_or("GeneralizedTime: bad year")?, 4),
        (0x17 | 0x18, _) => {
            return Err(format!(
                "unsupported time form {:?}",
                String::from_utf8_lossy(text)
            ));
        }
        _ => {
            return Err(format!(
                "expected a UTCTime or GeneralizedTime, found tag 0x{tag:02x}"
            ));
        }
    };
    if text.last() != Some(&b'Z') {
        return Err("time is not in UTC (no trailing Z)".to_owned());
    }
    let f = |i: usize| digits(text, rest + 2 * i, 2).ok_or("bad digits in time");
    let (mo, d, h, mi, s) = (f(0)?, f(1)?, f(2)?, f(3)?, f(4)?);
    let as_i8 = |v: i16| i8::try_from(v).map_err(|_| "time field out of range".to_owned());
    let dt = jiff::civil::DateTime::new(
        year,
        as_i8(mo)?,
        as_i8(d)?,
        as_i8(h)?,
        as_i8(mi)?,
        as_i8(s)?,
        0,
    )
    .map_err(|e| format!("impossible date: {e}"))?;
    dt.to_zoned(jiff::tz::TimeZone::UTC)
        .map(|z| z.timestamp())
        .map_err(|e| format!("impossible date: {e}"))
}

/// The `notAfter` of a DER X.509 certificate (`Certificate.tbsCertificate.validity.notAfter`).
///
/// # Errors
/// The bytes are not a certificate of that shape; never panics.
pub fn cert_not_after(der: &[u8]) -> Result<Timestamp, String> {
    let (tag, cert, cert_end) = tlv(der, 0)?;
    if tag != 0x30 {
        return Err(der_err("certificate is not a SEQUENCE", 0));
    }
    let (tag, mut at, tbs_end) = tlv(&der[..cert_end], cert)?;
    if tag != 0x30 {
        return Err(der_err("tbsCertificate is not a SEQUENCE", cert));
    }
    let tbs = &der[..tbs_end];
    // [0] EXPLICIT version, optional.
    if tbs.get(at) == Some(&0xa0) {
        at = tlv(tbs, at)?.2;
    }
    // serialNumber, signature, issuer.
    for what in ["serialNumber", "signature", "issuer"] {
        let (_, _, end) = tlv(tbs, at).map_err(|e| format!("{what}: {e}"))?;
        at = end;
    }
    let (tag, validity, validity_end) = tlv(tbs, at)?;
    if tag != 0x30 {
        return Err(der_err("validity is not a SEQUENCE", at));
    }
    let v = &tbs[..validity_end];
    let (_, _, not_before_end) = tlv(v, validity).map_err(|e| format!("notBefore: {e}"))?;
    let (tag, start, end) = tlv(v, not_before_end).map_err(|e| format!("notAfter: {e}"))?;
    parse_asn1_time(tag, &v[start..end]).map_err(|e| format!("notAfter: {e}"))
}

fn b64_value(c: u8) -> Option<u32> {
    match c {
        b'A'..=b'Z' => Some(u32::from(c - b'A')),
        b'a'..=b'z' => Some(u32::from(c - b'a') + 26),
        b'0'..=b'9' => Some(u32::from(c - b'0') + 52),
        b'+' => Some(62),
        b'/' => Some(63),
        _ => None,
    }
}

/// Decodes standard base64, ignoring whitespace.
///
/// # Errors
/// A character outside the alphabet, or a truncated final group.
pub fn base64_decode(text: &str) -> Result<Vec<u8>, String> {
    let mut out = Vec::with_capacity(text.len() / 4 * 3);
    let (mut acc, mut bits) = (0u32, 0u32);
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        if c == b'=' {
            break;
        }
        let v =
            b64_value(c).ok_or_else(|| format!("invalid base64 character {:?}", char::from(c)))?;
        acc = (acc << 6) | v;
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).unwrap_or(0));
        }
        acc &= (1 << bits) - 1;
    }
    if bits >= 6 {
        return Err("truncated base64".to_owned());
    }
    Ok(out)
}

/// The DER bytes of each `CERTIFICATE` block of a PEM text (an error per undecodable block).
pub fn pem_certificates(text: &str) -> Vec<Result<Vec<u8>, String>> {
    const BEGIN: &str = "-----BEGIN CERTIFICATE-----";
    const END: &str = "-----END CERTIFICATE-----";
    let mut out = Vec::new();
    let mut rest = text;
    while let Some((_, body)) = rest.split_once(BEGIN) {
        match body.split_once(END) {
            Some((b64, after)) => {
                out.push(base64_decode(b64));
                rest = after;
            }
            None => {
                out.push(Err("BEGIN CERTIFICATE without END CERTIFICATE".to_owned()));
                break;
            }
        }
    }
    out
}

fn finding(check: &str, item: &str, severity: &str, message: String) -> NodeFinding {
    NodeFinding {
        check: check.to_owned(),
        item: item.to_owned(),
        value: severity.to_owned(),
        message,
        changed_lines: Vec::new(),
    }
}

/// The finding for a certificate expiring at `not_after` (none when it is far enough away).
pub fn expiry_finding(
    path: &str,
    index: usize,
    not_after: Timestamp,
    now: Timestamp,
    opts: &BuiltinOptions,
) -> Option<NodeFinding> {
    let secs = not_after.as_second() - now.as_second();
    let days = secs.div_euclid(SECS_PER_DAY);
    let item = if index == 0 {
        path.to_owned()
    } else {
        format!("{path}#{index}")
    };
    let (severity, message) = if secs <= 0 {
        (
            "danger",
            format!("certificate {item} expired at {not_after}"),
        )
    } else if secs < opts.cert_danger_days * SECS_PER_DAY {
        (
            "danger",
            format!("certificate {item} expires at {not_after} (in {days} d)"),
        )
    } else if secs < opts.cert_warning_days * SECS_PER_DAY {
        (
            "warning",
            format!("certificate {item} expires at {not_after} (in {days} d)"),
        )
    } else {
        return None;
    };
    Some(finding("certificate", &item, severity, message))
}

/// `node-cert-expiry` on `host` at `now`.
pub fn check_certificates(
    host: &dyn CollectorHost,
    opts: &BuiltinOptions,
    now: Timestamp,
) -> Vec<NodeFinding> {
    let mut out = Vec::new();
    for dir in &opts.cert_dirs {
        let Ok(names) = host.list_dir(dir) else {
            continue;
        };
        for name in names {
            let is_der_ext = std::path::Path::new(&name)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("crt"));
            let is_pem_ext = std::path::Path::new(&name)
                .extension()
                .is_some_and(|e| e.eq_ignore_ascii_case("pem"));
            if !is_der_ext && !is_pem_ext {
                continue;
            }
            let path = format!("{}/{name}", dir.trim_end_matches('/'));
            let bytes = match host.read(&path) {
                Ok(b) => b,
                Err(e) => {
                    out.push(finding(
                        "certificate",
                        &path,
                        "warning",
                        format!("{path} cannot be read: {e}"),
                    ));
                    continue;
                }
            };
            let text = String::from_utf8_lossy(&bytes);
            let blocks = if text.contains("-----BEGIN") {
                pem_certificates(&text)
            } else if is_der_ext {
                vec![Ok(bytes.clone())]
            } else {
                Vec::new()
            };
            for (i, block) in blocks.into_iter().enumerate() {
                match block.and_then(|der| cert_not_after(&der)) {
                    Ok(not_after) => out.extend(expiry_finding(&path, i, not_after, now, opts)),
                    Err(e) => out.push(finding(
                        "certificate",
                        &path,
                        "warning",
                        format!("{path}: certificate {} cannot be parsed: {e}", i + 1),
                    )),
                }
            }
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Disk usage

/// Percentage `used / (used + available)` rounded up, as `df` shows it; `None` when there is nothing to count.
pub fn used_percent(used: u64, available: u64) -> Option<u64> {
    let total = u128::from(used) + u128::from(available);
    if total == 0 {
        return None;
    }
    let pct = (u128::from(used) * 100).div_ceil(total);
    u64::try_from(pct).ok()
}

/// The paths `node-disk-usage` looks at: `/`, `/var/lib/kubelet` and the first existing runtime root.
pub fn disk_paths(host: &dyn CollectorHost) -> Vec<String> {
    let mut paths = vec!["/".to_owned(), "/var/lib/kubelet".to_owned()];
    if let Some(root) = RUNTIME_ROOTS.iter().find(|r| host.fs_usage(r).is_ok()) {
        paths.push((*root).to_owned());
    }
    paths
}

/// `node-disk-usage` on `host` for `paths` (missing paths are skipped, one filesystem is reported once).
pub fn check_disks(
    host: &dyn CollectorHost,
    paths: &[String],
    opts: &BuiltinOptions,
    notes: &mut Vec<String>,
) -> Vec<NodeFinding> {
    let mut out = Vec::new();
    let mut seen = Vec::new();
    for path in paths {
        let u = match host.fs_usage(path) {
            Ok(u) => u,
            Err(e) if e.kind() == io::ErrorKind::NotFound => continue,
            Err(e) => {
                notes.push(format!("{DISK_USAGE}: statvfs {path} failed: {e}"));
                continue;
            }
        };
        if seen.contains(&u.fsid) {
            continue;
        }
        seen.push(u.fsid);
        let blocks_used = u.blocks.saturating_sub(u.blocks_free);
        let figures = [
            ("blocks", used_percent(blocks_used, u.blocks_available)),
            (
                "inodes",
                used_percent(u.files.saturating_sub(u.files_free), u.files_free),
            ),
        ];
        for (what, pct) in figures {
            let Some(pct) = pct else { continue };
            let severity = if pct > opts.disk_danger_percent {
                "danger"
            } else if pct > opts.disk_warning_percent {
                "warning"
            } else {
                continue;
            };
            let limit = if severity == "danger" {
                opts.disk_danger_percent
            } else {
                opts.disk_warning_percent
            };
            out.push(finding(
                "filesystem",
                &format!("{path}:{what}"),
                severity,
                format!("filesystem of {path} uses {pct}% of its {what} (above {limit}%)"),
            ));
        }
    }
    out
}

// ---------------------------------------------------------------------------------------------------------
// Services

fn unit_finding(unit: &str, state: &UnitState, notes: &mut Vec<String>) -> Option<NodeFinding> {
    match state {
        UnitState::Unknown(reason) => {
            let note = format!("systemd unit {unit}: state unknown: {reason}");
            if !notes.contains(&note) {
                notes.push(note);
            }
            Some(finding(
                "unit",
                unit,
                "danger",
                format!("unit {unit} state is unknown ({reason})"),
            ))
        }
        UnitState::Known { load_state, .. } if load_state == "not-found" => Some(finding(
            "unit",
            unit,
            "danger",
            format!("unit {unit} is not installed"),
        )),
        UnitState::Known { active_state, .. } if active_state != "active" => Some(finding(
            "unit",
            unit,
            "danger",
            format!("unit {unit} is {active_state}, expected active"),
        )),
        UnitState::Known { .. } => None,
    }
}

/// `node-service-down`: `kubelet.service` and the first present runtime unit must be `active`.
pub fn check_services(host: &dyn CollectorHost, notes: &mut Vec<String>) -> Vec<NodeFinding> {
    let mut out = Vec::new();
    out.extend(unit_finding(KUBELET_UNIT, &host.unit(KUBELET_UNIT), notes));
    for unit in RUNTIME_UNITS {
        let state = host.unit(unit);
        let absent =
            matches!(&state, UnitState::Known { load_state, .. } if load_state == "not-found");
        if absent {
            continue;
        }
        out.extend(unit_finding(unit, &state, notes));
        break;
    }
    out
}

/// Runs the three built-in collector checks: check ID → findings (every ID present, empty when it passed), the
/// shape of a Node's `/status/collector` and of the `collector` key of `ksx-node-inspect`'s JSON. Notes (systemd
/// unavailable, `statvfs` failures) are appended to `notes`.
pub fn collect_builtin(
    host: &dyn CollectorHost,
    opts: &BuiltinOptions,
    clock: &dyn ksx_core::Clock,
    notes: &mut Vec<String>,
) -> BTreeMap<String, Vec<NodeFinding>> {
    let certs = check_certificates(host, opts, clock.now());
    let paths = disk_paths(host);
    let disks = check_disks(host, &paths, opts, notes);
    let services = check_services(host, notes);
    BTreeMap::from([
        (CERT_EXPIRY.to_owned(), certs),
        (DISK_USAGE.to_owned(), disks),
        (SERVICE_DOWN.to_owned(), services),
    ])
}

/// Whether `id` is one of the built-in collector checks.
pub fn is_builtin(id: &str) -> bool {
    matches!(id, CERT_EXPIRY | DISK_USAGE | SERVICE_DOWN)
}

// ---------------------------------------------------------------------------------------------------------
// Engine side

/// The catalogue function of a collector check: the findings under `/status/collector/<id>` of a Node.
fn collector_hits(id: &str, obj: &crate::bundle::InspectObject) -> Option<Vec<crate::checks::Hit>> {
    if obj.kind() != "Node" {
        return None;
    }
    let list = obj
        .value
        .pointer("/status/collector")
        .and_then(|c| c.get(id))?;
    let Some(items) = list.as_array() else {
        return Some(vec![crate::checks::Hit::at(
            format!("/status/collector/{id}"),
            format!("collector results for {id} are not a list"),
        )]);
    };
    let text = |v: &Value, k: &str| v.get(k).and_then(Value::as_str).unwrap_or("").to_owned();
    Some(
        items
            .iter()
            .enumerate()
            .map(|(i, f)| {
                let mut hit = crate::checks::Hit::at(
                    format!("/status/collector/{id}/{i}"),
                    text(f, "message"),
                );
                hit.fingerprint_path = format!("{}:{}", text(f, "check"), text(f, "item"));
                match text(f, "value").as_str() {
                    "danger" => hit.with_severity(crate::model::Severity::Danger),
                    "warning" => hit.with_severity(crate::model::Severity::Warning),
                    _ => hit,
                }
            })
            .collect(),
    )
}

/// `node-cert-expiry` on a Node carrying collector results.
pub(crate) fn cert_expiry(
    _ctx: &crate::checks::Ctx<'_>,
    obj: &crate::bundle::InspectObject,
) -> Option<Vec<crate::checks::Hit>> {
    collector_hits(CERT_EXPIRY, obj)
}

/// `node-disk-usage` on a Node carrying collector results.
pub(crate) fn disk_usage(
    _ctx: &crate::checks::Ctx<'_>,
    obj: &crate::bundle::InspectObject,
) -> Option<Vec<crate::checks::Hit>> {
    collector_hits(DISK_USAGE, obj)
}

/// `node-service-down` on a Node carrying collector results.
pub(crate) fn service_down(
    _ctx: &crate::checks::Ctx<'_>,
    obj: &crate::bundle::InspectObject,
) -> Option<Vec<crate::checks::Hit>> {
    collector_hits(SERVICE_DOWN, obj)
}
