//! Importing a blux-reg configuration directory, checked through the blux module, in one
//! transaction:
//!
//! | blux-reg file | what the import does |
//! |---|---|
//! | `keys/<name>.pem`, `keys/<name>.pub.pem` | registry keys labelled `blux:<name>` |
//! | `trust/ledger.jsonl` | hash chain verified, file recorded |
//! | `trust/token_revocations.jsonl` | parsed, file recorded |
//! | `trust/tokens/*.json` | each token verified, recorded if it verifies, reported if not |
//! | `manifests/*.blux-manifest.json` | each manifest verified with its artifact, likewise |
//!
//! Keys get the token-issuer and manifest-signer roles (what blux-reg keys sign); a private
//! key is sealed as the caller asks. "Recorded" means an `imported` entry carrying the file's
//! path and the SHA-256 of its bytes: the registry's own ledger then commits to exactly the
//! bytes the migration started from.
//!
//! The keys and the two trust files are all-or-nothing: one that does not verify fails the
//! whole import. Tokens and manifests are objects a migration should carry over one by one:
//! one that does not verify is reported in [`BluxImport::rejected`] with its error code and
//! is not recorded, and the rest are.
//!
//! An expired token is rejected (`expired`) like any other that fails verification: it
//! grants nothing any more, and recording it would carry a dead credential into the
//! registry as if it were live. Its issuance stays witnessed by blux-reg's ledger, which is
//! recorded whole.

use std::io::Read;
use std::path::Path;

use crate::error::{StoreCode, StoreError, StoreResult};
use crate::kernel::db::{Registry, Txn};
use crate::objects::keys::{KeyInfo, KeySpec};
use crate::objects::seal::Protection;
use cairn_core::blux::{
    parse_json, verify_manifest, verify_token_against, LedgerChain, LedgerSummary, Limits,
    Revocations, TokenPolicy, Value, MAX_LEDGER_LEN, MAX_REVOCATIONS_LEN,
};
use cairn_core::crypto::{pem, PublicKey};
use cairn_core::encoding::{sha256, Digest};
use cairn_core::error::ErrorCode;
use cairn_core::ledger::{Event, MAX_NAME_LEN};
use cairn_core::trust::{Role, RoleSet};
use cairn_core::UnixTime;

/// Largest key file read.
const MAX_PEM_LEN: u64 = 64 * 1024;
/// Most key files read from one directory.
const MAX_KEY_FILES: usize = 1024;
/// Largest token or manifest file read (the blux module's limit for one JSON document).
const MAX_OBJECT_LEN: u64 = Limits::DEFAULT.max_len as u64;
/// Most token files, and separately most manifest files, read from one directory.
const MAX_OBJECT_FILES: usize = 10_000;
/// Where tokens live, relative to the configuration directory.
const TOKENS_DIR: &str = "trust/tokens";
/// Where manifests live, relative to the configuration directory.
const MANIFESTS_DIR: &str = "manifests";
/// What names a token file: blux-reg writes `<token hash>.json` (`*.token.json` included).
const TOKEN_SUFFIX: &str = ".json";
/// What names a manifest file; anything else in `manifests/` may be an artifact.
const MANIFEST_SUFFIX: &str = ".blux-manifest.json";
/// Prefix of every `imported` entry's source.
const SOURCE_PREFIX: &str = "blux-reg:";

/// What an import did.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct BluxImport {
    /// Keys added.
    pub keys: Vec<KeyInfo>,
    /// Key files not imported, with why (e.g. the key is already in the registry).
    pub skipped: Vec<(String, String)>,
    /// Entries of the verified blux-reg ledger (0 when there is none).
    pub ledger_entries: usize,
    /// Revocation lines recorded (0 when there is no revocations file).
    pub revocations: usize,
    /// Capability tokens that verified and were recorded, in file-name order.
    pub tokens: Vec<BluxObject>,
    /// Manifests that verified (with their artifacts) and were recorded, in file-name order.
    pub manifests: Vec<BluxObject>,
    /// Token and manifest files that did not verify and were not recorded.
    pub rejected: Vec<BluxRejected>,
    /// Every `imported` entry written (trust files, tokens and manifests), in order.
    pub imported_seqs: Vec<u64>,
}

