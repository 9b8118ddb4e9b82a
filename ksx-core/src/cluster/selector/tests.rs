//! Unit tests of label and field selectors: parsing, matching, conversion, round trips.

use k8s_openapi::api::core::v1::Pod;
use proptest::prelude::*;

use super::*;
use crate::cluster::{Kind, Object};

fn labels(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
    pairs
        .iter()
        .map(|(k, v)| ((*k).to_owned(), (*v).to_owned()))
        .collect()
}

/// Parses `input` and checks the printed form and whether it matches `set`.
fn check(input: &str, printed: &str, set: &[(&str, &str)], matches: bool) {
    let selector = LabelSelector::parse(input).unwrap_or_else(|e| panic!("{input}: {e}"));
    assert_eq!(selector.to_string(), printed, "{input}");
    assert_eq!(
        selector.matches(&labels(set)),
        matches,
        "{input} against {set:?}"
    );
    assert_eq!(LabelSelector::parse(printed).unwrap(), selector);
}

#[test]
fn parses_and_matches() {
    check("", "", &[], true);
    check("a=b", "a=b", &[("a", "b")], true);
    check("a==b", "a=b", &[("a", "c")], false);
    check("a!=b", "a!=b", &[], true);
    check("a!=b", "a!=b", &[("a", "b")], false);
    check("a in (x, y)", "a in (x,y)", &[("a", "y")], true);
    check("a notin (x)", "a notin (x)", &[("a", "x")], false);
    check("a notin (x)", "a notin (x)", &[], true);
    check("a", "a", &[("a", "")], true);
    check("!a", "!a", &[("a", "")], false);
    check(" b=1 , a ", "a,b=1", &[("a", "z"), ("b", "1")], true);
    check("a=", "a=", &[("a", "")], true);
    check("a in ()", "a in ()", &[("a", "")], true);
    check("a=in", "a=in", &[("a", "in")], true);
    check(
        "example.com/app=web",
        "example.com/app=web",
        &[("example.com/app", "web")],
        true,
    );
}

fn reject(input: &str, fragment: &str) {
    match LabelSelector::parse(input) {
        Ok(s) => panic!("{input} parsed as {s}"),
        Err(e) => assert!(e.to_string().contains(fragment), "{input}: {e}"),
    }
}

#[test]
fn rejects_bad_selectors_with_reasons() {
    reject("a in (x", "expected ',' or ')'");
    reject("a in x", "expected '('");
    reject("=b", "expected a label key");
    reject("a=b=c", "expected ',' or the end");
    reject("a b", "expected an operator");
    reject("-a=b", "must start and end with a letter or digit");
    reject("a=b c", "expected ',' or the end");
    reject("Example.com/a=b", "DNS subdomain");
    reject(&format!("a={}", "x".repeat(64)), "at most 63 characters");
    reject("a=b,", "expected a label key");
    reject("!a=b", "expected ',' or the end");
}

#[test]
fn converts_structured_selectors() {
    let structured = meta::LabelSelector {
        match_labels: Some(labels(&[("app", "web")])),
        match_expressions: Some(vec![
            meta::LabelSelectorRequirement {
                key: "tier".into(),
                operator: "In".into(),
                values: Some(vec!["front".into(), "back".into()]),
            },
            meta::LabelSelectorRequirement {
                key: "canary".into(),
                operator: "DoesNotExist".into(),
                values: None,
            },
        ]),
    };
    let selector = LabelSelector::from_k8s(&structured).unwrap();
    assert_eq!(selector.to_string(), "app=web,!canary,tier in (back,front)");
    assert_eq!(
        LabelSelector::from_k8s(&selector.to_k8s()).unwrap(),
        selector
    );
    assert!(
        LabelSelector::from_k8s(&meta::LabelSelector::default())
            .unwrap()
            .is_empty()
    );

    let bad = meta::LabelSelector {
        match_expressions: Some(vec![meta::LabelSelectorRequirement {
            key: "tier".into(),
            operator: "Near".into(),
            values: None,
        }]),
        ..Default::default()
    };
    assert!(
        LabelSelector::from_k8s(&bad)
            .unwrap_err()
            .to_string()
            .contains("unknown matchExpressions operator")
    );
    let empty_in = meta::LabelSelector {
        match_expressions: Some(vec![meta::LabelSelectorRequirement {
            key: "tier".into(),
            operator: "In".into(),
            values: Some(vec![]),
        }]),
        ..Default::default()
    };
    assert!(LabelSelector::from_k8s(&empty_in).is_err());
}

