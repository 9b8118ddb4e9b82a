//! Tenancy. (Being written.)
