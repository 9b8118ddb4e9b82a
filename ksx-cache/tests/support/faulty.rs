//! `FaultyStore`: wraps a store and applies a script of faults to its GETs (spec §7), counting calls.

use std::collections::VecDeque;
use std::fmt;
use std::ops::Range;
use std::sync::Mutex;
use std::sync::atomic::{AtomicU64, Ordering};
use std::time::Duration;

use async_trait::async_trait;
use bytes::{Bytes, BytesMut};
use futures::stream::{self, BoxStream, StreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, Error, GetOptions, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    Result,
};

/// One scripted fault, applied to one GET (HEADs are never faulted).
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Fault {
    /// The GET behaves.
    Pass,
    /// The body yields `k` bytes, then an error.
    ErrorAfter(usize),
    /// The body is `n` bytes short.
    Short(usize),
    /// The body carries `n` extra bytes.
    Long(usize),
    /// The byte at this offset (modulo the length) is flipped.
    Flip(usize),
    /// The object is gone.
    NotFound,
    /// The object changed (`If-Match` failed).
    Precondition,
    /// Waits this long (tokio time), then applies the inner fault.
    Delayed(Duration, Box<Fault>),
}

/// A store whose GETs follow a script; when the script runs out, GETs pass.
pub struct FaultyStore<S> {
    pub inner: S,
    script: Mutex<VecDeque<Fault>>,
    pub gets: AtomicU64,
    pub heads: AtomicU64,
    pub get_ranges: Mutex<Vec<Range<u64>>>,
}

impl<S> FaultyStore<S> {
    pub fn new(inner: S, script: impl IntoIterator<Item = Fault>) -> Self {
        Self {
            inner,
            script: Mutex::new(script.into_iter().collect()),
            gets: AtomicU64::new(0),
            heads: AtomicU64::new(0),
            get_ranges: Mutex::new(Vec::new()),
        }
    }

    pub fn gets(&self) -> u64 {
        self.gets.load(Ordering::SeqCst)
    }

    pub fn heads(&self) -> u64 {
        self.heads.load(Ordering::SeqCst)
    }

    pub fn push(&self, f: Fault) {
        self.script.lock().expect("script lock").push_back(f);
    }
}

impl<S: fmt::Display> fmt::Display for FaultyStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "FaultyStore({})", self.inner)
    }
}

impl<S: fmt::Debug> fmt::Debug for FaultyStore<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("FaultyStore")
            .field("inner", &self.inner)
            .finish_non_exhaustive()
    }
}

fn boxed(msg: &str) -> Box<dyn std::error::Error + Send + Sync> {
    msg.to_owned().into()
}

async fn apply(fault: Fault, location: &Path, r: Result<GetResult>) -> Result<GetResult> {
    let mut fault = fault;
    while let Fault::Delayed(d, inner) = fault {
        tokio::time::sleep(d).await;
        fault = *inner;
    }
    match fault {
        Fault::NotFound => {
            return Err(Error::NotFound {
                path: location.to_string(),
                source: boxed("scripted: gone"),
            });
        }
        Fault::Precondition => {
            return Err(Error::Precondition {
                path: location.to_string(),
                source: boxed("scripted: changed"),
            });
        }
        _ => {}
    }
    let r = r?;
    if fault == Fault::Pass {
        return Ok(r);
    }
    let (meta, range, attributes, extensions) = (
        r.meta.clone(),
        r.range.clone(),
        r.attributes.clone(),
        r.extensions.clone(),
    );
    let body = r.bytes().await?;
    let stream: BoxStream<'static, Result<Bytes>> = match fault {
        Fault::ErrorAfter(k) => {
            let head = body.slice(..k.min(body.len()));
            stream::iter(vec![
                Ok(head),
                Err(Error::Generic {
                    store: "FaultyStore",
                    source: boxed("scripted: connection reset"),
                }),
            ])
            .boxed()
        }
        Fault::Short(n) => {
            stream::once(async move { Ok(body.slice(..body.len().saturating_sub(n))) }).boxed()
        }
        Fault::Long(n) => {
            let mut b = BytesMut::from(&body[..]);
            b.extend(std::iter::repeat_n(0xAA, n));
            stream::once(async move { Ok(b.freeze()) }).boxed()
        }
        Fault::Flip(at) => {
            let mut b = BytesMut::from(&body[..]);
            if !b.is_empty() {
                let i = at % b.len();
                b[i] ^= 0x01;
            }
            stream::once(async move { Ok(b.freeze()) }).boxed()
        }
        _ => stream::once(async move { Ok(body) }).boxed(),
    };
    Ok(GetResult {
        payload: GetResultPayload::Stream(stream),
        meta,
        range,
        attributes,
        extensions,
    })
}

#[async_trait]
impl<S: ObjectStore> ObjectStore for FaultyStore<S> {
    async fn put_opts(&self, p: &Path, data: PutPayload, o: PutOptions) -> Result<PutResult> {
        self.inner.put_opts(p, data, o).await
    }

    async fn put_multipart_opts(
        &self,
        p: &Path,
        o: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.inner.put_multipart_opts(p, o).await
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.head {
            self.heads.fetch_add(1, Ordering::SeqCst);
            return self.inner.get_opts(location, options).await;
        }
        self.gets.fetch_add(1, Ordering::SeqCst);
        if let Some(object_store::GetRange::Bounded(r)) = &options.range {
            self.get_ranges.lock().expect("ranges lock").push(r.clone());
        }
        let fault = self
            .script
            .lock()
            .expect("script lock")
            .pop_front()
            .unwrap_or(Fault::Pass);
        let r = self.inner.get_opts(location, options).await;
        apply(fault, location, r).await
    }

    fn delete_stream(
        &self,
        s: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        self.inner.delete_stream(s)
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.inner.list(prefix)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, o: CopyOptions) -> Result<()> {
        self.inner.copy_opts(from, to, o).await
    }

    async fn rename_opts(&self, from: &Path, to: &Path, o: RenameOptions) -> Result<()> {
        self.inner.rename_opts(from, to, o).await
    }
}
