//! Custom rules: the spec's examples evaluated on a bundle, every loader problem in its exact form
//! (`tests/data/rules/bad/*.yaml`), and garbage rule files giving errors, never panics.

use std::path::Path;

use ksx_core::ManualClock;
use ksx_core::manifest::load_paths;
use ksx_inspect::rules::{load_rules, read_rule_files};
use ksx_inspect::{Bundle, Config, Engine, RunOptions};
use proptest::prelude::*;

fn data() -> &'static Path {
    Path::new(concat!(env!("CARGO_MANIFEST_DIR"), "/tests/data/rules"))
}

#[test]
fn spec_examples_find_what_they_should() {
    let files = read_rule_files(&[data().join("good")]).expect("read");
    let rules = load_rules(&files).expect("valid rules");
    assert_eq!(rules.len(), 4);
    let bundle = Bundle::from_loaded(&load_paths(&[data().join("bundle.yaml")]), "default");
    let options = RunOptions {
        checks: Some(vec!["org-*".into()]),
        ..RunOptions::default()
    };
    let engine = Engine::with_rules(&Config::default(), &options, rules).expect("engine");
    let report = engine.inspect(&bundle, &ManualClock::at_unix_secs(0));
    let got: Vec<(String, String, Option<String>, String, String)> = report
        .findings
        .iter()
        .map(|f| {
            (
                f.check_id.clone(),
                f.resource.name.clone(),
                f.container.clone(),
                f.path.clone(),
                f.message.clone(),
            )
        })
        .collect();
    let want = vec![
        (
            "org-approved-registry",
            "web",
            Some("web"),
            "/spec/template/spec/containers/0/image",
            "container web pulls docker.io/nginx:1.27 outside registry.example.com",
        ),
        (
            "org-db-credentials",
            "web",
            Some("web"),
            "/spec/template/spec/containers/0/env/0/valueFrom/secretKeyRef/name",
            "web sets DB_PASSWORD as a literal",
        ),
        (
            "org-memory-ceiling",
            "web",
            Some("web"),
            "/spec/template/spec/containers/0/resources/limits/memory",
            "web: memory 5G is outside 128Mi..4Gi",
        ),
    ];
    let want: Vec<_> = want
        .into_iter()
        .map(|(a, b, c, d, e)| {
            (
                a.to_owned(),
                b.to_owned(),
                c.map(str::to_owned),
                d.to_owned(),
                e.to_owned(),
            )
        })
        .collect();
    assert_eq!(got, want);
    let custom = report
        .checks
        .iter()
        .find(|c| c.id == "org-team-label")
        .expect("listed");
    assert_eq!(custom.source, "custom");
    // The team-label rule ran on both Deployments and passed.
    assert_eq!(report.summary.tests.failed, 3);
    assert!(report.summary.tests.passed >= 5);
}

