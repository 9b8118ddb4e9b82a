//! Reading manifests. (Being written.)