/// A blux-reg token or manifest that verified and was recorded.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BluxObject {
    /// The file, relative to the configuration directory (e.g. `trust/tokens/<hash>.json`).
    pub path: String,
    /// SHA-256 of the file's bytes, as the `imported` entry records it.
    pub sha256: Digest,
    /// blux-reg's own hash of the object: the token hash (its revocation key) or the
    /// manifest hash (what blux-reg's ledger records for a `sign`).
    pub object_hash: Digest,
    /// blux-reg fingerprint of the key that signed it (the token issuer or manifest signer).
    pub signer: Digest,
    /// The `imported` entry.
    pub seq: u64,
}

/// A blux-reg token or manifest that was not imported, and why.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct BluxRejected {
    /// The file, relative to the configuration directory.
    pub path: String,
    /// Why, as a stable code (e.g. `signature_invalid`, `expired`, `revoked`, `not_found`).
    pub code: StoreCode,
    /// What was wrong, for a person.
    pub message: String,
}

impl BluxImport {
    /// Verifies a blux-reg ledger file (`trust/ledger.jsonl`) the way the import does: as a
    /// stream, one line in memory at a time (each at most 1 MiB, `too_large` beyond; the file
    /// at most [`MAX_LEDGER_LEN`]). Returns the chain's summary and the SHA-256 of the file's
    /// bytes, or `None` if there is no such file. Symbolic links are followed; anything but
    /// a regular file is `malformed`.
    pub fn verify_ledger_file(path: &Path) -> StoreResult<Option<(LedgerSummary, Digest)>> {
        verify_ledger_file(path)
    }
}

impl BluxRejected {
    fn new(path: String, e: &StoreError) -> BluxRejected {
        BluxRejected {
            path,
            code: e.code(),
            message: e.detail().to_owned(),
        }
    }
}

/// The bytes of `path`, or `None` if there is no such file. A file over `max` bytes is
/// `too_large`, also one that grows while being read: no more than `max + 1` bytes are read.
fn read_bounded(path: &Path, max: u64) -> StoreResult<Option<Vec<u8>>> {
    // Looked at before it is opened (symbolic links followed): opening a FIFO blocks until
    // someone writes to it, and a device may never end.
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => {
            return Err(StoreError::core(
                ErrorCode::Malformed,
                format!("{} is not a regular file", path.display()),
            ))
        }
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let file = match std::fs::File::open(path) {
        Ok(f) => f,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    };
    let too_large = || {
        StoreError::core(
            ErrorCode::TooLarge,
            format!("{} is larger than {max} bytes", path.display()),
        )
    };
    if file.metadata()?.len() > max {
        return Err(too_large());
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes)?;
    if bytes.len() as u64 > max {
        return Err(too_large());
    }
    Ok(Some(bytes))
}

fn utf8(bytes: Vec<u8>, path: &Path) -> StoreResult<String> {
    String::from_utf8(bytes).map_err(|_| {
        StoreError::core(
            ErrorCode::Malformed,
            format!("{} is not UTF-8", path.display()),
        )
    })
}

/// The text of `path` (at most `max` bytes), or `None` if there is no such file.
fn read_limited(path: &Path, max: u64) -> StoreResult<Option<String>> {
    read_bounded(path, max)?
        .map(|bytes| utf8(bytes, path))
        .transpose()
}

/// A regular file's text (at most `max` bytes). Symbolic links are not followed: the import
/// reads only what is inside the configuration directory.
fn read_object(path: &Path, max: u64) -> StoreResult<String> {
    regular_file(path)?;
    let bytes = read_bounded(path, max)?
        .ok_or_else(|| StoreError::not_found(format!("{} does not exist", path.display())))?;
    utf8(bytes, path)
}

/// The directories the import reads below the configuration directory: none may be a
/// symbolic link, which would lead the import out of it (files are checked one by one, but a
/// linked directory would be read through).
fn refuse_linked_dirs(config: &Path) -> StoreResult<()> {
    for rel in ["keys", "trust", TOKENS_DIR, MANIFESTS_DIR] {
        let path = config.join(rel);
        match std::fs::symlink_metadata(&path) {
            Ok(m) if m.file_type().is_symlink() => {
                return Err(StoreError::core(
                    ErrorCode::Malformed,
                    format!(
                        "{} is a symbolic link: the import reads only what is inside the configuration directory",
                        path.display()
                    ),
                ))
            }
            Ok(_) => {}
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e.into()),
        }
    }
    Ok(())
}

