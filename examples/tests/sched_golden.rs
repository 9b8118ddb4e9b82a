//! Golden JSON tests of `ksx sched score`: every `*.input.json` under `tests/golden/sched/score/` runs through the
//! real binary and its standard output must equal the `*.output.json` next to it, compared as parsed JSON (exit
//! code 0). The expectations were computed by hand from scheduling.md §1 (the same cases, with their arithmetic,
//! live in `ksx-gpu/tests/data/score/`). `KSX_UPDATE_GOLDEN=1` rewrites the outputs instead (review the diff).

mod support;

use std::path::Path;

#[test]
fn score_golden() {
    let dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/golden/sched/score");
    support::golden::check_json_goldens(&dir, &["sched", "score", "-o", "json"], 10, |_| Ok(()));
}