#[test]
fn field_selectors() {
    let mut pod = Pod::default();
    pod.metadata.name = Some("web-1".into());
    pod.metadata.namespace = Some("shop".into());
    pod.spec = Some(Default::default());
    let pod = Object::Pod(pod);
    let sel = FieldSelector::parse("metadata.name=web-1,spec.nodeName!=n1").unwrap();
    assert!(sel.matches(&pod));
    assert!(
        FieldSelector::parse("spec.nodeName=")
            .unwrap()
            .matches(&pod)
    );
    assert!(
        !FieldSelector::parse("metadata.namespace==other")
            .unwrap()
            .matches(&pod)
    );
    assert_eq!(sel.to_string(), "metadata.name=web-1,spec.nodeName!=n1");
    assert!(
        FieldSelector::parse("spec.replicas=1")
            .unwrap_err()
            .to_string()
            .contains("not supported")
    );
    assert!(FieldSelector::parse("metadata.name").is_err());
    assert!(sel.check_kind(&Kind::ConfigMap).is_err());
    assert!(sel.check_kind(&Kind::Pod).is_ok());
    let escaped = FieldSelector::parse(r"metadata.name=a\,b").unwrap();
    assert_eq!(escaped.requirements()[0].value, "a,b");
    assert_eq!(FieldSelector::parse(&escaped.to_string()).unwrap(), escaped);
}

fn key_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "[a-z][a-z0-9]{2,8}".prop_filter("keywords are not keys", |k| k != "notin"),
        "[a-z]{1,5}\\.[a-z]{2,3}/[a-zA-Z][a-zA-Z0-9_.-]{0,6}[a-z0-9]",
    ]
}

fn value_strategy() -> impl Strategy<Value = String> {
    prop_oneof![
        "",
        "[a-zA-Z0-9]",
        "[a-zA-Z0-9][a-zA-Z0-9_.-]{0,10}[a-zA-Z0-9]",
        Just("in".to_owned())
    ]
}

fn requirement_strategy() -> impl Strategy<Value = Requirement> {
    (
        key_strategy(),
        0..6_u8,
        proptest::collection::btree_set(value_strategy(), 1..4),
    )
        .prop_map(|(key, op, values)| {
            let first = values.iter().next().cloned().unwrap_or_default();
            match op {
                0 => Requirement::new(key, Operator::Equals, [first]),
                1 => Requirement::new(key, Operator::NotEquals, [first]),
                2 => Requirement::new(key, Operator::In, values),
                3 => Requirement::new(key, Operator::NotIn, values),
                4 => Requirement::new(key, Operator::Exists, []),
                _ => Requirement::new(key, Operator::DoesNotExist, []),
            }
            .unwrap()
        })
}

proptest! {
    #[test]
    fn arbitrary_text_never_panics(text in "\\PC{0,40}") {
        let _ = LabelSelector::parse(&text);
        let _ = FieldSelector::parse(&text);
    }

    #[test]
    fn selector_like_text_never_panics(text in "[a-z!=(), ]{0,30}") {
        if let Ok(selector) = LabelSelector::parse(&text) {
            prop_assert_eq!(LabelSelector::parse(&selector.to_string()).unwrap(), selector);
        }
    }

    #[test]
    fn print_parse_round_trip(requirements in proptest::collection::vec(requirement_strategy(), 0..5)) {
        let selector = LabelSelector::new(requirements);
        let printed = selector.to_string();
        prop_assert_eq!(LabelSelector::parse(&printed).unwrap(), selector);
    }
}
