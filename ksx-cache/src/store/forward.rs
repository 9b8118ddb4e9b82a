//! The `ObjectStore` implementation of [`CachedStore`]: reads go through the cache, writes forward and then
//! invalidate, lists forward. Every trait method is written out, so no provided default bypasses the cache.

use std::fmt;
use std::ops::Range;
use std::sync::Arc;

use async_trait::async_trait;
use bytes::Bytes;
use futures::stream::{self, BoxStream, StreamExt, TryStreamExt};
use object_store::path::Path;
use object_store::{
    CopyOptions, GetOptions, GetRange, GetResult, GetResultPayload, ListResult, MultipartUpload,
    ObjectMeta, ObjectStore, PutMultipartOptions, PutOptions, PutPayload, PutResult, RenameOptions,
    Result, UploadPart,
};

use super::{CachedStore, Core, generic, result};

/// A store answer whose body must be exactly its range's length: a short or long body becomes an error at its
/// end, never short or extra data.
pub(super) fn checked_body(r: GetResult) -> GetResult {
    let (meta, range, attributes, extensions) = (
        r.meta.clone(),
        r.range.clone(),
        r.attributes.clone(),
        r.extensions.clone(),
    );
    let expected = range.end - range.start;
    let location = meta.location.to_string();
    let body = r.into_stream();
    let checked = stream::unfold((body, 0u64, false), move |(mut body, seen, done)| {
        let location = location.clone();
        async move {
            if done {
                return None;
            }
            let wrong = |seen: u64| {
                generic(format!(
                    "{location}: store body has {seen} bytes or more, the range {expected}"
                ))
            };
            match body.next().await {
                Some(Ok(b)) => {
                    let seen = seen + b.len() as u64;
                    if seen > expected {
                        Some((Err(wrong(seen)), (body, seen, true)))
                    } else {
                        Some((Ok(b), (body, seen, false)))
                    }
                }
                Some(Err(e)) => Some((Err(e), (body, seen, true))),
                None if seen < expected => Some((Err(wrong(seen)), (body, seen, true))),
                None => None,
            }
        }
    });
    GetResult {
        payload: GetResultPayload::Stream(checked.boxed()),
        meta,
        range,
        attributes,
        extensions,
    }
}

/// A multipart upload that invalidates its path once complete.
struct InvalidatingUpload<S> {
    upload: Box<dyn MultipartUpload>,
    core: Arc<Core<S>>,
    path: Path,
}

impl<S> fmt::Debug for InvalidatingUpload<S> {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("InvalidatingUpload")
            .field("upload", &self.upload)
            .field("path", &self.path)
            .finish_non_exhaustive()
    }
}

#[async_trait]
impl<S: ObjectStore> MultipartUpload for InvalidatingUpload<S> {
    fn put_part(&mut self, data: PutPayload) -> UploadPart {
        self.upload.put_part(data)
    }

    async fn complete(&mut self) -> Result<PutResult> {
        self.core.bump(self.path.as_ref());
        let r = self.upload.complete().await;
        self.core.invalidate(&self.path).await;
        r
    }

    async fn abort(&mut self) -> Result<()> {
        self.upload.abort().await
    }
}

#[async_trait]
#[deny(clippy::missing_trait_methods)]
impl<S: ObjectStore> ObjectStore for CachedStore<S> {
    async fn put_opts(
        &self,
        location: &Path,
        payload: PutPayload,
        opts: PutOptions,
    ) -> Result<PutResult> {
        self.core.bump(location.as_ref());
        let r = self.core.inner.put_opts(location, payload, opts).await;
        self.core.invalidate(location).await;
        r
    }

    async fn put_multipart_opts(
        &self,
        location: &Path,
        opts: PutMultipartOptions,
    ) -> Result<Box<dyn MultipartUpload>> {
        self.core.bump(location.as_ref());
        let upload = self.core.inner.put_multipart_opts(location, opts).await?;
        Ok(Box::new(InvalidatingUpload {
            upload,
            core: Arc::clone(&self.core),
            path: location.clone(),
        }))
    }

    async fn get_opts(&self, location: &Path, options: GetOptions) -> Result<GetResult> {
        if options.version.is_some() {
            return self.core.inner.get_opts(location, options).await;
        }
        if options.head {
            let m = self.core.metadata(location).await?;
            options.check_preconditions(&m.meta)?;
            return Ok(result(&m, 0..m.meta.size, stream::empty().boxed()));
        }
        self.core.read(location, options).await
    }

    async fn get_ranges(&self, location: &Path, ranges: &[Range<u64>]) -> Result<Vec<Bytes>> {
        let reads = ranges.iter().map(|r| async move {
            let opts = GetOptions::new().with_range(Some(GetRange::Bounded(r.clone())));
            self.get_opts(location, opts).await?.bytes().await
        });
        futures::future::try_join_all(reads).await
    }

    fn delete_stream(
        &self,
        locations: BoxStream<'static, Result<Path>>,
    ) -> BoxStream<'static, Result<Path>> {
        let before = Arc::clone(&self.core);
        let after = Arc::clone(&self.core);
        let input = locations
            .inspect_ok(move |p| before.bump(p.as_ref()))
            .boxed();
        self.core
            .inner
            .delete_stream(input)
            .then(move |r| {
                let core = Arc::clone(&after);
                async move {
                    if let Ok(p) = &r {
                        core.invalidate(p).await;
                    }
                    r
                }
            })
            .boxed()
    }

    fn list(&self, prefix: Option<&Path>) -> BoxStream<'static, Result<ObjectMeta>> {
        self.core.inner.list(prefix)
    }

    fn list_with_offset(
        &self,
        prefix: Option<&Path>,
        offset: &Path,
    ) -> BoxStream<'static, Result<ObjectMeta>> {
        self.core.inner.list_with_offset(prefix, offset)
    }

    async fn list_with_delimiter(&self, prefix: Option<&Path>) -> Result<ListResult> {
        self.core.inner.list_with_delimiter(prefix).await
    }

    async fn copy_opts(&self, from: &Path, to: &Path, options: CopyOptions) -> Result<()> {
        self.core.bump(to.as_ref());
        let r = self.core.inner.copy_opts(from, to, options).await;
        self.core.invalidate(to).await;
        r
    }

    async fn rename_opts(&self, from: &Path, to: &Path, options: RenameOptions) -> Result<()> {
        self.core.bump(from.as_ref());
        self.core.bump(to.as_ref());
        let r = self.core.inner.rename_opts(from, to, options).await;
        self.core.invalidate(from).await;
        self.core.invalidate(to).await;
        r
    }
}
