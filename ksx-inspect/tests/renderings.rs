//! Human-facing renderings (table and Markdown) as `insta` snapshots, on the golden findings bundle of the CLI.

use ksx_core::ManualClock;
use ksx_core::manifest::load_paths;
use ksx_inspect::report::{TableOptions, to_markdown, to_table};
use ksx_inspect::{Bundle, Config, Engine, Report, RunOptions};

fn report() -> Report {
    let dir = concat!(
        env!("CARGO_MANIFEST_DIR"),
        "/../examples/tests/golden/inspect/findings"
    );
    // Relative names keep the snapshot independent of where the workspace lives.
    let loaded = load_paths(&[format!("{dir}/bundle")]);
    let mut loaded = loaded;
    for d in &mut loaded.documents {
        d.source.file = d.source.file.replace(dir, ".");
    }
    for d in &mut loaded.diagnostics {
        d.file = d.file.replace(dir, ".");
    }
    let bundle = Bundle::from_loaded(&loaded, "default");
    let engine = Engine::new(&Config::default(), &RunOptions::default()).expect("engine");
    engine.inspect(&bundle, &ManualClock::at_unix_secs(1_767_225_600))
}

#[test]
fn table() {
    let text = to_table(
        &report(),
        TableOptions {
            show_exempted: true,
            duration_ms: 80,
        },
    );
    insta::assert_snapshot!(text);
}

#[test]
fn markdown() {
    insta::assert_snapshot!(to_markdown(&report()));
}
