//! The disk tiers: block files under `<dir>/ksx-cache/v1/<store-id>/<h0h1>/<h2h3>/<sha256 of key>`, mode 0600,
//! each one the block's bytes followed by a footer, written as `*.tmp` and renamed.
//!
//! Footer, after the data: one CRC-32C (little-endian `u32`) per 32 KiB chunk, the key's canonical encoding, then
//! a fixed 32-byte trailer: key length `u32`, chunk count `u32`, data length `u64`, format version `u32`, the
//! CRC-32C of everything in the footer before it (`u32`), and the magic `KSXBLK\0\x01`. Every read checks the
//! trailer, the key and the CRC of each chunk it touches; a mismatch deletes the file.
//!
//! All functions here block (std::fs); the store calls them on tokio's blocking pool. An I/O error other than a
//! missing file marks the directory degraded: it is skipped from then on and reads go to the other tiers.

use std::collections::{HashMap, HashSet};
use std::fs::{self, File, OpenOptions};
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;

use super::key::BlockKey;
use crate::policy::{EvictionPolicy, PolicyKind};

/// Bytes per checksummed chunk.
pub(crate) const CHUNK: u64 = 32 * 1024;
/// The trailer's magic.
pub(crate) const MAGIC: &[u8; 8] = b"KSXBLK\0\x01";
/// The footer format version.
pub(crate) const VERSION: u32 = 1;
const TRAILER: u64 = 32;

/// One directory of a disk tier.
pub(crate) struct DiskDir {
    /// `<dir>/ksx-cache/v1/<store-id>`.
    pub(crate) root: PathBuf,
    pub(crate) quota: u64,
    min_free_ratio: f64,
    degraded: AtomicBool,
    /// Held for the store's lifetime: the `LOCK` file's exclusive lock.
    _lock: Option<File>,
    state: Mutex<DirState>,
}

struct DirState {
    policy: Box<dyn EvictionPolicy<BlockKey> + Send>,
    index: HashMap<BlockKey, u64>,
    by_path: HashMap<Arc<str>, HashSet<BlockKey>>,
}

impl std::fmt::Debug for DiskDir {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("DiskDir")
            .field("root", &self.root)
            .field("quota", &self.quota)
            .field("degraded", &self.is_degraded())
            .finish_non_exhaustive()
    }
}

/// Why a directory could not be used.
#[derive(Debug)]
pub(crate) enum OpenError {
    Io(io::Error),
    Locked,
}

impl std::fmt::Display for OpenError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            Self::Io(e) => write!(f, "{e}"),
            Self::Locked => f.write_str("another process holds the cache directory's LOCK"),
        }
    }
}

/// What a read found.
#[derive(Debug)]
pub(crate) enum ReadOutcome {
    /// The bytes of the requested range, checked.
    Hit(Bytes),
    /// Not cached here (or the file vanished behind the index).
    Miss,
    /// The file failed its checks; it was deleted.
    Corrupt,
    /// The directory is degraded or just failed.
    Unavailable,
}

impl DiskDir {
    /// Opens (creates) the directory, takes its lock, deletes stale `*.tmp` files and rebuilds the index by
    /// scanning. On error the directory comes back degraded, with the reason.
    pub(crate) fn open(
        dir: &Path,
        store_id: &str,
        quota: u64,
        kind: PolicyKind,
        block_size: u64,
        min_free_ratio: f64,
    ) -> (Self, Option<OpenError>, Vec<BlockKey>) {
        let root = dir.join("ksx-cache").join("v1").join(store_id);
        let expected = usize::try_from(quota / block_size.max(1)).unwrap_or(usize::MAX);
        let policy = kind
            .build(quota, expected.max(1))
            .unwrap_or_else(|| Box::new(crate::policy::S3Fifo::new(quota)));
        let mut me = Self {
            root,
            quota,
            min_free_ratio,
            degraded: AtomicBool::new(false),
            _lock: None,
            state: Mutex::new(DirState {
                policy,
                index: HashMap::new(),
                by_path: HashMap::new(),
            }),
        };
        let opened = me.prepare();
        match opened {
            Ok((lock, evicted)) => {
                me._lock = Some(lock);
                (me, None, evicted)
            }
            Err(e) => {
                me.degraded.store(true, Ordering::Relaxed);
                (me, Some(e), Vec::new())
            }
        }
    }