/// Checks `path` is a regular file and not a symbolic link (a FIFO or device would block or
/// never end; a link could lead out of the directory).
fn regular_file(path: &Path) -> StoreResult<()> {
    let meta = std::fs::symlink_metadata(path).map_err(|e| {
        if e.kind() == std::io::ErrorKind::NotFound {
            StoreError::not_found(format!("{} does not exist", path.display()))
        } else {
            e.into()
        }
    })?;
    if !meta.file_type().is_file() {
        return Err(StoreError::core(
            ErrorCode::Malformed,
            format!(
                "{} is not a regular file (symbolic links are not followed)",
                path.display()
            ),
        ));
    }
    Ok(())
}

/// SHA-256 of a file, read in blocks so an artifact of any size takes constant memory.
fn sha256_file(path: &Path) -> StoreResult<Digest> {
    use sha2::Digest as _;
    regular_file(path)?;
    let mut file = std::fs::File::open(path)?;
    let mut hasher = sha2::Sha256::new();
    let mut buf = vec![0u8; 64 * 1024];
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok(hasher.finalize().into());
        }
        hasher.update(buf.get(..n).unwrap_or(&[]));
    }
}

/// Physical lines of a stream split as Python's universal newlines split them (`\n`,
/// `\r\n` or a lone `\r` ends a line), each at most `max` bytes, with the SHA-256 and the
/// length of every byte read. A line longer than `max` is `too_large` as soon as its
/// `max + 1`-th byte is seen: it is never held whole, so memory stays at one line plus the
/// reader's buffer whatever the input.
struct LineReader<R> {
    inner: R,
    max: usize,
    line: Vec<u8>,
    number: usize,
    /// The previous line ended in `\r`: a `\n` right after it belongs to that ending.
    after_cr: bool,
    hasher: sha2::Sha256,
    len: u64,
}

impl<R: std::io::BufRead> LineReader<R> {
    fn new(inner: R, max: usize) -> Self {
        use sha2::Digest as _;
        LineReader {
            inner,
            max,
            line: Vec::new(),
            number: 0,
            after_cr: false,
            hasher: sha2::Sha256::new(),
            len: 0,
        }
    }

    /// Consumes `n` bytes of the buffer just filled, hashing them.
    fn consume(&mut self, n: usize) -> StoreResult<()> {
        use sha2::Digest as _;
        let buf = self.inner.fill_buf()?;
        self.hasher.update(buf.get(..n).unwrap_or(&[]));
        self.inner.consume(n);
        self.len = self.len.saturating_add(n as u64);
        Ok(())
    }

    /// The next physical line (without its ending) and its 1-based number, or `None` at
    /// the end.
    fn next_line(&mut self) -> StoreResult<Option<(usize, &[u8])>> {
        self.line.clear();
        let mut started = false;
        loop {
            let buf = self.inner.fill_buf()?;
            if buf.is_empty() {
                if !started {
                    return Ok(None);
                }
                break;
            }
            if std::mem::take(&mut self.after_cr) && buf.first() == Some(&b'\n') {
                self.consume(1)?;
                continue;
            }
            started = true;
            let end = buf.iter().position(|b| *b == b'\n' || *b == b'\r');
            let take = end.unwrap_or(buf.len());
            if self.line.len() + take > self.max {
                return Err(StoreError::core(
                    ErrorCode::TooLarge,
                    format!("line {} is longer than {} bytes", self.number + 1, self.max),
                ));
            }
            self.line.extend_from_slice(buf.get(..take).unwrap_or(&[]));
            match end {
                Some(i) => {
                    self.after_cr = buf.get(i) == Some(&b'\r');
                    self.consume(i + 1)?;
                    break;
                }
                None => self.consume(take)?,
            }
        }
        self.number += 1;
        Ok(Some((self.number, &self.line)))
    }

    /// SHA-256 and length of everything read.
    fn finish(self) -> (Digest, u64) {
        use sha2::Digest as _;
        (self.hasher.finalize().into(), self.len)
    }
}

