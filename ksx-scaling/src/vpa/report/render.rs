//! Rendering the report for people: amounts, table cells and a self-contained HTML page.

use std::fmt::Write as _;

use super::{ContainerReport, RightSizingReport, cores};

/// CPU for people: `250m`, `1.5`, `-` for unknown.
pub fn format_cpu(millicores: Option<i64>) -> String {
    match millicores {
        None => "-".to_owned(),
        Some(m) if m % 1000 == 0 => format!("{}", m / 1000),
        Some(m) if m.unsigned_abs() >= 1000 => format!("{}", cores(m)),
        Some(m) => format!("{m}m"),
    }
}

/// Memory for people, binary units with at most one decimal: `512Mi`, `1.5Gi`, `-` for unknown.
pub fn format_memory(bytes: Option<i64>) -> String {
    let Some(b) = bytes else {
        return "-".to_owned();
    };
    let units = [
        ("Ti", 1_i64 << 40),
        ("Gi", 1 << 30),
        ("Mi", 1 << 20),
        ("Ki", 1 << 10),
    ];
    for (suffix, size) in units {
        if b.unsigned_abs() >= size.unsigned_abs() {
            #[allow(
                clippy::cast_precision_loss,
                reason = "a display value with one decimal"
            )]
            let v = b as f64 / size as f64;
            let text = format!("{v:.1}");
            let text = text.strip_suffix(".0").unwrap_or(&text);
            return format!("{text}{suffix}");
        }
    }
    b.to_string()
}

/// Column titles of [`table_rows`].
pub const TABLE_HEADER: [&str; 11] = [
    "NAMESPACE",
    "WORKLOAD",
    "CONTAINER",
    "PODS",
    "CPU REQ",
    "CPU REC",
    "MEM REQ",
    "MEM REC",
    "CPU SAVED",
    "MEM SAVED",
    "RISK",
];

/// The report as table cells, one row per container, for people.
pub fn table_rows(report: &RightSizingReport) -> Vec<[String; 11]> {
    report
        .containers
        .iter()
        .map(|c| {
            let target = c.recommendation.as_ref().map(|r| r.target);
            [
                c.namespace.clone(),
                c.workload.clone(),
                c.container.clone(),
                c.pods.to_string(),
                format_cpu(c.requests.cpu_millicores),
                target.map_or_else(|| "-".to_owned(), |t| format_cpu(t.cpu_millicores)),
                format_memory(c.requests.memory_bytes),
                target.map_or_else(|| "-".to_owned(), |t| format_memory(t.memory_bytes)),
                format!("{:.3}", c.savings.cpu_cores),
                format_memory(Some(c.savings.memory_bytes)),
                risk_text(c),
            ]
        })
        .collect()
}

/// `OOM`, `OOMKilled`, `throttled 40%`, the note when there is no recommendation, or `none`.
pub fn risk_text(c: &ContainerReport) -> String {
    let mut parts = Vec::new();
    if c.oom_killed {
        parts.push("OOMKilled".to_owned());
    } else if c.oom_risk {
        parts.push("OOM".to_owned());
    }
    if c.throttling_risk {
        parts.push(format!(
            "throttled {:.0}%",
            c.throttled_ratio.unwrap_or(0.0) * 100.0
        ));
    }
    if let Some(note) = &c.note {
        parts.push(note.clone());
    }
    if parts.is_empty() {
        "none".to_owned()
    } else {
        parts.join(", ")
    }
}