    fn prepare(&self) -> Result<(File, Vec<BlockKey>), OpenError> {
        fs::create_dir_all(&self.root).map_err(OpenError::Io)?;
        let lock = OpenOptions::new()
            .create(true)
            .truncate(false)
            .write(true)
            .open(self.root.join("LOCK"))
            .map_err(OpenError::Io)?;
        match lock.try_lock() {
            Ok(()) => {}
            Err(fs::TryLockError::WouldBlock) => return Err(OpenError::Locked),
            Err(fs::TryLockError::Error(e)) => return Err(OpenError::Io(e)),
        }
        let evicted = self.scan().map_err(OpenError::Io)?;
        Ok((lock, evicted))
    }

    /// Deletes `*.tmp`, reads every block file's footer and admits the good ones in file-name order.
    fn scan(&self) -> io::Result<Vec<BlockKey>> {
        let mut files = Vec::new();
        for l1 in read_dir_sorted(&self.root)? {
            if !l1.is_dir() {
                continue;
            }
            for l2 in read_dir_sorted(&l1)? {
                if !l2.is_dir() {
                    continue;
                }
                for f in read_dir_sorted(&l2)? {
                    if f.extension().is_some_and(|e| e == "tmp") {
                        let _ = fs::remove_file(&f);
                    } else if f.is_file() {
                        files.push(f);
                    }
                }
            }
        }
        let mut evicted_all = Vec::new();
        let mut st = self.lock();
        for f in files {
            let good = File::open(&f)
                .and_then(|mut file| read_footer(&mut file))
                .ok()
                .filter(|(key, _, _)| {
                    f.file_name().and_then(|n| n.to_str()) == Some(key.digest_hex().as_str())
                });
            let Some((key, len, _)) = good else {
                let _ = fs::remove_file(&f);
                continue;
            };
            let access = st.policy.access(&key, len);
            for k in access.evicted {
                st.forget(&k);
                let _ = fs::remove_file(self.file_of(&k));
                evicted_all.push(k);
            }
            if st.policy.contains(&key) {
                st.remember(&key, len);
            } else {
                let _ = fs::remove_file(&f);
            }
        }
        Ok(evicted_all)
    }

    fn lock(&self) -> std::sync::MutexGuard<'_, DirState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Whether the directory is off.
    pub(crate) fn is_degraded(&self) -> bool {
        self.degraded.load(Ordering::Relaxed)
    }

    /// Turns the directory off after an I/O error.
    pub(crate) fn degrade(&self) {
        self.degraded.store(true, Ordering::Relaxed);
    }

    /// The file of a block.
    pub(crate) fn file_of(&self, key: &BlockKey) -> PathBuf {
        let hex = key.digest_hex();
        let (a, b) = (hex.get(0..2).unwrap_or("00"), hex.get(2..4).unwrap_or("00"));
        self.root.join(a).join(b).join(&hex)
    }

    /// Bytes held.
    pub(crate) fn used(&self) -> u64 {
        self.lock().policy.used()
    }

    /// Whether the index holds the block (no policy effect).
    pub(crate) fn contains(&self, key: &BlockKey) -> bool {
        self.lock().index.contains_key(key)
    }

    /// Reads `range` of a block (offsets within the block), checking every 32 KiB chunk it touches.
    pub(crate) fn read(&self, key: &BlockKey, range: Range<u64>) -> ReadOutcome {
        if self.is_degraded() {
            return ReadOutcome::Unavailable;
        }
        let len = {
            let mut st = self.lock();
            let Some(len) = st.index.get(key).copied() else {
                return ReadOutcome::Miss;
            };
            st.policy.access(key, len);
            len
        };
        let path = self.file_of(key);
        match read_checked(&path, key, len, range) {
            Ok(b) => ReadOutcome::Hit(b),
            Err(ReadError::Gone) => {
                self.drop_key(key);
                ReadOutcome::Miss
            }
            Err(ReadError::Corrupt) => {
                self.drop_key(key);
                let _ = fs::remove_file(&path);
                ReadOutcome::Corrupt
            }
            Err(ReadError::Io) => {
                self.degrade();
                ReadOutcome::Unavailable
            }
        }
    }