/// Verifies blux-reg's `trust/ledger.jsonl` as a stream (one line in memory at a time, each
/// line at most [`Limits::DEFAULT`]'s length, the file at most [`MAX_LEDGER_LEN`]): its
/// entry count and the SHA-256 of its bytes, or `None` if there is no such file. Symbolic
/// links are followed, but the file must be a regular one (a FIFO or device may never end).
fn verify_ledger_file(path: &Path) -> StoreResult<Option<(LedgerSummary, Digest)>> {
    let not_regular = || {
        StoreError::core(
            ErrorCode::Malformed,
            format!("{} is not a regular file", path.display()),
        )
    };
    // Looked at before it is opened: opening a FIFO would block.
    match std::fs::metadata(path) {
        Ok(m) if m.is_file() => {}
        Ok(_) => return Err(not_regular()),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) => return Err(e.into()),
    }
    let file = std::fs::File::open(path)?;
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(not_regular());
    }
    let max = MAX_LEDGER_LEN as u64;
    let too_large = || {
        StoreError::core(
            ErrorCode::TooLarge,
            format!("{} is larger than {max} bytes", path.display()),
        )
    };
    if meta.len() > max {
        return Err(too_large());
    }
    // One byte past the limit is enough to know the file grew beyond it while read.
    let reader = std::io::BufReader::with_capacity(64 * 1024, file.take(max + 1));
    let mut lines = LineReader::new(reader, Limits::DEFAULT.max_len);
    let mut chain = LedgerChain::new();
    while let Some((number, bytes)) = lines.next_line()? {
        let text = std::str::from_utf8(bytes).map_err(|_| {
            StoreError::core(ErrorCode::Malformed, format!("line {number} is not UTF-8"))
        })?;
        chain.push_line(number, text)?;
    }
    let (digest, len) = lines.finish();
    if len > max {
        return Err(too_large());
    }
    Ok(Some((chain.finish(), digest)))
}

/// True for a name that stays inside the directory it is joined to: one non-empty path
/// component, not `.` or `..`, no separator of any platform, no NUL.
fn is_plain_file_name(name: &str) -> bool {
    use std::path::Component;
    let mut parts = Path::new(name).components();
    !name.contains(['/', '\\', '\0'])
        && matches!(parts.next(), Some(Component::Normal(n)) if n == name)
        && parts.next().is_none()
}

/// The names in `<config>/<rel>` ending in `suffix`, sorted. Entries that cannot be
/// imported whatever they hold (not regular files, names that are not UTF-8 or too long to
/// record) are rejected here.
fn list_objects(
    config: &Path,
    rel: &str,
    suffix: &str,
    rejected: &mut Vec<BluxRejected>,
) -> StoreResult<Vec<String>> {
    let dir = config.join(rel);
    if !dir.is_dir() {
        return Ok(Vec::new());
    }
    let mut names = Vec::new();
    let mut seen = 0usize;
    for entry in std::fs::read_dir(&dir)? {
        let entry = entry?;
        let raw = entry.file_name();
        let lossy = raw.to_string_lossy().into_owned();
        if !lossy.ends_with(suffix) {
            continue;
        }
        seen += 1;
        if seen > MAX_OBJECT_FILES {
            return Err(StoreError::core(
                ErrorCode::TooLarge,
                format!("{rel} holds more than {MAX_OBJECT_FILES} files"),
            ));
        }
        let path = format!("{rel}/{lossy}");
        let problem = if raw.to_str().is_none() {
            Some(StoreError::core(
                ErrorCode::Malformed,
                "the file name is not UTF-8",
            ))
        } else if SOURCE_PREFIX.len() + path.len() > MAX_NAME_LEN {
            Some(StoreError::core(
                ErrorCode::TooLarge,
                format!("the path is longer than {MAX_NAME_LEN} bytes"),
            ))
        } else {
            regular_file(&entry.path()).err()
        };
        match problem {
            Some(e) => rejected.push(BluxRejected::new(path, &e)),
            None => names.push(lossy),
        }
    }
    names.sort();
    Ok(names)
}

/// Verifies one token file: its SHA-256, token hash and issuer fingerprint.
fn check_token(
    path: &Path,
    now: UnixTime,
    revocations: Option<&Revocations>,
    policy: &TokenPolicy,
) -> StoreResult<(Digest, Digest, Digest)> {
    let text = read_object(path, MAX_OBJECT_LEN)?;
    let v = verify_token_against(&text, now, revocations, policy)?;
    Ok((
        sha256(&[text.as_bytes()]),
        v.token_hash,
        v.issuer_fingerprint,
    ))
}

