//! Replays the hand-computed `ksx sched score` cases of `tests/data/score/*.json` (expectations derived from the
//! formulas of scheduling.md §1.4–§1.9, each file explains its arithmetic in `comment`).

use std::path::Path;

fn check(name: &str, case: &serde_json::Value) {
    let request = ksx_gpu::score::parse_request(&case["request"], name).expect("request parses");
    let response = ksx_gpu::score::score(&request).expect("request scores");
    let got = serde_json::to_value(&response).expect("serializes");
    assert_eq!(
        got,
        case["expected"],
        "{name}: {}\ngot: {}",
        case["comment"],
        serde_json::to_string_pretty(&got).expect("serializes")
    );
}

#[test]
fn score_cases() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data/score");
    let mut names: Vec<_> = std::fs::read_dir(&dir)
        .unwrap()
        .map(|e| e.unwrap().path())
        .filter(|p| p.extension().is_some_and(|e| e == "json"))
        .collect();
    names.sort();
    assert!(names.len() >= 10, "cases missing in {}", dir.display());
    for path in names {
        let case: serde_json::Value =
            serde_json::from_str(&std::fs::read_to_string(&path).unwrap()).unwrap();
        check(&path.display().to_string(), &case);
    }
}