    /// Writes a block (tmp + rename), then admits it if `still_valid()` holds; evicted blocks' files are deleted.
    /// Returns the keys evicted, or `None` when the block was not written.
    pub(crate) fn write(
        &self,
        key: &BlockKey,
        data: &[u8],
        still_valid: impl FnOnce() -> bool,
    ) -> Option<Vec<BlockKey>> {
        if self.is_degraded() || data.len() as u64 > self.quota || self.contains(key) {
            return None;
        }
        if !self.has_free_space(data.len() as u64) {
            return None;
        }
        let path = self.file_of(key);
        if let Err(e) = write_block(&path, key, data) {
            // A full disk or any other write error turns the directory off; the block stays in memory.
            let _ = e;
            self.degrade();
            return None;
        }
        let mut st = self.lock();
        if !still_valid() {
            drop(st);
            let _ = fs::remove_file(&path);
            return None;
        }
        let access = st.policy.access(key, data.len() as u64);
        let mut gone = Vec::new();
        for k in access.evicted {
            st.forget(&k);
            gone.push(k);
        }
        let kept = st.policy.contains(key);
        if kept {
            st.remember(key, data.len() as u64);
        }
        drop(st);
        for k in &gone {
            let _ = fs::remove_file(self.file_of(k));
        }
        if !kept {
            let _ = fs::remove_file(&path);
        }
        Some(gone)
    }

    /// Drops every block of `path` from the index and deletes their files.
    pub(crate) fn remove_path(&self, path: &str) -> usize {
        let keys = {
            let mut st = self.lock();
            let keys = st.by_path.remove(path).unwrap_or_default();
            for k in &keys {
                st.policy.remove(k);
                st.index.remove(k);
            }
            keys
        };
        for k in &keys {
            let _ = fs::remove_file(self.file_of(k));
        }
        keys.len()
    }

    fn drop_key(&self, key: &BlockKey) {
        let mut st = self.lock();
        st.policy.remove(key);
        st.forget(key);
    }

    /// Whether writing `extra` bytes keeps `minFreeRatio` of the file system free.
    #[cfg(unix)]
    fn has_free_space(&self, extra: u64) -> bool {
        if self.min_free_ratio <= 0.0 {
            return true;
        }
        let Ok(s) = nix::sys::statvfs::statvfs(&self.root) else {
            return true;
        };
        let frag = u128::from(s.fragment_size());
        let total = u128::from(s.blocks()) * frag;
        let avail = u128::from(s.blocks_available()) * frag;
        if total == 0 {
            return true;
        }
        #[allow(
            clippy::cast_precision_loss,
            reason = "a free-space ratio needs no more than 53 bits"
        )]
        let free_after = avail.saturating_sub(u128::from(extra)) as f64 / total as f64;
        free_after >= self.min_free_ratio
    }

    #[cfg(not(unix))]
    fn has_free_space(&self, _extra: u64) -> bool {
        true
    }
}

impl DirState {
    fn remember(&mut self, key: &BlockKey, len: u64) {
        self.index.insert(key.clone(), len);
        self.by_path
            .entry(Arc::clone(&key.path))
            .or_default()
            .insert(key.clone());
    }

    fn forget(&mut self, key: &BlockKey) {
        self.index.remove(key);
        if let Some(set) = self.by_path.get_mut(&key.path) {
            set.remove(key);
            if set.is_empty() {
                self.by_path.remove(&key.path);
            }
        }
    }
}

fn read_dir_sorted(dir: &Path) -> io::Result<Vec<PathBuf>> {
    let mut out: Vec<PathBuf> = fs::read_dir(dir)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .collect();
    out.sort();
    Ok(out)
}

/// The chunk count of `len` bytes of data.
fn chunks(len: u64) -> u64 {
    len.div_ceil(CHUNK)
}

/// The block file's bytes after the data: CRC table, key, trailer.
pub(crate) fn encode_footer(key: &BlockKey, data: &[u8]) -> Vec<u8> {
    let key_bytes = key.encode();
    let n = chunks(data.len() as u64);
    let mut f = Vec::with_capacity(data.len() / 8192 + key_bytes.len() + 32);
    for c in data.chunks(32 * 1024) {
        f.extend_from_slice(&crc32c::crc32c(c).to_le_bytes());
    }
    f.extend_from_slice(&key_bytes);
    f.extend_from_slice(
        &u32::try_from(key_bytes.len())
            .unwrap_or(u32::MAX)
            .to_le_bytes(),
    );
    f.extend_from_slice(&u32::try_from(n).unwrap_or(u32::MAX).to_le_bytes());
    f.extend_from_slice(&(data.len() as u64).to_le_bytes());
    f.extend_from_slice(&VERSION.to_le_bytes());
    let crc = crc32c::crc32c(&f);
    f.extend_from_slice(&crc.to_le_bytes());
    f.extend_from_slice(MAGIC);
    f
}