/// Verifies one manifest file against its artifact in the same directory: its SHA-256,
/// manifest hash and signer fingerprint.
fn check_manifest(
    dir: &Path,
    name: &str,
    keys: &[PublicKey],
) -> StoreResult<(Digest, Digest, Digest)> {
    let text = read_object(&dir.join(name), MAX_OBJECT_LEN)?;
    // The manifest's own shape first (fields, version, types), so the artifact is looked up
    // only for a manifest that could verify. With no keys this never succeeds; failing at
    // the digest or the key means the shape is sound.
    if let Err(e) = verify_manifest(&text, &[0; 32], &[]) {
        if !matches!(e.code(), ErrorCode::DigestMismatch | ErrorCode::UnknownKey) {
            return Err(e.into());
        }
    }
    let artifact = parse_json(&text)
        .ok()
        .and_then(|v| {
            v.get("artifact_path")
                .and_then(Value::as_str)
                .map(String::from)
        })
        .ok_or_else(|| StoreError::core(ErrorCode::Malformed, "manifest: no artifact_path"))?;
    // blux-reg joins artifact_path to the manifest's directory unchecked; "../x" or an
    // absolute path would make the import read (and vouch for) a file outside it.
    if !is_plain_file_name(&artifact) {
        return Err(StoreError::core(
            ErrorCode::Malformed,
            format!("manifest: artifact_path {artifact:?} is not a plain file name"),
        ));
    }
    let digest = sha256_file(&dir.join(&artifact)).map_err(|e| {
        if e.code() == StoreCode::NotFound {
            StoreError::not_found(format!(
                "manifest: the artifact {artifact:?} is not beside the manifest"
            ))
        } else {
            e.context("manifest artifact")
        }
    })?;
    let v = verify_manifest(&text, &digest, keys)?;
    Ok((
        sha256(&[text.as_bytes()]),
        v.manifest_hash,
        v.key_fingerprint,
    ))
}

