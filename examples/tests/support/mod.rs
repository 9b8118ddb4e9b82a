//! Helpers shared by the integration tests of the `ksx` binary.

pub(crate) mod golden;
