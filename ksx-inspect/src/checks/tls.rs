//! `sec-tls-secret-expiry`: the leaf certificate of a `kubernetes.io/tls` Secret, read with a minimal base64
//! and DER reader (only the validity dates are needed, so no X.509 library).

use crate::pod::FastPointer as _;
use jiff::Timestamp;
use serde_json::Value;

use super::{Ctx, Hit};
use crate::bundle::InspectObject;
use crate::model::Severity;

const DAY_SECS: i64 = 86_400;

/// Decodes standard base64, ignoring whitespace.
pub(crate) fn base64_decode(text: &str) -> Option<Vec<u8>> {
    let mut out = Vec::new();
    let mut acc: u32 = 0;
    let mut bits = 0;
    for c in text.bytes().filter(|c| !c.is_ascii_whitespace()) {
        let v = match c {
            b'A'..=b'Z' => c - b'A',
            b'a'..=b'z' => c - b'a' + 26,
            b'0'..=b'9' => c - b'0' + 52,
            b'+' => 62,
            b'/' => 63,
            b'=' => break,
            _ => return None,
        };
        acc = (acc << 6) | u32::from(v);
        bits += 6;
        if bits >= 8 {
            bits -= 8;
            out.push(u8::try_from((acc >> bits) & 0xff).ok()?);
        }
    }
    Some(out)
}

/// One DER element: (tag, content).
fn tlv(data: &[u8]) -> Option<(u8, &[u8], &[u8])> {
    let tag = *data.first()?;
    let first = *data.get(1)?;
    let (len, header) = if first < 0x80 {
        (usize::from(first), 2)
    } else {
        let n = usize::from(first & 0x7f);
        if n == 0 || n > 4 {
            return None;
        }
        let mut len = 0usize;
        for b in data.get(2..2 + n)? {
            len = (len << 8) | usize::from(*b);
        }
        (len, 2 + n)
    };
    let content = data.get(header..header.checked_add(len)?)?;
    let rest = data.get(header + len..)?;
    Some((tag, content, rest))
}

fn parse_time(tag: u8, content: &[u8]) -> Option<Timestamp> {
    let s = std::str::from_utf8(content).ok()?;
    let s = s.strip_suffix('Z')?;
    let full = match tag {
        0x17 => {
            let yy: i32 = s.get(0..2)?.parse().ok()?;
            let century = if yy >= 50 { "19" } else { "20" };
            format!("{century}{s}")
        }
        0x18 => s.to_owned(),
        _ => return None,
    };
    let text = format!(
        "{}-{}-{}T{}:{}:{}Z",
        full.get(0..4)?,
        full.get(4..6)?,
        full.get(6..8)?,
        full.get(8..10)?,
        full.get(10..12)?,
        full.get(12..14)?
    );
    text.parse().ok()
}

/// `notAfter` of the first certificate of a PEM bundle.
pub(crate) fn not_after(pem: &str) -> Option<Timestamp> {
    let start = pem.find("-----BEGIN CERTIFICATE-----")? + "-----BEGIN CERTIFICATE-----".len();
    let end = start + pem.get(start..)?.find("-----END CERTIFICATE-----")?;
    let der = base64_decode(pem.get(start..end)?)?;
    let (_, cert, _) = tlv(&der)?;
    let (_, tbs, _) = tlv(cert)?;
    let mut rest = tbs;
    let (tag, _, r) = tlv(rest)?;
    if tag == 0xa0 {
        rest = r;
    }
    let (_, _, r) = tlv(rest)?; // serialNumber
    let (_, _, r) = tlv(r)?; // signature
    let (_, _, r) = tlv(r)?; // issuer
    let (_, validity, _) = tlv(r)?;
    let (_, _, r) = tlv(validity)?; // notBefore
    let (tag, content, _) = tlv(r)?;
    parse_time(tag, content)
}

pub(super) fn tls_secret_expiry(ctx: &Ctx<'_>, obj: &InspectObject) -> Option<Vec<Hit>> {
    if obj.kind() != "Secret"
        || obj.value.get("type").and_then(Value::as_str) != Some("kubernetes.io/tls")
    {
        return None;
    }
    let path = "/data/tls.crt";
    let mut hits = Vec::new();
    let pem = obj
        .value
        .ptr(path)
        .and_then(Value::as_str)
        .and_then(base64_decode)
        .and_then(|b| String::from_utf8(b).ok());
    let Some(expiry) = pem.as_deref().and_then(not_after) else {
        hits.push(Hit::at(
            path,
            format!("tls.crt of Secret {} cannot be decoded", obj.name()),
        ));
        return Some(hits);
    };
    let left = expiry.as_second() - ctx.now.as_second();
    let days = left.div_euclid(DAY_SECS);
    if left < 7 * DAY_SECS {
        let msg = if left < 0 {
            format!(
                "the certificate of Secret {} expired at {expiry}",
                obj.name()
            )
        } else {
            format!(
                "the certificate of Secret {} expires in {days} day(s), at {expiry}",
                obj.name()
            )
        };
        hits.push(Hit::at(path, msg).with_severity(Severity::Danger));
    } else if left < 30 * DAY_SECS {
        hits.push(Hit::at(
            path,
            format!(
                "the certificate of Secret {} expires in {days} days, at {expiry}",
                obj.name()
            ),
        ));
    }
    Some(hits)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn base64_and_times() {
        assert_eq!(base64_decode("aGVs\nbG8=").as_deref(), Some(&b"hello"[..]));
        assert!(base64_decode("a$b").is_none());
        assert_eq!(
            parse_time(0x17, b"271129122334Z")
                .map(|t| t.to_string())
                .as_deref(),
            Some("2027-11-29T12:23:34Z")
        );
        assert_eq!(
            parse_time(0x18, b"20510101000000Z")
                .map(|t| t.to_string())
                .as_deref(),
            Some("2051-01-01T00:00:00Z")
        );
        assert!(not_after("not a pem").is_none());
    }
}