fn write_block(path: &Path, key: &BlockKey, data: &[u8]) -> io::Result<()> {
    if let Some(parent) = path.parent() {
        fs::create_dir_all(parent)?;
    }
    let tmp = path.with_extension("tmp");
    let mut opts = OpenOptions::new();
    opts.write(true).create(true).truncate(true);
    #[cfg(unix)]
    {
        use std::os::unix::fs::OpenOptionsExt;
        opts.mode(0o600);
    }
    let result = (|| {
        let mut f = opts.open(&tmp)?;
        f.write_all(data)?;
        f.write_all(&encode_footer(key, data))?;
        f.flush()?;
        drop(f);
        fs::rename(&tmp, path)
    })();
    if result.is_err() {
        let _ = fs::remove_file(&tmp);
    }
    result
}

enum ReadError {
    Gone,
    Corrupt,
    Io,
}

impl From<io::Error> for ReadError {
    fn from(e: io::Error) -> Self {
        match e.kind() {
            io::ErrorKind::NotFound => Self::Gone,
            io::ErrorKind::UnexpectedEof | io::ErrorKind::InvalidData => Self::Corrupt,
            _ => Self::Io,
        }
    }
}

fn le_u32(b: &[u8], at: usize) -> u32 {
    let mut a = [0; 4];
    if let Some(s) = b.get(at..at + 4) {
        a.copy_from_slice(s);
    }
    u32::from_le_bytes(a)
}

fn le_u64(b: &[u8], at: usize) -> u64 {
    let mut a = [0; 8];
    if let Some(s) = b.get(at..at + 8) {
        a.copy_from_slice(s);
    }
    u64::from_le_bytes(a)
}

fn invalid(msg: &str) -> io::Error {
    io::Error::new(io::ErrorKind::InvalidData, msg)
}

/// Reads and checks a block file's footer: (key, data length, CRC table).
fn read_footer(file: &mut File) -> io::Result<(BlockKey, u64, Vec<u8>)> {
    let file_len = file.metadata()?.len();
    if file_len < TRAILER {
        return Err(invalid("block file shorter than its trailer"));
    }
    let mut t = [0u8; 32];
    file.seek(SeekFrom::Start(file_len - TRAILER))?;
    file.read_exact(&mut t)?;
    if t.get(24..32) != Some(MAGIC.as_slice()) || le_u32(&t, 16) != VERSION {
        return Err(invalid("bad magic or version"));
    }
    let key_len = u64::from(le_u32(&t, 0));
    let n = u64::from(le_u32(&t, 4));
    let len = le_u64(&t, 8);
    if n != chunks(len) || len.checked_add(n * 4 + key_len + TRAILER) != Some(file_len) {
        return Err(invalid("footer lengths do not add up"));
    }
    let table_len = usize::try_from(n * 4 + key_len).map_err(|_| invalid("footer too long"))?;
    let mut footer = vec![0u8; table_len];
    file.seek(SeekFrom::Start(len))?;
    file.read_exact(&mut footer)?;
    let mut c = crc32c::crc32c(&footer);
    c = crc32c::crc32c_append(c, t.get(0..20).unwrap_or_default());
    if c != le_u32(&t, 20) {
        return Err(invalid("footer checksum mismatch"));
    }
    let split = usize::try_from(n * 4).map_err(|_| invalid("footer too long"))?;
    let key = footer
        .get(split..)
        .and_then(BlockKey::decode)
        .ok_or_else(|| invalid("footer key unreadable"))?;
    footer.truncate(split);
    Ok((key, len, footer))
}

fn read_checked(
    path: &Path,
    key: &BlockKey,
    len: u64,
    range: Range<u64>,
) -> Result<Bytes, ReadError> {
    let mut file = File::open(path)?;
    let (found, found_len, table) = read_footer(&mut file)?;
    if &found != key || found_len != len || range.end > len || range.start >= range.end {
        return Err(ReadError::Corrupt);
    }
    // JuiceFS `extend`: widen the range to whole chunks and check each of them.
    let first = range.start / CHUNK;
    let last = range.end.div_ceil(CHUNK);
    let start = first * CHUNK;
    let end = (last * CHUNK).min(len);
    let n = usize::try_from(end - start).map_err(|_| ReadError::Corrupt)?;
    let mut buf = vec![0u8; n];
    file.seek(SeekFrom::Start(start))?;
    file.read_exact(&mut buf)?;
    for (i, chunk) in buf.chunks(32 * 1024).enumerate() {
        let at = usize::try_from(first).map_err(|_| ReadError::Corrupt)? + i;
        if crc32c::crc32c(chunk) != le_u32(&table, at * 4) || table.len() < at * 4 + 4 {
            return Err(ReadError::Corrupt);
        }
    }
    let from = usize::try_from(range.start - start).map_err(|_| ReadError::Corrupt)?;
    let to = usize::try_from(range.end - start).map_err(|_| ReadError::Corrupt)?;
    Ok(Bytes::from(buf).slice(from..to))
}

