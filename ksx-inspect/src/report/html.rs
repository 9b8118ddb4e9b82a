//! Standalone HTML rendering (spec §6.6): one self-contained file, inline CSS, SVG and a small inline script, no
//! network access. The overview (run metadata, score gauge, severity and category bars, the sortable namespace
//! table) is rendered here and readable without scripts; the findings are embedded once as JSON (with `<`, `>`
//! and `&` written as `\u` escapes, so no value can close the script element) and listed by the script with
//! DOM text nodes, never `innerHTML`, with filters by severity, category, namespace and check, a text search,
//! rows that expand to message, remediation, references, path and `file:line`, and the exempted findings in a
//! collapsed section with their reasons.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Write as _;

use crate::diff::Diff;
use crate::model::{Category, Report};

/// Escapes text for HTML content and quoted attribute values.
pub fn html_escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for ch in text.chars() {
        match ch {
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

/// JSON for a `<script type="application/json">` element: `<`, `>`, `&` and the JavaScript line separators as
/// `\u` escapes (only ever inside strings, so the JSON means the same), hence no `</script>` or `<!--` in it.
fn script_json(json: &str) -> String {
    let mut out = String::with_capacity(json.len());
    for ch in json.chars() {
        match ch {
            '<' => out.push_str("\\u003c"),
            '>' => out.push_str("\\u003e"),
            '&' => out.push_str("\\u0026"),
            '\u{2028}' => out.push_str("\\u2028"),
            '\u{2029}' => out.push_str("\\u2029"),
            c => out.push(c),
        }
    }
    out
}

/// The gauge colour of a score: ≥ 90 green, ≥ 70 amber, else red.
pub(super) fn score_colour(score: u64) -> &'static str {
    if score >= 90 {
        "#2e7d32"
    } else if score >= 70 {
        "#e69b00"
    } else {
        "#c62828"
    }
}

const CSS: &str = r#"
:root{--danger:#c62828;--warning:#e69b00;--info:#1565c0;--ok:#2e7d32;--line:#d9dde3;--muted:#5f6b7a}
*{box-sizing:border-box}
body{font:14px/1.45 system-ui,-apple-system,"Segoe UI",Roboto,sans-serif;margin:0;color:#1d2633;background:#f6f7f9}
header,section{background:#fff;margin:12px auto;max-width:1280px;padding:14px 20px;border:1px solid var(--line);border-radius:6px}
h1{font-size:20px;margin:0 0 8px}h2{font-size:16px;margin:0 0 10px}
dl.meta{display:grid;grid-template-columns:max-content 1fr;gap:2px 14px;margin:0}
dl.meta dt{color:var(--muted)}dl.meta dd{margin:0;word-break:break-all}
.overview{display:flex;flex-wrap:wrap;gap:28px;align-items:flex-start}
.overview figure{margin:0}.overview figcaption{color:var(--muted);font-size:12px;margin-bottom:4px}
table{border-collapse:collapse;width:100%}
th,td{text-align:left;padding:5px 8px;border-bottom:1px solid var(--line);vertical-align:top}
th{background:#eef1f5;font-weight:600;white-space:nowrap}
table.sortable th{cursor:pointer;user-select:none}
table.sortable th[aria-sort=ascending]::after{content:" \25B2"}
table.sortable th[aria-sort=descending]::after{content:" \25BC"}
td.num,th.num{text-align:right}
.sev{display:inline-block;padding:0 6px;border-radius:3px;color:#fff;font-size:12px}
.sev-danger{background:var(--danger)}.sev-warning{background:var(--warning)}.sev-info{background:var(--info)}
.filters{display:flex;flex-wrap:wrap;gap:8px;margin-bottom:10px}
.filters select,.filters input{font:inherit;padding:3px 6px}
.filters input{flex:1;min-width:180px}
tr.finding{cursor:pointer}tr.finding:hover{background:#f1f5fb}
tr.detail td{background:#fafbfc}
tr.detail dl{display:grid;grid-template-columns:max-content 1fr;gap:2px 12px;margin:0}
tr.detail dt{color:var(--muted)}tr.detail dd{margin:0;white-space:pre-wrap;word-break:break-word}
code{font-family:ui-monospace,SFMono-Regular,Menlo,monospace;font-size:12px}
.muted{color:var(--muted)}
details>summary{cursor:pointer;font-weight:600}
"#;

/// Extra style of the diff page: the tab strip and the change flags.
const DIFF_CSS: &str = r#"
.tabs{display:flex;gap:4px;border-bottom:1px solid var(--line);margin-bottom:10px}
.tabs button{font:inherit;padding:6px 14px;border:1px solid var(--line);border-bottom:none;border-radius:6px 6px 0 0;background:#eef1f5;cursor:pointer}
.tabs button[aria-selected=true]{background:#fff;font-weight:600;margin-bottom:-1px}
.flag{display:inline-block;padding:0 6px;border-radius:3px;font-size:12px;background:#eef1f5;margin-right:4px}
.flag-resource-gone{background:#e3f2e5}.flag-severity-changed{background:#fff1d6}
"#;

/// Helpers both pages' scripts start with (inside their function scope): DOM elements with text only (never
/// `innerHTML`), a finding's resource and `file:line`, an exemption's reason, the expandable detail row and a
/// finding row. The detail row also shows a diff finding's flags.
const COMMON_JS: &str = r#"
  function el(tag, cls, text) {
    var e = document.createElement(tag);
    if (cls) e.className = cls;
    if (text !== undefined && text !== null) e.textContent = String(text);
    return e;
  }
  function resource(f) {
    var r = f.resource;
    return (r.namespace ? r.namespace + "/" : "") + r.kind + "/" + r.name;
  }
  function place(f) { return f.location ? f.location.file + ":" + f.location.line : ""; }
  function reason(s) { return s.reason || s.rule || (s.by === "annotation" ? "ksx.io/exempt annotation" : "configured exemption"); }
  function uniq(values) {
    var seen = {}, out = [];
    values.forEach(function (v) { if (!Object.prototype.hasOwnProperty.call(seen, v)) { seen[v] = true; out.push(v); } });
    return out.sort();
  }
  function options(id, values) {
    var select = document.getElementById(id);
    values.forEach(function (v) {
      var o = el("option", null, v === "" ? "(cluster)" : v);
      o.value = v;
      select.appendChild(o);
    });
  }
  function detail(f, columns) {
    var tr = el("tr", "detail"), td = el("td"), dl = el("dl");
    td.colSpan = columns;
    function row(name, value) {
      if (value === null || value === undefined || value === "") return;
      dl.appendChild(el("dt", null, name));
      var dd = el("dd");
      if (value instanceof Node) dd.appendChild(value); else dd.textContent = String(value);
      dl.appendChild(dd);
    }
    row("message", f.message);
    row("remediation", f.remediation);
    if (f.references && f.references.length) {
      var refs = el("span");
      f.references.forEach(function (ref, i) {
        if (i) refs.appendChild(document.createTextNode(" "));
        if (/^https?:\/\//i.test(ref)) {
          var a = el("a", null, ref);
          a.href = ref;
          a.rel = "noopener noreferrer";
          refs.appendChild(a);
        } else {
          refs.appendChild(document.createTextNode(ref));
        }
      });
      row("references", refs);
    }
    row("resource", resource(f) + " (" + f.resource.apiVersion + ")");
    row("container", f.container);
    row("path", f.path);
    row("location", place(f));
    if (f.location) row("template", f.location.templateSource);
    if (f.suppressed) row("exempted", reason(f.suppressed) + " (" + f.suppressed.by + ")");
    if (f.resourceGone) row("resource gone", "the resource is not in NEW's inventory");
    if (f.severityChanged) row("severity changed", (f.previousSeverity || "?") + " \u2192 " + f.severity);
    if (f.change) row("change", f.change);
    row("fingerprint", f.fingerprint);
    td.appendChild(dl);
    tr.appendChild(td);
    return tr;
  }
  // `text`: the last column (message or exemption reason); `flags`: [[class, text]...] for a notes column.
  function findingRow(f, text, flags) {
    var tr = el("tr", "finding");
    var sev = el("td"); sev.appendChild(el("span", "sev sev-" + f.severity, f.severity)); tr.appendChild(sev);
    tr.appendChild(el("td", null, resource(f)));
    var check = el("td"); check.appendChild(el("code", null, f.checkId)); tr.appendChild(check);
    tr.appendChild(el("td", null, f.container || "-"));
    tr.appendChild(el("td", null, place(f) || f.path));
    tr.appendChild(el("td", null, text));
    if (flags) {
      var notes = el("td");
      flags.forEach(function (x) { notes.appendChild(el("span", "flag " + x[0], x[1])); });
      tr.appendChild(notes);
    }
    tr.addEventListener("click", function () {
      var next = tr.nextSibling;
      if (next && next.className === "detail") { next.parentNode.removeChild(next); return; }
      tr.parentNode.insertBefore(detail(f, tr.cells.length), tr.nextSibling);
    });
    return tr;
  }
"#;

/// The report page's script, after [`COMMON_JS`].
const REPORT_JS: &str = r#"
  var data = JSON.parse(document.getElementById("ksx-data").textContent);
  var active = data.findings.filter(function (f) { return !f.suppressed; });
  var exempted = data.findings.filter(function (f) { return f.suppressed; });
  options("f-sev", ["danger", "warning", "info"].filter(function (s) { return active.some(function (f) { return f.severity === s; }); }));
  options("f-cat", uniq(active.map(function (f) { return f.category; })));
  options("f-ns", uniq(active.map(function (f) { return f.resource.namespace || ""; })));
  options("f-check", uniq(active.map(function (f) { return f.checkId; })));
  var body = document.getElementById("findings-body"), count = document.getElementById("findings-count");
  function render() {
    var sev = document.getElementById("f-sev").value, cat = document.getElementById("f-cat").value;
    var ns = document.getElementById("f-ns").value, check = document.getElementById("f-check").value;
    var q = document.getElementById("f-q").value.toLowerCase();
    var fragment = document.createDocumentFragment(), shown = 0;
    active.forEach(function (f) {
      if (sev !== "*" && f.severity !== sev) return;
      if (cat !== "*" && f.category !== cat) return;
      if (ns !== "*" && (f.resource.namespace || "") !== ns) return;
      if (check !== "*" && f.checkId !== check) return;
      if (q && [resource(f), f.checkId, f.container || "", f.path, f.message, f.remediation, place(f)].join("\n").toLowerCase().indexOf(q) < 0) return;
      fragment.appendChild(findingRow(f, f.message));
      shown += 1;
    });
    body.textContent = "";
    body.appendChild(fragment);
    count.textContent = shown === active.length ? String(active.length) : shown + " of " + active.length;
  }
  ["f-sev", "f-cat", "f-ns", "f-check"].forEach(function (id) { document.getElementById(id).addEventListener("change", render); });
  document.getElementById("f-q").addEventListener("input", render);
  render();
  var exemptBody = document.getElementById("exempted-body");
  exempted.forEach(function (f) { exemptBody.appendChild(findingRow(f, reason(f.suppressed))); });
  document.getElementById("exempted-count").textContent = String(exempted.length);
  Array.prototype.forEach.call(document.querySelectorAll("table.sortable"), function (table) {
    var heads = table.tHead.rows[0].cells;
    Array.prototype.forEach.call(heads, function (th, column) {
      th.addEventListener("click", function () {
        var ascending = th.getAttribute("aria-sort") !== "ascending";
        Array.prototype.forEach.call(heads, function (h) { h.removeAttribute("aria-sort"); });
        th.setAttribute("aria-sort", ascending ? "ascending" : "descending");
        var numeric = th.className.indexOf("num") >= 0;
        var rows = Array.prototype.slice.call(table.tBodies[0].rows);
        rows.sort(function (a, b) {
          var x = a.cells[column].getAttribute("data-v"), y = b.cells[column].getAttribute("data-v");
          var c = numeric ? Number(x) - Number(y) : (x < y ? -1 : x > y ? 1 : 0);
          return ascending ? c : -c;
        });
        rows.forEach(function (r) { table.tBodies[0].appendChild(r); });
      });
    });
  });
"#;

/// The start of a page up to `<body>`: the content security policy that keeps it off the network, the title
/// (escaped) and the shared style sheet followed by `extra_css`.
fn page_start(out: &mut String, title: &str, extra_css: &str) {
    let _ = write!(
        out,
        "<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n<meta name=\"viewport\" content=\"width=device-width, initial-scale=1\">\n\
<meta http-equiv=\"Content-Security-Policy\" content=\"default-src 'none'; style-src 'unsafe-inline'; script-src 'unsafe-inline'; img-src data:\">\n\
<title>{}</title>\n<style>{CSS}{extra_css}</style>\n</head>\n<body>\n",
        html_escape(title)
    );
}

/// The two script elements that end a page: `data` embedded once as JSON (see [`script_json`]), then the code,
/// [`COMMON_JS`] and `code` in one function scope.
fn scripts(data: &serde_json::Value, code: &str) -> String {
    format!(
        "<script type=\"application/json\" id=\"ksx-data\">{}</script>\n<script>\n(function () {{\n  \"use strict\";{COMMON_JS}{code}}})();\n</script>\n",
        script_json(&data.to_string())
    )
}

/// Horizontal bars: `(label, value, colour)`, widths relative to the largest value.
fn bars(rows: &[(String, u64, &str)], width: u64) -> String {
    let max = rows.iter().map(|r| r.1).max().unwrap_or(0).max(1);
    let height = rows.len() * 22;
    let mut svg = format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"{}\" height=\"{height}\" role=\"img\">",
        width + 160
    );
    for (i, (label, value, colour)) in rows.iter().enumerate() {
        let y = i * 22;
        let w = value * width / max;
        let _ = write!(
            svg,
            "<text x=\"0\" y=\"{}\" font-size=\"12\">{}</text><rect x=\"90\" y=\"{}\" width=\"{w}\" height=\"14\" fill=\"{colour}\"/><text x=\"{}\" y=\"{}\" font-size=\"12\">{value}</text>",
            y + 13,
            html_escape(label),
            y + 2,
            96 + w,
            y + 13
        );
    }
    svg.push_str("</svg>");
    svg
}

/// The score gauge: a ring whose arc is the score, in its colour.
fn gauge(score: u64) -> String {
    // Circumference of r = 52, in hundredths, so the arc length is integer arithmetic.
    let circumference = 32_673;
    let arc = circumference * score.min(100) / 100;
    format!(
        "<svg xmlns=\"http://www.w3.org/2000/svg\" width=\"140\" height=\"140\" viewBox=\"0 0 140 140\" role=\"img\" aria-label=\"score {score}\">\
<circle cx=\"70\" cy=\"70\" r=\"52\" fill=\"none\" stroke=\"#e3e6ea\" stroke-width=\"14\"/>\
<circle cx=\"70\" cy=\"70\" r=\"52\" fill=\"none\" stroke=\"{colour}\" stroke-width=\"14\" stroke-dasharray=\"{}.{:02} {}.{:02}\" transform=\"rotate(-90 70 70)\"/>\
<text x=\"70\" y=\"80\" text-anchor=\"middle\" font-size=\"32\" font-weight=\"700\" fill=\"{colour}\">{score}</text></svg>",
        arc / 100,
        arc % 100,
        circumference / 100,
        circumference % 100,
        colour = score_colour(score)
    )
}

fn meta_row(out: &mut String, name: &str, value: &str) {
    let _ = write!(
        out,
        "<dt>{}</dt><dd>{}</dd>",
        html_escape(name),
        html_escape(value)
    );
}

/// The HTML document of a report.
pub fn to_html(report: &Report) -> String {
    let s = &report.summary;
    let run = &report.run;
    let mut out = String::with_capacity(16 * 1024 + report.findings.len() * 700);
    page_start(&mut out, &format!("ksx inspect: score {}", s.score), "");
    // Run metadata.
    out.push_str("<header>\n<h1>ksx inspect report</h1>\n<dl class=\"meta\">");
    meta_row(&mut out, "run", &run.id);
    if let Some(plan) = &run.plan {
        meta_row(&mut out, "plan", plan);
    }
    meta_row(&mut out, "started", &run.started_at);
    meta_row(&mut out, "finished", &run.finished_at);
    meta_row(
        &mut out,
        "duration",
        &format!("{}.{:03} s", run.duration_ms / 1000, run.duration_ms % 1000),
    );
    meta_row(&mut out, "mode", &run.mode);
    meta_row(&mut out, "inputs", &run.inputs.join(", "));
    meta_row(&mut out, "kubernetes", &run.kube_version);
    meta_row(
        &mut out,
        "tool",
        &format!("{} {}", report.tool.name, report.tool.version),
    );
    meta_row(&mut out, "rules digest", &run.rules_digest);
    meta_row(&mut out, "fail on", run.fail_on.as_str());
    meta_row(&mut out, "status", &run.status);
    out.push_str("</dl>\n</header>\n");
    // Overview: gauge, severity and category bars, counts.
    out.push_str(
        "<section class=\"overview\" id=\"overview\">\n<figure><figcaption>score</figcaption>",
    );
    out.push_str(&gauge(s.score));
    out.push_str("</figure>\n<figure><figcaption>findings per severity</figcaption>");
    out.push_str(&bars(
        &[
            ("danger".to_owned(), s.findings.danger, "#c62828"),
            ("warning".to_owned(), s.findings.warning, "#e69b00"),
            ("info".to_owned(), s.findings.info, "#1565c0"),
        ],
        220,
    ));
    out.push_str("</figure>\n<figure><figcaption>findings per category</figcaption>");
    let categories: Vec<(String, u64, &str)> = Category::ALL
        .iter()
        .map(|c| {
            let b = s.by_category.get(c.as_str());
            let n = b.map_or(0, |b| b.danger + b.warning + b.info);
            (c.as_str().to_owned(), n, "#5c6bc0")
        })
        .collect();
    out.push_str(&bars(&categories, 220));
    let _ = write!(
        out,
        "</figure>\n<dl class=\"meta\" id=\"counts\"><dt>objects</dt><dd>{}</dd><dt>checks</dt><dd>{}</dd><dt>tests</dt><dd>{} ({} passed, {} failed, {} exempted)</dd><dt>findings</dt><dd>{} danger, {} warning, {} info</dd><dt>exempted</dt><dd>{}</dd></dl>\n</section>\n",
        s.objects,
        s.checks,
        s.tests.total,
        s.tests.passed,
        s.tests.failed,
        s.tests.exempted,
        s.findings.danger,
        s.findings.warning,
        s.findings.info,
        s.exempted
    );
    // Categories.
    out.push_str("<section id=\"categories\">\n<h2>Categories</h2>\n<table class=\"sortable\"><thead><tr><th>category</th><th class=\"num\">tests</th><th class=\"num\">danger</th><th class=\"num\">warning</th><th class=\"num\">info</th><th class=\"num\">score</th></tr></thead><tbody>\n");
    for c in Category::ALL {
        let b = s.by_category.get(c.as_str()).cloned().unwrap_or_default();
        let _ = writeln!(
            out,
            "<tr><td data-v=\"{c}\">{c}</td><td class=\"num\" data-v=\"{t}\">{t}</td><td class=\"num\" data-v=\"{d}\">{d}</td><td class=\"num\" data-v=\"{w}\">{w}</td><td class=\"num\" data-v=\"{i}\">{i}</td><td class=\"num\" data-v=\"{sc}\">{sc}</td></tr>",
            t = b.tests,
            d = b.danger,
            w = b.warning,
            i = b.info,
            sc = b.score
        );
    }
    out.push_str("</tbody></table>\n</section>\n");
    // Namespaces, with the objects that had a test in each.
    let mut objects: BTreeMap<&str, BTreeSet<(&str, &str)>> = BTreeMap::new();
    for f in &report.findings {
        let r = &f.resource;
        objects
            .entry(r.namespace.as_deref().unwrap_or(""))
            .or_default()
            .insert((r.kind.as_str(), r.name.as_str()));
    }
    for p in &s.passed_tests {
        let r = &p.resource;
        objects
            .entry(r.namespace.as_deref().unwrap_or(""))
            .or_default()
            .insert((r.kind.as_str(), r.name.as_str()));
    }
    out.push_str("<section id=\"namespaces\">\n<h2>Namespaces</h2>\n<table class=\"sortable\" id=\"namespace-table\"><thead><tr><th>namespace</th><th class=\"num\">objects</th><th class=\"num\">tests</th><th class=\"num\">danger</th><th class=\"num\">warning</th><th class=\"num\">info</th><th class=\"num\">score</th></tr></thead><tbody>\n");
    for (ns, b) in &s.by_namespace {
        let shown = if ns.is_empty() {
            "(cluster)".to_owned()
        } else {
            html_escape(ns)
        };
        let n = objects.get(ns.as_str()).map_or(0, BTreeSet::len);
        let _ = writeln!(
            out,
            "<tr><td data-v=\"{}\">{shown}</td><td class=\"num\" data-v=\"{n}\">{n}</td><td class=\"num\" data-v=\"{t}\">{t}</td><td class=\"num\" data-v=\"{d}\">{d}</td><td class=\"num\" data-v=\"{w}\">{w}</td><td class=\"num\" data-v=\"{i}\">{i}</td><td class=\"num\" data-v=\"{sc}\" style=\"color:{col}\">{sc}</td></tr>",
            html_escape(ns),
            t = b.tests,
            d = b.danger,
            w = b.warning,
            i = b.info,
            sc = b.score,
            col = score_colour(b.score)
        );
    }
    out.push_str("</tbody></table>\n</section>\n");
    // Findings, listed by the script from the embedded data.
    let active = report
        .findings
        .iter()
        .filter(|f| f.suppressed.is_none())
        .count();
    let _ = write!(
        out,
        "<section id=\"findings\">\n<h2>Findings (<span id=\"findings-count\">{active}</span>)</h2>\n\
<div class=\"filters\"><select id=\"f-sev\" aria-label=\"severity\"><option value=\"*\">all severities</option></select>\
<select id=\"f-cat\" aria-label=\"category\"><option value=\"*\">all categories</option></select>\
<select id=\"f-ns\" aria-label=\"namespace\"><option value=\"*\">all namespaces</option></select>\
<select id=\"f-check\" aria-label=\"check\"><option value=\"*\">all checks</option></select>\
<input id=\"f-q\" type=\"search\" placeholder=\"search resource, check, path, message…\" aria-label=\"search\"></div>\n\
<noscript><p class=\"muted\">The findings list needs JavaScript; the same data is in <code>--format json</code>.</p></noscript>\n\
<table><thead><tr><th>severity</th><th>resource</th><th>check</th><th>container</th><th>location</th><th>message</th></tr></thead><tbody id=\"findings-body\"></tbody></table>\n</section>\n\
<section id=\"exempted\">\n<details><summary>Exempted findings (<span id=\"exempted-count\">{}</span>)</summary>\n\
<table><thead><tr><th>severity</th><th>resource</th><th>check</th><th>container</th><th>location</th><th>reason</th></tr></thead><tbody id=\"exempted-body\"></tbody></table>\n</details>\n</section>\n",
        report.findings.len() - active
    );
    if !report.errors.is_empty() {
        out.push_str("<section id=\"errors\">\n<h2>Errors</h2>\n<ul>\n");
        for e in &report.errors {
            let _ = writeln!(out, "<li>{}</li>", html_escape(&e.to_string()));
        }
        out.push_str("</ul>\n</section>\n");
    }
    let data = serde_json::json!({ "findings": report.findings });
    let _ = write!(out, "{}</body>\n</html>\n", scripts(&data, REPORT_JS));
    out
}

/// The diff page's script, after [`COMMON_JS`]: fills the new, fixed, unchanged and suppressed tables from the
/// embedded diff and switches tabs (the initial tab may be named by the URL fragment: `#fixed`).
const DIFF_JS: &str = r#"
  var data = JSON.parse(document.getElementById("ksx-data").textContent);
  var tabs = ["new", "fixed", "unchanged"];
  function flags(d) {
    var out = [];
    if (d.resourceGone) out.push(["flag-resource-gone", "resource gone"]);
    if (d.severityChanged) out.push(["flag-severity-changed", "severity " + (d.previousSeverity || "?") + " \u2192 " + d.severity]);
    if (d.change) out.push(["flag-change", d.change]);
    return out;
  }
  function fill(key, list, exempt) {
    var body = document.getElementById(key + "-body");
    list.forEach(function (d) { body.appendChild(findingRow(d, exempt ? reason(d.suppressed) : d.message, flags(d))); });
    if (!list.length) {
      var tr = el("tr", "empty"), td = el("td", "muted", "None.");
      td.colSpan = 7;
      tr.appendChild(td);
      body.appendChild(tr);
    }
    document.getElementById(key + "-count").textContent = String(list.length);
  }
  tabs.forEach(function (k) { fill(k, data[k], false); });
  fill("suppressed", data.suppressed, true);
  function select(key) {
    tabs.forEach(function (k) {
      var on = k === key;
      document.getElementById("tab-" + k).setAttribute("aria-selected", on ? "true" : "false");
      document.getElementById("panel-" + k).hidden = !on;
    });
  }
  tabs.forEach(function (k) { document.getElementById("tab-" + k).addEventListener("click", function () { select(k); }); });
  var wanted = typeof location === "undefined" ? "" : String(location.hash || "").replace(/^#/, "");
  select(tabs.indexOf(wanted) >= 0 ? wanted : "new");
"#;

/// The HTML page of a `diff` (spec §6.6): one self-contained file in the report's style with both runs'
/// metadata and scores, the counts, **New / Fixed / Unchanged** tabs (counts in their labels; fixed rows flag
/// `resourceGone`, unchanged ones `severityChanged`) and the suppressed findings listed apart in a collapsed
/// section. The diff is embedded once as JSON (escaped as in [`to_html`]) and the rows are built by the script
/// with text nodes only; every text rendered here is escaped.
pub fn diff_to_html(d: &Diff) -> String {
    let s = &d.summary;
    let mut out = String::with_capacity(
        16 * 1024 + (d.new.len() + d.fixed.len() + d.unchanged.len() + d.suppressed.len()) * 700,
    );
    page_start(
        &mut out,
        &format!("ksx inspect diff: {} new, {} fixed", s.new, s.fixed),
        DIFF_CSS,
    );
    out.push_str("<header>\n<h1>ksx inspect diff</h1>\n<dl class=\"meta\">");
    for (name, side) in [("old", &d.old_run), ("new", &d.new_run)] {
        let _ = write!(
            out,
            "<dt>{name}</dt><dd><code>{}</code> · started {} · score <strong style=\"color:{}\">{}</strong> · {} danger, {} warning, {} info</dd>",
            html_escape(&side.label),
            html_escape(&side.started_at),
            score_colour(side.score),
            side.score,
            side.findings.danger,
            side.findings.warning,
            side.findings.info
        );
    }
    out.push_str("</dl>\n</header>\n");
    let _ = write!(
        out,
        "<section class=\"overview\" id=\"overview\">\n<dl class=\"meta\" id=\"counts\">\
<dt>new</dt><dd>{} ({} danger, {} warning, {} info)</dd>\
<dt>fixed</dt><dd>{} ({} resource gone)</dd>\
<dt>unchanged</dt><dd>{} ({} severity changed)</dd>\
<dt>suppressed</dt><dd>{}</dd></dl>\n</section>\n",
        s.new,
        s.new_by_severity.danger,
        s.new_by_severity.warning,
        s.new_by_severity.info,
        s.fixed,
        s.resource_gone,
        s.unchanged,
        s.severity_changed,
        s.suppressed
    );
    let head = "<table><thead><tr><th>severity</th><th>resource</th><th>check</th><th>container</th><th>location</th>";
    out.push_str("<section id=\"changes\">\n<div class=\"tabs\" role=\"tablist\">");
    let tabs = [
        ("new", "New", s.new),
        ("fixed", "Fixed", s.fixed),
        ("unchanged", "Unchanged", s.unchanged),
    ];
    for (i, (key, title, n)) in tabs.iter().enumerate() {
        let _ = write!(
            out,
            "<button type=\"button\" role=\"tab\" id=\"tab-{key}\" aria-controls=\"panel-{key}\" aria-selected=\"{}\">{title} (<span id=\"{key}-count\">{n}</span>)</button>",
            i == 0
        );
    }
    out.push_str("</div>\n<noscript><p class=\"muted\">The lists need JavaScript; the same data is in <code>--format json</code>.</p></noscript>\n");
    for (i, (key, _, _)) in tabs.iter().enumerate() {
        let _ = writeln!(
            out,
            "<div role=\"tabpanel\" id=\"panel-{key}\" aria-labelledby=\"tab-{key}\"{}>{head}<th>message</th><th>notes</th></tr></thead><tbody id=\"{key}-body\"></tbody></table></div>",
            if i == 0 { "" } else { " hidden" }
        );
    }
    let _ = write!(
        out,
        "</section>\n<section id=\"suppressed\">\n<details><summary>Suppressed findings of NEW (<span id=\"suppressed-count\">{}</span>)</summary>\n\
{head}<th>reason</th><th>change</th></tr></thead><tbody id=\"suppressed-body\"></tbody></table>\n</details>\n</section>\n",
        s.suppressed
    );
    let data = serde_json::to_value(d).unwrap_or_default();
    out.push_str(&scripts(&data, DIFF_JS));
    out.push_str("</body>\n</html>\n");
    out
}

#[cfg(test)]
mod tests {
    use super::{gauge, html_escape, score_colour, script_json};

    #[test]
    fn escapes() {
        assert_eq!(
            html_escape("<script>\"a\" & 'b'</script>"),
            "&lt;script&gt;&quot;a&quot; &amp; &#39;b&#39;&lt;/script&gt;"
        );
        assert_eq!(
            script_json(r#"{"n":"</script><!--"}"#),
            r#"{"n":"\u003c/script\u003e\u003c!--"}"#
        );
    }

    #[test]
    fn gauge_colours_and_arc() {
        assert_eq!(score_colour(90), "#2e7d32");
        assert_eq!(score_colour(89), "#e69b00");
        assert_eq!(score_colour(70), "#e69b00");
        assert_eq!(score_colour(69), "#c62828");
        // Half the ring for 50: 326.73 / 2, rounded down in hundredths.
        assert!(gauge(50).contains("stroke-dasharray=\"163.36 326.73\""));
        assert!(gauge(100).contains("stroke-dasharray=\"326.73 326.73\""));
    }
}
