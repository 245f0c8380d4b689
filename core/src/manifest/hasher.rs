//! Streaming SHA-256 of an artifact, so an artifact of any size is hashed in constant memory.

use sha2::{Digest as _, Sha256};

use crate::encoding::Digest;

/// Incremental size and SHA-256 of an artifact fed in chunks of any size.
///
/// ```
/// use cairn_core::manifest::ArtifactHasher;
/// let mut h = ArtifactHasher::new();
/// h.update(b"hello ");
/// h.update(b"world");
/// let (size, digest) = h.finalize();
/// assert_eq!(size, 11);
/// assert_eq!(digest, cairn_core::encoding::sha256(&[b"hello world"]));
/// ```
#[derive(Debug, Clone, Default)]
pub struct ArtifactHasher {
    hasher: Sha256,
    size: u64,
}

impl ArtifactHasher {
    /// A hasher that has seen no bytes.
    pub fn new() -> ArtifactHasher {
        ArtifactHasher::default()
    }

    /// Feeds the next chunk of the artifact.
    pub fn update(&mut self, chunk: &[u8]) {
        self.hasher.update(chunk);
        // usize always fits in u64 on every target Rust supports; saturate rather than wrap
        // so that an impossible overflow could only produce a size mismatch.
        self.size = self
            .size
            .saturating_add(u64::try_from(chunk.len()).unwrap_or(u64::MAX));
    }

    /// Bytes fed so far.
    pub fn size(&self) -> u64 {
        self.size
    }

    /// The artifact's size and SHA-256.
    pub fn finalize(self) -> (u64, Digest) {
        (self.size, self.hasher.finalize().into())
    }
}

/// Hashes everything `reader` yields in 64 KiB chunks (feature `std`). `progress`, if given,
/// is called after each chunk with the number of bytes read so far.
///
/// ```
/// let mut seen = 0;
/// let mut progress = |n: u64| seen = n;
/// let (size, digest) =
///     cairn_core::manifest::hash_reader(&b"hello world"[..], Some(&mut progress))?;
/// assert_eq!((size, seen), (11, 11));
/// assert_eq!(digest, cairn_core::encoding::sha256(&[b"hello world"]));
/// # Ok::<(), Box<dyn std::error::Error>>(())
/// ```
#[cfg(feature = "std")]
pub fn hash_reader<R: std::io::Read>(
    mut reader: R,
    mut progress: Option<&mut dyn FnMut(u64)>,
) -> std::io::Result<(u64, Digest)> {
    let mut hasher = ArtifactHasher::new();
    let mut buf = alloc::vec![0u8; 64 * 1024];
    loop {
        let n = match reader.read(&mut buf) {
            Ok(0) => break,
            Ok(n) => n,
            Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
            Err(e) => return Err(e),
        };
        let chunk = buf.get(..n).ok_or_else(|| {
            std::io::Error::new(
                std::io::ErrorKind::InvalidData,
                "reader reported more bytes than the buffer holds",
            )
        })?;
        hasher.update(chunk);
        if let Some(cb) = progress.as_mut() {
            cb(hasher.size());
        }
    }
    Ok(hasher.finalize())
}
