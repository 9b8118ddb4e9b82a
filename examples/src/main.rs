//! The `ksx` command-line tool.
fn main() {}
