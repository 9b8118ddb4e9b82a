//! `ksx-bench`: prints benchmark figures as JSON.
fn main() {}