impl Txn<'_> {
    /// Imports a blux-reg configuration directory (see the module docs). Fails as a whole,
    /// writing nothing, if a key file, the ledger or the revocations file does not verify;
    /// tokens and manifests that do not verify are reported in [`BluxImport::rejected`].
    ///
    /// Tokens are checked at the registry's clock ([`Registry::now`], read when the
    /// transaction began) and against the revocations file; manifests against the artifact
    /// beside them. Issuers and signers are trusted only among the directory's own keys, and
    /// only those the registry holds active and unexpired with the token-issuer (tokens) or
    /// manifest-signer (manifests) role.
    pub fn import_blux_dir(
        &mut self,
        dir: &Path,
        protection: &Protection,
    ) -> StoreResult<BluxImport> {
        refuse_linked_dirs(dir)?;
        let mut out = BluxImport::default();
        let dir_keys = self.import_blux_keys(dir, protection, &mut out)?;
        // Read once for every token (up to 64 MiB, checked against up to 10,000 tokens).
        let revocations = self.import_blux_trust_files(dir, &mut out)?;

        // The clock's reading, not the entry stamp (`Txn::now`, which never goes back
        // before the newest entry): a token is judged at the time the registry is told it is.
        let now = self.now;
        let trusted = |role: Role| -> StoreResult<Vec<PublicKey>> {
            let mut keys = Vec::new();
            for pk in &dir_keys {
                if self
                    .key_record(&pk.key_id())?
                    .check_usable(role, now)
                    .is_ok()
                {
                    keys.push(pk.clone());
                }
            }
            Ok(keys)
        };
        let issuers = TokenPolicy::trusted_keys(&trusted(Role::TokenIssuer)?);
        let signers = trusted(Role::ManifestSigner)?;

        let tokens = list_objects(dir, TOKENS_DIR, TOKEN_SUFFIX, &mut out.rejected)?;
        for name in &tokens {
            let path = format!("{TOKENS_DIR}/{name}");
            let checked = check_token(
                &dir.join(TOKENS_DIR).join(name),
                now,
                revocations.as_ref(),
                &issuers,
            );
            match checked {
                Ok(hashes) => {
                    let object = self.record_object(path, hashes)?;
                    out.imported_seqs.push(object.seq);
                    out.tokens.push(object);
                }
                Err(e) => out.rejected.push(BluxRejected::new(path, &e)),
            }
        }

        let manifests = list_objects(dir, MANIFESTS_DIR, MANIFEST_SUFFIX, &mut out.rejected)?;
        for name in &manifests {
            let path = format!("{MANIFESTS_DIR}/{name}");
            match check_manifest(&dir.join(MANIFESTS_DIR), name, &signers) {
                Ok(hashes) => {
                    let object = self.record_object(path, hashes)?;
                    out.imported_seqs.push(object.seq);
                    out.manifests.push(object);
                }
                Err(e) => out.rejected.push(BluxRejected::new(path, &e)),
            }
        }

        let found_objects = !tokens.is_empty() || !manifests.is_empty() || !out.rejected.is_empty();
        if dir_keys.is_empty() && out.imported_seqs.is_empty() && !found_objects {
            return Err(StoreError::not_found(format!(
                "{} holds no blux-reg keys, trust files, tokens or manifests",
                dir.display()
            )));
        }
        Ok(out)
    }

    /// Writes the `imported` entry of a verified token or manifest.
    fn record_object(
        &mut self,
        path: String,
        (file_sha256, object_hash, signer): (Digest, Digest, Digest),
    ) -> StoreResult<BluxObject> {
        let seq = self.append(
            Event::Imported {
                source: format!("{SOURCE_PREFIX}{path}"),
                digest: file_sha256,
            },
            &[],
        )?;
        Ok(BluxObject {
            path,
            sha256: file_sha256,
            object_hash,
            signer,
            seq,
        })
    }

    /// Imports `keys/`; returns every public key found there (added now or already held).
    fn import_blux_keys(
        &mut self,
        dir: &Path,
        protection: &Protection,
        out: &mut BluxImport,
    ) -> StoreResult<Vec<PublicKey>> {
        let roles = RoleSet::of(&[Role::TokenIssuer, Role::ManifestSigner]);
        let keys_dir = dir.join("keys");
        let mut names: Vec<String> = Vec::new();
        if keys_dir.is_dir() {
            for entry in std::fs::read_dir(&keys_dir)? {
                let name = entry?.file_name().to_string_lossy().into_owned();
                if name.ends_with(".pem") {
                    names.push(name);
                }
                if names.len() > MAX_KEY_FILES {
                    return Err(StoreError::core(ErrorCode::TooLarge, "too many key files"));
                }
            }
        }
        names.sort();
        let mut found = Vec::new();
        for file in &names {
            let (stem, private) = match file.strip_suffix(".pub.pem") {
                Some(stem) => (stem, false),
                None => (file.trim_end_matches(".pem"), true),
            };
            // A public file next to its private key adds nothing once the private key is in.
            if !private && names.contains(&format!("{stem}.pem")) {
                continue;
            }
            let text = read_limited(&keys_dir.join(file), MAX_PEM_LEN)?.unwrap_or_default();
            let spec = KeySpec::new(&format!("blux:{stem}"), roles);
            let (added, public) = if private {
                let sk = pem::signing_key_from_pem(&text)
                    .map_err(|e| StoreError::from(e).context(file))?;
                if let Some(public) =
                    read_limited(&keys_dir.join(format!("{stem}.pub.pem")), MAX_PEM_LEN)?
                {
                    let pk = pem::public_key_from_pem(&public)
                        .map_err(|e| StoreError::from(e).context(file))?;
                    if &pk != sk.public_key() {
                        return Err(StoreError::core(
                            ErrorCode::KeyMismatch,
                            format!("{stem}.pub.pem is not the public key of {file}"),
                        ));
                    }
                }
                (
                    self.add_key_material(&sk, &spec, Some(protection)),
                    sk.public_key().clone(),
                )
            } else {
                let pk = pem::public_key_from_pem(&text)
                    .map_err(|e| StoreError::from(e).context(file))?;
                (self.import_public_key(&pk, &spec), pk)
            };
            match added {
                Ok(info) => out.keys.push(info),
                Err(e) if e.code() == StoreCode::AlreadyExists => {
                    out.skipped.push((file.clone(), e.detail().to_owned()))
                }
                Err(e) => return Err(e),
            }
            found.push(public);
        }
        Ok(found)
    }

    /// Verifies and records `trust/ledger.jsonl` and `trust/token_revocations.jsonl`;
    /// returns the revocations, read once for every token.
    fn import_blux_trust_files(
        &mut self,
        dir: &Path,
        out: &mut BluxImport,
    ) -> StoreResult<Option<Revocations>> {
        if let Some((entries, digest)) = verify_ledger_file(&dir.join("trust/ledger.jsonl"))
            .map_err(|e| e.context("trust/ledger.jsonl"))?
        {
            out.ledger_entries = entries.entries;
            out.imported_seqs.push(self.append(
                Event::Imported {
                    source: format!("{SOURCE_PREFIX}trust/ledger.jsonl"),
                    digest,
                },
                &[],
            )?);
        }
        let revocations = read_limited(
            &dir.join("trust/token_revocations.jsonl"),
            MAX_REVOCATIONS_LEN as u64,
        )?;
        let Some(text) = revocations else {
            return Ok(None);
        };
        let parsed = Revocations::parse_whole(&text)
            .map_err(|e| StoreError::from(e).context("trust/token_revocations.jsonl"))?;
        out.revocations = parsed.lines();
        out.imported_seqs.push(self.append(
            Event::Imported {
                source: format!("{SOURCE_PREFIX}trust/token_revocations.jsonl"),
                digest: sha256(&[text.as_bytes()]),
            },
            &[],
        )?);
        Ok(Some(parsed))
    }
}

