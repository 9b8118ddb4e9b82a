//! An `object_store` S3 client for one endpoint and bucket (feature `s3`).
//!
//! [`S3Config`] collects what ksx needs to reach an S3 API: the endpoint (AWS, s3s-fs, moto, any
//! S3-compatible server), the bucket, static keys, the region, and short retry and timeout settings. Requests use
//! path-style addressing (`http://host:port/bucket/key`), `http://` endpoints are allowed, and conditional puts
//! use `If-Match` (`S3ConditionalPut::ETagMatch`). The client is object_store's `AmazonS3` over reqwest 0.13 with
//! rustls and `ring`; [`install_ring_provider`] makes `ring` the process's rustls provider, which
//! [`S3Config::build`] does when none is installed yet.
//!
//! object_store's default `RetryConfig` retries 10 times for up to 3 minutes, so a stopped server stalls a caller
//! for minutes; [`S3Config::new`] keeps 2 retries within 10 s, and tests can lower that with
//! [`S3Config::with_retries`].
//!
//! ```
//! use ksx_cache::s3::S3Config;
//!
//! let s3 = S3Config::new("http://127.0.0.1:8014", "ksx-test").with_keys("AKTEST", "SKTEST").build()?;
//! assert!(s3.to_string().contains("ksx-test"));
//! # Ok::<(), object_store::Error>(())
//! ```

use std::time::Duration;

use object_store::aws::{AmazonS3, AmazonS3Builder, S3ConditionalPut};
use object_store::{BackoffConfig, ClientOptions, RetryConfig};

/// How to reach one bucket of an S3 API.
#[derive(Clone, PartialEq, Eq)]
pub struct S3Config {
    /// The endpoint URL, e.g. `http://127.0.0.1:8014` or `https://s3.eu-west-1.amazonaws.com`.
    pub endpoint: String,
    /// The bucket every path is relative to.
    pub bucket: String,
    /// The region used to sign requests (`us-east-1` unless set).
    pub region: String,
    /// Static access key id; empty for none (then requests go unsigned).
    pub access_key_id: String,
    /// Static secret access key; empty for none.
    pub secret_access_key: String,
    /// How many times a failed request is retried (0: never).
    pub max_retries: usize,
    /// No retry starts later than this after the first attempt.
    pub retry_timeout: Duration,
    /// The whole-request timeout, body included.
    pub request_timeout: Duration,
    /// The TCP connect timeout.
    pub connect_timeout: Duration,
    /// Idle connections kept per host (`None`: reqwest's default); `Some(0)` opens one connection per request,
    /// which fault-injecting proxies in tests rely on.
    pub pool_max_idle_per_host: Option<usize>,
}

impl std::fmt::Debug for S3Config {
    // The secret never reaches logs or error messages.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("S3Config")
            .field("endpoint", &self.endpoint)
            .field("bucket", &self.bucket)
            .field("region", &self.region)
            .field("access_key_id", &self.access_key_id)
            .field("secret_access_key", &"<redacted>")
            .field("max_retries", &self.max_retries)
            .field("retry_timeout", &self.retry_timeout)
            .field("request_timeout", &self.request_timeout)
            .field("connect_timeout", &self.connect_timeout)
            .field("pool_max_idle_per_host", &self.pool_max_idle_per_host)
            .finish()
    }
}

impl S3Config {
    /// A configuration for `bucket` at `endpoint`: region `us-east-1`, no keys, 2 retries within 10 s, requests
    /// time out after 60 s and connects after 5 s.
    pub fn new(endpoint: impl Into<String>, bucket: impl Into<String>) -> Self {
        Self {
            endpoint: endpoint.into(),
            bucket: bucket.into(),
            region: "us-east-1".to_owned(),
            access_key_id: String::new(),
            secret_access_key: String::new(),
            max_retries: 2,
            retry_timeout: Duration::from_secs(10),
            request_timeout: Duration::from_secs(60),
            connect_timeout: Duration::from_secs(5),
            pool_max_idle_per_host: None,
        }
    }

    /// Sets static keys.
    #[must_use]
    pub fn with_keys(
        mut self,
        access_key_id: impl Into<String>,
        secret_access_key: impl Into<String>,
    ) -> Self {
        self.access_key_id = access_key_id.into();
        self.secret_access_key = secret_access_key.into();
        self
    }

    /// Sets the signing region.
    #[must_use]
    pub fn with_region(mut self, region: impl Into<String>) -> Self {
        self.region = region.into();
        self
    }