/// Picks the directory for a key: rendezvous hashing weighted by quota, skipping degraded directories.
pub(crate) fn pick_dir(dirs: &[Arc<DiskDir>], key_hex: &str) -> Option<usize> {
    let base = key_hex
        .get(0..16)
        .and_then(|h| u64::from_str_radix(h, 16).ok())
        .unwrap_or(0);
    let mut best: Option<(f64, usize)> = None;
    for (i, d) in dirs.iter().enumerate() {
        if d.is_degraded() {
            continue;
        }
        let h = crate::policy::mix64(base ^ crate::policy::mix64(i as u64 + 1));
        #[allow(
            clippy::cast_precision_loss,
            reason = "a uniform draw in (0, 1) from the top 53 bits, and a weight ratio"
        )]
        let (u, w) = (
            ((h >> 11) as f64 + 0.5) / (1u64 << 53) as f64,
            d.quota as f64,
        );
        let score = w / -u.ln();
        if best.is_none_or(|(s, _)| score > s) {
            best = Some((score, i));
        }
    }
    best.map(|(_, i)| i)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::store::key::Identity;

    fn key(i: u64) -> BlockKey {
        BlockKey {
            store: "s".into(),
            path: "p".into(),
            identity: Arc::new(Identity::ETag("e".into())),
            block_size: 1 << 20,
            index: i,
        }
    }

    #[test]
    fn footer_is_512_bytes_of_crcs_per_4_mib() {
        let data = vec![7u8; 4 << 20];
        let f = encode_footer(&key(0), &data);
        let key_len = key(0).encode().len();
        assert_eq!(f.len(), 512 + key_len + 32);
    }

    #[test]
    fn write_read_and_detect_flips() {
        let dir = tempfile::tempdir().expect("temp dir");
        let (d, err, _) = DiskDir::open(dir.path(), "s", 1 << 30, PolicyKind::Lru, 1 << 20, 0.0);
        assert!(err.is_none());
        let data: Vec<u8> = (0..100_000u32).map(|i| (i % 251) as u8).collect();
        assert_eq!(d.write(&key(1), &data, || true), Some(Vec::new()));
        match d.read(&key(1), 40_000..70_000) {
            ReadOutcome::Hit(b) => assert_eq!(&b[..], &data[40_000..70_000]),
            other => panic!("{other:?}"),
        }
        // Flip one byte in chunk 2 (65536..98304): a read touching it fails, the file goes.
        let path = d.file_of(&key(1));
        let mut raw = fs::read(&path).expect("block file");
        raw[70_000] ^= 1;
        fs::write(&path, raw).expect("rewrite");
        assert!(matches!(d.read(&key(1), 0..100_000), ReadOutcome::Corrupt));
        assert!(!path.exists());
        assert!(matches!(d.read(&key(1), 0..10), ReadOutcome::Miss));
    }

    #[test]
    fn rendezvous_spreads_by_quota() {
        let root = tempfile::tempdir().expect("temp dir");
        let dirs: Vec<Arc<DiskDir>> = [1u64, 3]
            .iter()
            .enumerate()
            .map(|(i, q)| {
                Arc::new(
                    DiskDir::open(
                        &root.path().join(i.to_string()),
                        "s",
                        q << 30,
                        PolicyKind::Lru,
                        1,
                        0.0,
                    )
                    .0,
                )
            })
            .collect();
        let mut counts = [0usize; 2];
        for i in 0..4000u64 {
            let k = key(i).digest_hex();
            counts[pick_dir(&dirs, &k).expect("a dir")] += 1;
        }
        // Weights 1:3 → about 1000 and 3000.
        assert!((800..1200).contains(&counts[0]), "{counts:?}");
    }
}