impl Registry {
    /// Imports a blux-reg configuration directory (one transaction). See
    /// [`Txn::import_blux_dir`].
    ///
    /// ```
    /// use cairn_core::crypto::{pem, Algorithm, SigningKey};
    /// use cairn_store::{CreateOptions, Protection, Registry};
    /// let dir = tempfile::tempdir()?;
    /// let config = dir.path().join("blux-reg");
    /// std::fs::create_dir_all(config.join("keys"))?;
    /// std::fs::create_dir_all(config.join("trust/tokens"))?;
    /// let key = SigningKey::from_seed(Algorithm::Ed25519, &[7; 32]);
    /// let public = pem::public_key_to_pem(key.public_key())?;
    /// std::fs::write(config.join("keys/ci.pub.pem"), public)?;
    /// std::fs::write(config.join("trust/tokens/broken.json"), "{}")?;
    ///
    /// let reg = Registry::create(
    ///     dir.path().join("r.redb"),
    ///     CreateOptions::new("example.test/log", Protection::Insecure),
    /// )
    /// ?;
    /// let report = reg.import_blux_dir(&config, &Protection::Insecure)?;
    /// assert_eq!(report.keys[0].label, "blux:ci");
    /// assert!(report.tokens.is_empty());
    /// assert_eq!(report.rejected[0].path, "trust/tokens/broken.json");
    /// assert_eq!(report.rejected[0].code.as_str(), "malformed");
    /// # Ok::<(), Box<dyn std::error::Error>>(())
    /// ```
    pub fn import_blux_dir(
        &self,
        dir: impl AsRef<Path>,
        protection: &Protection,
    ) -> StoreResult<BluxImport> {
        self.write(|tx| tx.import_blux_dir(dir.as_ref(), protection))
    }
}

#[cfg(test)]
mod tests {
    use super::{is_plain_file_name, verify_ledger_file, LineReader};
    use cairn_core::blux::{verify_ledger, LedgerChain};
    use std::io::{BufReader, Read};

    /// Counts the bytes a reader hands out.
    struct Counting<R> {
        inner: R,
        read: std::rc::Rc<std::cell::Cell<u64>>,
    }

