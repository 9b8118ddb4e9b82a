//! Criterion benches of ksx-core.
fn main() {}
