//! Conformance checks every cluster implementation passes. (Being written.)