    impl<R: Read> Read for Counting<R> {
        fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
            let n = self.inner.read(buf)?;
            self.read.set(self.read.get() + n as u64);
            Ok(n)
        }
    }

    fn lines_of(bytes: &[u8], capacity: usize, max: usize) -> Vec<(usize, String)> {
        let mut r = LineReader::new(BufReader::with_capacity(capacity, bytes), max);
        let mut out = Vec::new();
        while let Some((n, l)) = r.next_line().unwrap() {
            out.push((n, String::from_utf8(l.to_vec()).unwrap()));
        }
        let (digest, len) = r.finish();
        assert_eq!(len, bytes.len() as u64);
        assert_eq!(digest, cairn_core::encoding::sha256(&[bytes]));
        out
    }

    #[test]
    fn lines_split_as_python_universal_newlines_at_any_buffer_size() {
        let text = b"a\r\nbb\rc\n\n \r\r\nd";
        let want: Vec<(usize, String)> = [
            (1, "a"),
            (2, "bb"),
            (3, "c"),
            (4, ""),
            (5, " "),
            (6, ""),
            (7, "d"),
        ]
        .iter()
        .map(|(n, l)| (*n, (*l).to_owned()))
        .collect();
        for cap in [1, 2, 3, 5, 64] {
            assert_eq!(lines_of(text, cap, 16), want, "buffer of {cap}");
        }
        assert!(lines_of(b"", 8, 16).is_empty());
        assert_eq!(lines_of(b"x\r", 1, 16), vec![(1, "x".to_owned())]);
        assert_eq!(lines_of(b"\n\r\n", 1, 16).len(), 2);
    }

    #[test]
    fn an_endless_line_is_refused_after_reading_little_more_than_the_limit() {
        // 5 MiB without a line ending, against the 1 MiB per-line limit: refused with
        // too_large, having pulled at most the limit plus one buffer from the source.
        let read = std::rc::Rc::new(std::cell::Cell::new(0));
        let source = Counting {
            inner: std::io::repeat(b'a').take(5 << 20),
            read: read.clone(),
        };
        let max = cairn_core::blux::Limits::DEFAULT.max_len;
        let mut r = LineReader::new(BufReader::with_capacity(64 * 1024, source), max);
        let err = r.next_line().unwrap_err();
        assert_eq!(err.code().as_str(), "too_large", "{err}");
        assert!(err.detail().contains("line 1"), "{err}");
        let pulled = read.get();
        assert!(
            pulled <= (max + 2 * 64 * 1024) as u64,
            "read {pulled} bytes of a 5 MiB line"
        );
        assert!(r.line.len() <= max, "held {} bytes", r.line.len());
        // A line of exactly the limit passes.
        let mut exact = vec![b'b'; max];
        exact.push(b'\n');
        assert_eq!(lines_of(&exact, 4096, max)[0].1.len(), max);
    }

    #[test]
    fn the_streamed_ledger_check_agrees_with_the_whole_file_check() {
        let fixture = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../core/tests/fixtures/blux/ledger.jsonl");
        let text = std::fs::read_to_string(&fixture).unwrap();
        let (summary, digest) = verify_ledger_file(&fixture).unwrap().unwrap();
        assert_eq!(summary, verify_ledger(&text).unwrap());
        let entries = summary.entries;
        assert_eq!(digest, cairn_core::encoding::sha256(&[text.as_bytes()]));

        let dir = tempfile::tempdir().unwrap();
        let p = dir.path().join("ledger.jsonl");
        // CRLF endings and blank lines verify the same; a damaged line fails the same way.
        let crlf = text.replace('\n', "\r\n\r\n");
        std::fs::write(&p, &crlf).unwrap();
        assert_eq!(verify_ledger_file(&p).unwrap().unwrap().0.entries, entries);
        let broken = text.replacen("\"action\":\"", "\"action\":\"x", 1);
        std::fs::write(&p, &broken).unwrap();
        let streamed = verify_ledger_file(&p).unwrap_err();
        let whole = verify_ledger(&broken).unwrap_err();
        assert_eq!(streamed.code().as_str(), whole.code().as_str());
        assert_eq!(streamed.code().as_str(), "chain_broken");
        std::fs::write(&p, b"\xff\n").unwrap();
        assert_eq!(
            verify_ledger_file(&p).unwrap_err().code().as_str(),
            "malformed"
        );
        assert!(verify_ledger_file(&dir.path().join("none.jsonl"))
            .unwrap()
            .is_none());
        let mut chain = LedgerChain::new();
        chain.push_line(1, "  ").unwrap();
        assert_eq!(chain.entries(), 0);
    }

    #[test]
    fn plain_file_names() {
        for ok in ["artifact.txt", "résumé 🚀.bin", "..hidden", "a..b", ".env"] {
            assert!(is_plain_file_name(ok), "{ok:?}");
        }
        for bad in [
            "",
            ".",
            "..",
            "../x",
            "a/b",
            "/etc/passwd",
            "a\\b",
            "C:\\x",
            "x/",
            "./x",
            "a\0b",
        ] {
            assert!(!is_plain_file_name(bad), "{bad:?}");
        }
    }
}