/// The report as one self-contained HTML page: inline CSS, no scripts, no external assets. Every text is
/// escaped.
pub fn render_html(report: &RightSizingReport) -> String {
    let mut out = String::new();
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n\
         <title>ksx right-sizing report</title>\n<style>\n\
         body{{font-family:system-ui,sans-serif;margin:2rem;color:#1d2733}}\n\
         h1{{font-size:1.4rem}}\n\
         .cards{{display:flex;gap:1rem;margin:1rem 0}}\n\
         .card{{border:1px solid #d5dbe3;border-radius:6px;padding:.6rem 1rem}}\n\
         .card b{{display:block;font-size:1.3rem}}\n\
         table{{border-collapse:collapse;width:100%;font-size:.9rem}}\n\
         th,td{{border-bottom:1px solid #e3e8ee;padding:.35rem .5rem;text-align:left}}\n\
         td.n{{text-align:right;font-variant-numeric:tabular-nums}}\n\
         tr.risk td{{background:#fff4f2}}\n\
         .neg{{color:#b42318}}\n\
         </style>\n</head>\n<body>\n"
    );
    let _ = writeln!(out, "<h1>Right-sizing report</h1>");
    let _ = writeln!(
        out,
        "<p>Strategy <b>{}</b>, {} of history at {} s resolution, generated {}.</p>",
        escape(report.strategy.name()),
        escape(&human_duration(report.history_seconds)),
        report.step_seconds,
        escape(&report.generated_at)
    );
    let t = &report.totals;
    let _ = writeln!(
        out,
        "<div class=\"cards\"><div class=\"card\">Containers<b>{}</b></div>\
         <div class=\"card\">CPU savings<b>{:.3} cores</b></div>\
         <div class=\"card\">Memory savings<b>{}</b></div>\
         <div class=\"card\">OOM risk<b>{}</b></div>\
         <div class=\"card\">Throttling risk<b>{}</b></div></div>",
        t.containers,
        t.savings.cpu_cores,
        escape(&format_memory(Some(t.savings.memory_bytes))),
        t.oom_risk,
        t.throttling_risk
    );
    out.push_str("<table>\n<thead><tr>");
    for h in TABLE_HEADER {
        let _ = write!(out, "<th>{}</th>", escape(h));
    }
    out.push_str("</tr></thead>\n<tbody>\n");
    for (c, cells) in report.containers.iter().zip(table_rows(report)) {
        let risky = c.oom_risk || c.throttling_risk;
        out.push_str(if risky { "<tr class=\"risk\">" } else { "<tr>" });
        for (i, cell) in cells.iter().enumerate() {
            let numeric = (3..10).contains(&i);
            let negative =
                (i == 8 && c.savings.cpu_cores < 0.0) || (i == 9 && c.savings.memory_bytes < 0);
            let class = match (numeric, negative) {
                (true, true) => " class=\"n neg\"",
                (true, false) => " class=\"n\"",
                _ => "",
            };
            let _ = write!(out, "<td{class}>{}</td>", escape(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n</body>\n</html>\n");
    out
}

fn human_duration(secs: u64) -> String {
    if secs.is_multiple_of(86_400) {
        format!("{} d", secs / 86_400)
    } else if secs.is_multiple_of(3600) {
        format!("{} h", secs / 3600)
    } else {
        format!("{secs} s")
    }
}

/// HTML text escaping.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::vpa::report::{Resources, Savings, Strategy, Totals};

    const MIB: i64 = 1_048_576;

    #[test]
    fn formats_amounts_for_people() {
        assert_eq!(format_cpu(Some(250)), "250m");
        assert_eq!(format_cpu(Some(2000)), "2");
        assert_eq!(format_cpu(Some(1500)), "1.5");
        assert_eq!(format_cpu(Some(-300)), "-300m");
        assert_eq!(format_cpu(None), "-");
        // Extremes format without overflow.
        assert!(format_cpu(Some(i64::MIN)).starts_with('-'));
        assert!(
            format_memory(Some(i64::MIN)).ends_with("Gi")
                || format_memory(Some(i64::MIN)).ends_with("Ti")
        );
        assert_eq!(format_memory(Some(512 * MIB)), "512Mi");
        assert_eq!(format_memory(Some(1536 * MIB)), "1.5Gi");
        assert_eq!(format_memory(Some(-256 * MIB)), "-256Mi");
        assert_eq!(format_memory(Some(100)), "100");
    }

    #[test]
    fn html_escapes_and_has_no_external_assets() {
        let report = RightSizingReport {
            generated_at: "2025-01-04T00:00:00Z".into(),
            strategy: Strategy::Vpa,
            history_seconds: 8 * 86_400,
            step_seconds: 3600.0,
            containers: vec![ContainerReport {
                namespace: "ns".into(),
                workload: "<script>".into(),
                container: "app".into(),
                pods: 1,
                requests: Resources::default(),
                limits: Resources::default(),
                recommendation: None,
                note: Some("no usage history".into()),
                savings: Savings::default(),
                oom_risk: false,
                oom_killed: false,
                throttled_ratio: None,
                throttling_risk: false,
            }],
            totals: Totals::default(),
        };
        let html = render_html(&report);
        assert!(html.contains("&lt;script&gt;") && !html.contains("<script>"));
        assert!(!html.contains("http://") && !html.contains("https://") && !html.contains("src="));
        assert!(html.contains("8 d of history"));
    }
}