#[test]
fn loader_errors_have_the_exact_form() {
    let cases = [
        (
            "duplicate",
            "bad/duplicate.yaml:14:7: rule \"org-dup\": duplicate rule id \"org-dup\" (first defined at bad/duplicate.yaml:5:7)",
        ),
        (
            "foreach",
            "bad/foreach.yaml:9:12: rule \"org-foreach\": forEach \"containers\" needs workload kinds in match.kinds",
        ),
        (
            "missing",
            "bad/missing.yaml:4:1: rule \"org-missing\": missing required field \"spec.expect\"",
        ),
        (
            "no-id",
            "bad/no-id.yaml:4:1: document 1: missing required field \"spec.id\"",
        ),
        (
            "operator",
            "bad/operator.yaml:8:37: rule \"org-operator\": unknown operator \"lessThan\"; expected one of exists, absent, equals, notEquals, in, notIn, regex, notRegex, gt, gte, lt, lte, contains, minItems, maxItems",
        ),
        (
            "path",
            "bad/path.yaml:10:32: rule \"org-path\": invalid path \"@.containers[\": expected ']' at column 14",
        ),
        (
            "quantity",
            "bad/quantity.yaml:13:15: rule \"org-memory-ceiling\": invalid quantity \"4GB\" for lte (examples: 4Gi, 4G, 500m)",
        ),
        (
            "regex",
            "bad/regex.yaml:8:37: rule \"org-regex\": invalid regex '^(a': unclosed group",
        ),
        (
            "reserved",
            "bad/reserved.yaml:5:7: rule \"sec-privileged\": rule id \"sec-privileged\" is reserved by a built-in check",
        ),
        (
            "severity",
            "bad/severity.yaml:7:3: rule \"org-severity\": field \"spec.severity\" must be one of danger, warning, info; got \"high\"",
        ),
        (
            "template",
            "bad/template.yaml:9:3: rule \"org-template\": unknown template variable \"containr\" in message",
        ),
        (
            "two-operators",
            "bad/two-operators.yaml:8:50: rule \"org-two\": condition has 2 operators (equals, regex); exactly one is allowed",
        ),
        (
            "typo",
            "bad/typo.yaml:8:3: rule \"org-typo\": unknown field \"spec.mtach\" (did you mean \"match\"?)",
        ),
        (
            "yaml",
            "bad/yaml.yaml:4:1: document 1: invalid YAML: did not find expected ',' or ']'",
        ),
    ];
    for (name, want) in cases {
        let file = format!("bad/{name}.yaml");
        let text = std::fs::read_to_string(data().join(&file)).expect("read");
        let errors = load_rules(&[(file.clone(), text)]).expect_err(name);
        let got: Vec<String> = errors.iter().map(ToString::to_string).collect();
        assert_eq!(got, vec![want.to_owned()], "{file}");
    }
}

#[test]
fn all_problems_are_reported_sorted() {
    let files = read_rule_files(&[data().join("bad")]).expect("read");
    let errors = load_rules(&files).expect_err("bad rules");
    assert_eq!(errors.len(), 14);
    let mut sorted = errors.clone();
    sorted.sort();
    assert_eq!(errors, sorted);
}

const FRAGMENTS: &[&str] = &[
    "apiVersion: inspect.ksx.io/v1\n",
    "kind: InspectRule\n",
    "spec:\n",
    "  id: org-x\n",
    "  severity: danger\n",
    "  category: security\n",
    "  forEach: containers\n",
    "  match: {kinds: [workloads]}\n",
    "  expect: {path: '@.image', regex: '^a'}\n",
    "  expect: {all: [{path: '$.a[?(@.b == 1)]', gt: 1Gi}]}\n",
    "  expect: {each: '@.env[*]', expect: {not: {path: '@', absent: true}}}\n",
    "  message: '{{ value | round(2) }}'\n",
    "---\n",
    "  when: {path: '$pod.x', minItems: -1}\n",
    "  expect: [1, 2]\n",
    "  expect: {path: 3}\n",
    "  expect: {path: '$[', in: 4}\n",
    "  message: '{{'\n",
    "  forEach: {path: '@..'}\n",
    "  - x\n",
    ": :\n",
    "  expect: {someOf: '$.x', expect: {path: '@', contains: [a]}}\n",
    "  type: node\n",
];

proptest! {
    #[test]
    fn garbage_rule_files_give_errors_not_panics(text in "[ -~\n]{0,300}") {
        let _ = load_rules(&[("g.yaml".to_owned(), text)]);
    }

    #[test]
    fn recombined_rule_fragments_never_panic(picks in prop::collection::vec(prop::sample::select(FRAGMENTS), 0..14)) {
        let text: String = picks.concat();
        if let Ok(rules) = load_rules(&[("f.yaml".to_owned(), text)]) {
            let engine = Engine::with_rules(&Config::default(), &RunOptions::default(), rules).expect("engine");
            let bundle = Bundle::from_loaded(&load_paths(&[data().join("bundle.yaml")]), "default");
            let _ = engine.inspect(&bundle, &ManualClock::at_unix_secs(0));
        }
    }
}