    /// Sets how many times, and for how long, failed requests are retried.
    #[must_use]
    pub fn with_retries(mut self, max_retries: usize, retry_timeout: Duration) -> Self {
        self.max_retries = max_retries;
        self.retry_timeout = retry_timeout;
        self
    }

    /// Sets the whole-request timeout.
    #[must_use]
    pub fn with_request_timeout(mut self, timeout: Duration) -> Self {
        self.request_timeout = timeout;
        self
    }

    /// Sets how many idle connections are kept per host (0: a new connection for every request).
    #[must_use]
    pub fn with_pool_max_idle_per_host(mut self, max: usize) -> Self {
        self.pool_max_idle_per_host = Some(max);
        self
    }

    /// The object_store builder for this configuration, for callers that want to set more.
    pub fn builder(&self) -> AmazonS3Builder {
        let allow_http = self.endpoint.starts_with("http://");
        let retry = RetryConfig {
            backoff: BackoffConfig {
                init_backoff: Duration::from_millis(50),
                max_backoff: Duration::from_secs(1),
                base: 2.0,
            },
            max_retries: self.max_retries,
            retry_timeout: self.retry_timeout,
        };
        let mut client = ClientOptions::new()
            .with_allow_http(allow_http)
            .with_timeout(self.request_timeout)
            .with_connect_timeout(self.connect_timeout);
        if let Some(max) = self.pool_max_idle_per_host {
            client = client.with_pool_max_idle_per_host(max);
        }
        let mut builder = AmazonS3Builder::new()
            .with_endpoint(&self.endpoint)
            .with_bucket_name(&self.bucket)
            .with_region(&self.region)
            .with_allow_http(allow_http)
            .with_virtual_hosted_style_request(false)
            .with_conditional_put(S3ConditionalPut::ETagMatch)
            .with_retry(retry)
            .with_client_options(client);
        if self.access_key_id.is_empty() && self.secret_access_key.is_empty() {
            builder = builder.with_skip_signature(true);
        } else {
            builder = builder
                .with_access_key_id(&self.access_key_id)
                .with_secret_access_key(&self.secret_access_key);
        }
        builder
    }

    /// Builds the client, first making `ring` the process's rustls provider when none is installed.
    ///
    /// # Errors
    /// `Generic` naming the field for an empty bucket or an endpoint that is not `http://` or `https://`;
    /// object_store's own configuration errors otherwise.
    pub fn build(&self) -> object_store::Result<AmazonS3> {
        let invalid = |message: String| object_store::Error::Generic {
            store: "S3",
            source: message.into(),
        };
        if self.bucket.is_empty() {
            return Err(invalid(format!(
                "bucket: empty bucket name for endpoint {}",
                self.endpoint
            )));
        }
        if !(self.endpoint.starts_with("http://") || self.endpoint.starts_with("https://")) {
            return Err(invalid(format!(
                "endpoint: {:?} is not an http:// or https:// URL",
                self.endpoint
            )));
        }
        install_ring_provider();
        self.builder().build()
    }
}

/// Makes rustls' `ring` provider the process default unless a provider is already installed. ksx builds reqwest
/// 0.13 without a provider (so `aws-lc-rs` is never compiled); binaries call this, or [`S3Config::build`] does.
pub fn install_ring_provider() {
    if rustls::crypto::CryptoProvider::get_default().is_none() {
        // Losing a race with another installer is fine: a provider is installed either way.
        let _ = rustls::crypto::ring::default_provider().install_default();
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn debug_redacts_the_secret() {
        let config = S3Config::new("http://127.0.0.1:8014", "b").with_keys("AKTEST", "SKTEST");
        let shown = format!("{config:?}");
        assert!(shown.contains("AKTEST"), "{shown}");
        assert!(!shown.contains("SKTEST"), "{shown}");
    }

    #[test]
    fn builds_for_http_endpoints_and_rejects_an_empty_bucket() {
        let store = S3Config::new("http://127.0.0.1:1", "bucket-a").build();
        assert!(store.is_ok(), "{store:?}");
        let err = S3Config::new("http://127.0.0.1:1", "").build().map(|_| ());
        let message = err
            .expect_err("an empty bucket must be refused")
            .to_string();
        assert!(message.contains("bucket"), "{message}");
        let err = S3Config::new("127.0.0.1:8014", "b").build().map(|_| ());
        let message = err
            .expect_err("an endpoint without a scheme must be refused")
            .to_string();
        assert!(
            message.contains("endpoint") && message.contains("127.0.0.1:8014"),
            "{message}"
        );
    }
}
