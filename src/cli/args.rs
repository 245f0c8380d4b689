//! The command tree (clap derive). Every command carries examples in its `after_help`.

use std::path::PathBuf;

use clap::{ArgGroup, Args, Parser, Subcommand, ValueEnum};

/// cairn: an embedded trust registry whose proofs verify offline.
#[derive(Parser, Debug)]
#[command(name = "cairn", version, about, long_about = None)]
#[command(after_help = "\
Examples:
  cairn demo                                  the whole story against the default store
  cairn init --origin registry.example.org/log
  cairn status --json
  cairn key generate --label release --role manifest-signer
  cairn sign ./app.tar.gz --key release
  cairn bundle export --manifest 3f2a --out app.bundle --trust-root-out root.json
  cairn bundle verify app.bundle --trust-root root.json --artifact ./app.tar.gz

Store: --store PATH, else $CAIRN_HOME/registry.redb, else the platform data directory.
Exit status: 0 success / verified, 1 verification failed, 2 usage or input error.
Passphrases: --passphrase-file FILE, else $CAIRN_PASSPHRASE, else a prompt (terminals only).")]
pub struct Cli {
    #[command(flatten)]
    pub global: GlobalOpts,
    #[command(subcommand)]
    pub command: Command,
}

/// Options every command accepts.
#[derive(Args, Debug, Clone)]
pub struct GlobalOpts {
    /// The registry file (default: $CAIRN_HOME/registry.redb, else the platform data dir).
    #[arg(long, global = true, value_name = "PATH")]
    pub store: Option<PathBuf>,
    /// Print one JSON document on stdout instead of text (errors too).
    #[arg(long, global = true)]
    pub json: bool,
    /// Read the passphrase (of the log key, and of other keys unless
    /// --key-passphrase-file says otherwise) from the first line of FILE.
    #[arg(long, global = true, value_name = "FILE")]
    pub passphrase_file: Option<PathBuf>,
    /// Read the passphrase of the key an operation signs with (or a new key) from FILE
    /// (else $CAIRN_KEY_PASSPHRASE, else the registry passphrase).
    #[arg(long, global = true, value_name = "FILE")]
    pub key_passphrase_file: Option<PathBuf>,
    /// INSECURE, for tests and demos: store new private keys in the clear, with no
    /// passphrase. Key listings show such keys as "insecure".
    #[arg(long, global = true)]
    pub insecure_no_passphrase: bool,
    /// INSECURE, for tests only: seal new keys with the cheapest Argon2id cost (8 KiB, 1
    /// pass) instead of 64 MiB, 3 passes.
    #[arg(long, global = true)]
    pub insecure_fast_kdf: bool,
}

/// Top-level commands.
#[derive(Subcommand, Debug)]
pub enum Command {
    /// Create a registry file (the log key, entry 0 and the first checkpoint).
    #[command(after_help = "\
Examples:
  cairn init --origin registry.example.org/log
  CAIRN_PASSPHRASE=... cairn init                  passphrase from the environment
  cairn init --insecure-no-passphrase --store ./test.redb   INSECURE: tests and demos only")]
    Init(InitArgs),
    /// Show where the registry is and what it holds.
    #[command(after_help = "\
Examples:
  cairn status
  cairn status --json | jq .entries")]
    Status,
    /// Full check of the file: every page's checksum (redb's integrity check), then the
    /// checks of an open. Reads the whole file; `ledger audit` checks every entry and record.
    #[command(after_help = "\
Examples:
  cairn check
  cairn check --json

A normal open checks only the signed head against the tree (its cost does not grow with
the file); run `cairn check` after a crash, a disk error or a copy from an untrusted place.
It runs by itself when the file was not closed cleanly. Exit 1 when damage is found.")]
    Check,
    /// Upgrade a registry written by an older cairn to this build's schema (asks for the
    /// registry passphrase: the log key signs the new head). Keeps a copy of the old file
    /// beside it (`<file>.schema1.bak`).
    #[command(after_help = "\
Examples:
  cairn migrate
  cairn --store ./old.redb migrate --json

Schema 1 signed every ledger entry with the log key; schema 2 signs one tree head per
commit. Migrating verifies the whole old ledger first and changes nothing if it fails.")]
    Migrate,
    /// The rollback anchor (`<registry file>.anchor`): accept a registry file restored from
    /// a backup.
    #[command(subcommand)]
    Anchor(AnchorCmd),
    /// Keys: generate, import, export, list, show, rotate, revoke.
    #[command(subcommand)]
    Key(KeyCmd),
    /// The trust root verifiers pin: create, show, rotate.
    #[command(subcommand)]
    Root(RootCmd),
    /// Nodes: register, get, query, list, deregister.
    #[command(subcommand)]
    Node(NodeCmd),
    /// Capability tokens: issue, verify, revoke, list, show.
    #[command(subcommand)]
    Token(TokenCmd),
    /// Peer keys: init, request, respond, receive, accept, list, show, remove.
    #[command(subcommand)]
    Peer(PeerCmd),
    /// Sign an artifact (a manifest of its size and SHA-256), or co-sign a manifest.
    #[command(after_help = "\
Examples:
  cairn sign ./app.tar.gz --key release
  cairn sign ./app.tar.gz --key release --name app-1.2.tar.gz --meta version=1.2 --out app.manifest.json
  cairn sign --cosign 3f2a9c --key second-signer
  build.sh | cairn sign - --name app.tar.gz --key release --max-size 2G

The artifact is hashed as a stream (a progress bar on a terminal); it is never held in memory.
Devices, FIFOs and directories are refused (they may never end): use `-` for a stream.")]
    Sign(SignArgs),
    /// Verify a recorded manifest: signer threshold, revocation, and the artifact's bytes.
    #[command(after_help = "\
Examples:
  cairn verify ./app.tar.gz                        any recorded manifest of these bytes
  cairn verify ./app.tar.gz --threshold 2          at least two distinct trusted signers
  cairn verify --manifest 3f2a9c                   signatures only, no artifact
  curl -s https://example.org/app.tar.gz | cairn verify - --max-size 1G
  cairn verify ./app.tar.gz --from-tiles https://log.example.org/
                                                   and its manifest is in the published log
  cairn verify --from-tiles ./tiles --log-key log.json --entry 41
                                                   the log alone, from its tiles

Exit status 0: verified; 1: verification failed; 2: usage or input error.")]
    Verify(VerifyArgs),
    /// The ledger: tail, get, audit, export, import-verify.
    #[command(subcommand)]
    Ledger(LedgerCmd),
    /// Checkpoints: create, latest, history, consistency.
    #[command(subcommand)]
    Checkpoint(CheckpointCmd),
    /// Merkle proofs from the stored tree: inclusion, consistency.
    #[command(subcommand)]
    Proof(ProofCmd),
    /// Bundles: export from the registry, verify offline with only a pinned trust root.
    #[command(subcommand)]
    Bundle(BundleCmd),
    /// The ledger as C2SP tlog tiles: export static files, verify a log from its tiles.
    #[command(subcommand)]
    Tiles(TilesCmd),
    /// Run the registry as an HTTP service (seed 000's registry API, cairn's objects, and the
    /// log's C2SP tiles) until SIGINT or SIGTERM. Defaults: the default store, 127.0.0.1:8080,
    /// plain HTTP. docs/SERVICE.md documents the configuration and endpoints.
    #[command(after_help = "\
Examples:
  cairn serve                                  127.0.0.1:8080, plain HTTP, the default store
  cairn serve --config /etc/cairn/serve.toml   TLS, mutual TLS, limits, admission policy
  CAIRN_LOG=debug cairn serve --store ./registry.redb

The registry is opened for writing (its passphrase as for any write: --passphrase-file,
$CAIRN_PASSPHRASE, or a prompt). Logs go to stderr (filter with CAIRN_LOG).")]
    Serve(ServeArgs),
    /// A C2SP tlog-witness: `witness init DIR` makes its keys and configuration, `witness
    /// serve` runs it. docs/WITNESS.md documents the configuration, the protocol and what a
    /// cosignature guarantees.
    #[command(subcommand)]
    Witness(WitnessCmd),
    /// The handle registry of a cairn service (`cairn serve` with [envelope]): register a
    /// handle with a sealed identity, resolve one, check whether one exists.
    #[command(subcommand)]
    Handle(HandleCmd),
    /// Import from other systems: `import blux <config dir>`.
    #[command(subcommand)]
    Import(ImportCmd),
    /// Verify blux-reg files offline: verify-token, verify-manifest, verify-ledger (exit
    /// status as blux-reg's: 0 verified, 1 not verified, 2 usage or unreadable file).
    #[command(subcommand)]
    Blux(BluxCmd),
    /// Run the whole story against the default store (created if missing): keys, a trust
    /// root, a node, a token, a signed artifact, a checkpoint, a bundle verified offline,
    /// and a tampered copy rejected.
    #[command(after_help = "\
Examples:
  cairn demo
  cairn demo --json
  CAIRN_HOME=/tmp/cairn-demo cairn demo            use a throw-away home

The demo's own keys are stored WITHOUT passphrase protection (insecure mode) and say so.
Running it again reuses the store, its keys and its trust root, and appends to the ledger.
It leaves a registry whose keys are sealed alone (exit 2): use a throw-away CAIRN_HOME.")]
    Demo,
}

/// `cairn import ...`.
#[derive(Subcommand, Debug)]
pub enum ImportCmd {
    /// Import a blux-reg configuration directory in one transaction: keys/*.pem and
    /// keys/*.pub.pem become keys labelled `blux:<name>` (token-issuer, manifest-signer);
    /// trust/ledger.jsonl is hash-chain verified and, like trust/token_revocations.jsonl,
    /// recorded by its SHA-256; trust/tokens/*.json and manifests/*.blux-manifest.json are
    /// verified one by one. Every imported and every refused file is listed with its code.
    #[command(after_help = "\
Examples:
  cairn import blux ~/.config/blux-reg
  cairn import blux ~/.config/blux-reg --allow-partial      keep what verifies
  cairn import blux ./blux-config --insecure-no-passphrase --json   INSECURE: tests only

A key, ledger or revocations file that does not verify fails the import (nothing written).
A refused token or manifest (expired, forged, revoked, unparsable...) also writes nothing and
exits 1 (error \"refused\"), unless --allow-partial: then the rest is imported (exit 0).
Private keys are sealed under the key passphrase (--key-passphrase-file, $CAIRN_KEY_PASSPHRASE,
else the registry passphrase). Keys already in the registry are skipped and listed.")]
    Blux {
        /// The blux-reg configuration directory (holding keys/ and trust/).
        dir: PathBuf,
        /// Import what verifies even when some tokens or manifests are refused (they are
        /// still listed, and the exit status is 0). Without it, any refusal writes nothing
        /// and exits 1.
        #[arg(long)]
        allow_partial: bool,
    },
}

/// `cairn blux ...` (the commands are named as blux-reg's: `verify-token`, ...).
#[derive(Subcommand, Debug)]
pub enum BluxCmd {
    /// Verify a blux-reg v1.0 capability token: fields, version, issuer key and fingerprint,
    /// trusted issuer, signature, expiry and (with --revocations) revocation.
    #[command(after_help = "\
Examples:
  cairn blux verify-token token.json --keys-dir ~/.config/blux-reg/keys \\
      --revocations ~/.config/blux-reg/trust/token_revocations.jsonl
  cairn blux verify-token token.json --key signer.pub.pem --at 2026-01-20T15:00:00Z --json
  cairn blux verify-token token.json --any-issuer          blux-reg's rule: any embedded key

Exit status 0: verified; 1: not verified (any problem with the token, as blux-reg exits);
2: usage error or unreadable file. Unlike blux-reg, a token whose issuer fingerprint is not
its key's (key_mismatch) or whose signature is not canonical base64 (signature_invalid) is
refused.")]
    #[command(name = "verify-token")]
    Token {
        /// The token file (JSON as blux-reg writes it).
        file: PathBuf,
        /// A trusted issuer's public key (PEM or JSON; repeat).
        #[arg(long = "key", value_name = "FILE")]
        keys: Vec<PathBuf>,
        /// Trust every `*.pub.pem` in DIR (blux-reg's keys/ directory).
        #[arg(long, value_name = "DIR")]
        keys_dir: Option<PathBuf>,
        /// Accept any issuer key embedded in the token (blux-reg's behaviour: the token then
        /// proves only that the holder of that key issued it).
        #[arg(long, conflicts_with_all = ["keys", "keys_dir"])]
        any_issuer: bool,
        /// blux-reg's trust/token_revocations.jsonl.
        #[arg(long, value_name = "FILE")]
        revocations: Option<PathBuf>,
        /// Verify at this time (Unix seconds or YYYY-MM-DDTHH:MM:SSZ) instead of now.
        #[arg(long)]
        at: Option<String>,
    },
    /// Verify a blux-reg v1.0 artifact manifest against its artifact and a trusted key.
    #[command(after_help = "\
Examples:
  cairn blux verify-manifest app.tar.gz.blux-manifest.json --keys-dir ~/.config/blux-reg/keys
  cairn blux verify-manifest m.blux-manifest.json --artifact ./app.tar.gz --key signer.pub.pem

The artifact defaults to the manifest's artifact_path beside the manifest (a plain file name
only). Exit status 0: verified; 1: not verified; 2: usage error or unreadable file.")]
    #[command(name = "verify-manifest")]
    Manifest {
        /// The manifest file.
        manifest: PathBuf,
        /// The artifact (a regular file, or `-` for stdin).
        #[arg(long, value_name = "FILE")]
        artifact: Option<PathBuf>,
        /// A trusted signer's public key (PEM or JSON; repeat).
        #[arg(long = "key", value_name = "FILE")]
        keys: Vec<PathBuf>,
        /// Trust every `*.pub.pem` in DIR (blux-reg's keys/ directory).
        #[arg(long, value_name = "DIR")]
        keys_dir: Option<PathBuf>,
        /// Largest artifact accepted (default: any regular file, 4G for stdin).
        #[arg(long, value_name = "SIZE", value_parser = parse_size)]
        max_size: Option<u64>,
    },
    /// Verify the hash chain of a blux-reg ledger (trust/ledger.jsonl), streamed line by line.
    #[command(after_help = "\
Examples:
  cairn blux verify-ledger ~/.config/blux-reg/trust/ledger.jsonl
  cairn blux verify-ledger ledger.jsonl --json

The chain proves only internal consistency: blux-reg's entries are unsigned and nothing
anchors the head. Exit status 0: ledger ok; 1: tampered or unparsable; 2: unreadable.")]
    #[command(name = "verify-ledger")]
    Ledger {
        /// The ledger file.
        file: PathBuf,
    },
}

/// `cairn init`.
#[derive(Args, Debug)]
pub struct InitArgs {
    /// The log's origin: the first line of every checkpoint (no spaces or '+').
    #[arg(long, default_value = "cairn.local/registry")]
    pub origin: String,
    /// Algorithm of the log key.
    #[arg(long, default_value = "ed25519+ml-dsa-44", value_parser = parse_algorithm)]
    pub log_algorithm: cairn_core::crypto::Algorithm,
}

/// A role name as typed on the command line.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum RoleArg {
    /// Signs trust-root versions; may revoke keys, tokens and manifests.
    Root,
    /// Signs checkpoints (the log key).
    Checkpoint,
    /// Issues capability tokens.
    TokenIssuer,
    /// Signs artifact manifests.
    ManifestSigner,
    /// A peer: holds tokens.
    Peer,
}

impl RoleArg {
    /// The core role.
    pub fn role(self) -> cairn_core::trust::Role {
        use cairn_core::trust::Role;
        match self {
            RoleArg::Root => Role::Root,
            RoleArg::Checkpoint => Role::Checkpoint,
            RoleArg::TokenIssuer => Role::TokenIssuer,
            RoleArg::ManifestSigner => Role::ManifestSigner,
            RoleArg::Peer => Role::Peer,
        }
    }
}

/// Parses an algorithm name (`ed25519`, `ml-dsa-44`, `ed25519+ml-dsa-65`, ...).
pub fn parse_algorithm(s: &str) -> Result<cairn_core::crypto::Algorithm, String> {
    cairn_core::crypto::Algorithm::parse(s).map_err(|_| {
        format!("unknown algorithm {s:?}: use ed25519, ml-dsa-44, ml-dsa-65, ed25519+ml-dsa-44 or ed25519+ml-dsa-65")
    })
}

/// Parses a size: bytes (`1048576`) or a number with a binary unit `K`, `M`, `G`, `T`
/// (`KiB`, `MiB`, ... and lowercase also accepted).
pub fn parse_size(s: &str) -> Result<u64, String> {
    let t = s.trim();
    let split = t.find(|c: char| !c.is_ascii_digit()).unwrap_or(t.len());
    let (digits, unit) = t.split_at(split);
    let n: u64 = digits
        .parse()
        .map_err(|_| format!("{s:?} is not a size (e.g. 1048576, 500M, 8G)"))?;
    let shift = match unit
        .to_ascii_lowercase()
        .trim_end_matches("ib")
        .trim_end_matches('b')
    {
        "" => 0,
        "k" => 10,
        "m" => 20,
        "g" => 30,
        "t" => 40,
        _ => return Err(format!("{s:?}: unknown unit (use K, M, G or T)")),
    };
    n.checked_mul(1u64 << shift)
        .ok_or_else(|| format!("{s:?} is too large a size"))
}

/// `cairn key ...`.
#[derive(Subcommand, Debug)]
pub enum KeyCmd {
    /// Generate a key; its private half is sealed under a passphrase.
    #[command(after_help = "\
Examples:
  cairn key generate --label release --role manifest-signer
  cairn key generate --label issuer --role token-issuer --algorithm ed25519 --expires-in 90d
  cairn key generate --label root --role root --algorithm ed25519+ml-dsa-65")]
    Generate {
        /// A label (at most 128 bytes); keys can be named by it.
        #[arg(long)]
        label: String,
        /// What the key may sign (repeat for several).
        #[arg(long = "role", required = true, value_enum)]
        roles: Vec<RoleArg>,
        /// Algorithm.
        #[arg(long, default_value = "ed25519+ml-dsa-44", value_parser = parse_algorithm)]
        algorithm: cairn_core::crypto::Algorithm,
        /// Validity from now (e.g. 3600, 90m, 12h, 30d, 52w).
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// Import a key: a private key (PKCS#8 PEM, sealed on import) or a public key
    /// (SubjectPublicKeyInfo PEM, or the JSON that `key export --format json` writes).
    #[command(after_help = "\
Examples:
  cairn key import --private signer.pem --label ci --role manifest-signer
  cairn key import --public partner.pub.pem --label partner --role peer
  cairn key import --public hybrid.pub.json --label partner-pq --role peer")]
    #[command(group(ArgGroup::new("source").required(true).args(["public", "private"])))]
    Import {
        /// A public key file.
        #[arg(long, value_name = "FILE")]
        public: Option<PathBuf>,
        /// An unencrypted PKCS#8 private key PEM file.
        #[arg(long, value_name = "FILE")]
        private: Option<PathBuf>,
        /// A label.
        #[arg(long)]
        label: String,
        /// Roles (repeat for several).
        #[arg(long = "role", required = true, value_enum)]
        roles: Vec<RoleArg>,
        /// Validity from now.
        #[arg(long, value_name = "DURATION")]
        expires_in: Option<String>,
    },
    /// Export a public key (PEM or JSON) or, with --private, the private key (PKCS#8 PEM).
    #[command(after_help = "\
Examples:
  cairn key export release                          public key PEM on stdout
  cairn key export release --format json --out release.pub.json
  cairn key export release --private --out release.pem    unencrypted: handle with care

Hybrid keys have no standard PEM form: export them with --format json.")]
    Export {
        /// The key: its id, an id prefix (4+ hex digits), its label, or `log`.
        key: String,
        /// Export the private key (needs its passphrase).
        #[arg(long)]
        private: bool,
        /// Public key format.
        #[arg(long, value_enum, default_value = "pem")]
        format: KeyFormat,
        /// Write to FILE instead of stdout.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// List every key.
    #[command(after_help = "\
Examples:
  cairn key list
  cairn key list --json | jq '.keys[] | select(.status == \"active\") | .label'")]
    List,
    /// Show one key.
    #[command(after_help = "\
Examples:
  cairn key show release
  cairn key show log --json")]
    Show {
        /// The key: id, id prefix, label, or `log`.
        key: String,
    },
    /// Replace a key by a new one with the same label, roles and expiry (both sign the
    /// rotation entry). Rotating the log key switches the log to the new key.
    #[command(after_help = "\
Examples:
  cairn key rotate release
  cairn key rotate log --algorithm ed25519+ml-dsa-65

After rotating a key the trust root lists, rotate the trust root too (cairn root rotate).
A rotation to a weaker algorithm (ed25519+ml-dsa-44 to ed25519, say) is refused unless
--allow-weaker-algorithm is given.")]
    Rotate {
        /// The key to replace.
        key: String,
        /// Algorithm of the new key (default: the old key's).
        #[arg(long, value_parser = parse_algorithm)]
        algorithm: Option<cairn_core::crypto::Algorithm>,
        /// Rotate even to an algorithm that gives up what the old key had: a post-quantum
        /// half or its NIST category, or the Ed25519 half of a hybrid.
        #[arg(long)]
        allow_weaker_algorithm: bool,
    },
    /// Revoke a key. The revoker is the key itself or a key holding the root role.
    #[command(after_help = "\
Examples:
  cairn key revoke release --reason \"laptop lost\"
  cairn key revoke 9c1e --reason compromised --revoker root")]
    Revoke {
        /// The key to revoke.
        key: String,
        /// Why (recorded in the ledger).
        #[arg(long)]
        reason: String,
        /// The revoking key (default: the key itself).
        #[arg(long)]
        revoker: Option<String>,
    },
}

/// Public key export formats.
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum KeyFormat {
    /// SubjectPublicKeyInfo PEM (Ed25519, ML-DSA).
    Pem,
    /// `{"alg": ..., "key": base64}` (every algorithm, hybrids included).
    Json,
}

/// Options shared by `root create` and `root rotate`.
#[derive(Args, Debug)]
pub struct RootSpecArgs {
    /// A key to list (repeat). Default: every active key holding root, checkpoint,
    /// token-issuer or manifest-signer roles.
    #[arg(long = "key", value_name = "KEY")]
    pub keys: Vec<String>,
    /// A per-role threshold, ROLE=N (repeat). Default: 1 for each role a listed key holds.
    #[arg(long = "threshold", value_name = "ROLE=N")]
    pub thresholds: Vec<String>,
    /// A key signing the new version (repeat). Default: every listed (and, for a rotation,
    /// currently trusted) root key whose private half is here.
    #[arg(long = "signer", value_name = "KEY")]
    pub signers: Vec<String>,
    /// How long this version stays acceptable as the newest.
    #[arg(long, default_value = "365d", value_name = "DURATION")]
    pub expires_in: String,
    /// Write the signed trust root (DSSE JSON) to FILE: the file verifiers pin.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `cairn anchor ...`.
#[derive(Subcommand, Debug)]
pub enum AnchorCmd {
    /// Record the registry file's current signed head in its anchor, replacing what the
    /// anchor said: after a genuine restore from a backup, which every open refuses with
    /// `rolled_back` until then.
    #[command(after_help = "\
Examples:
  cairn anchor reset
  cairn --store ./registry.redb anchor reset --json

Every commit records its signed head in <registry file>.anchor; an open refuses a file whose
ledger is shorter than, or does not extend, the anchored one (rolled_back, exit 1). Reset only
when the restored file is the one to keep: what the newer file recorded after the backup
(revocations included) is lost and must be recorded again.")]
    Reset,
}

/// `cairn root ...`.
#[derive(Subcommand, Debug)]
pub enum RootCmd {
    /// Create trust-root version 1, signed by its root keys.
    #[command(after_help = "\
Examples:
  cairn root create --out root.json
  cairn root create --key root --key log --key release --threshold root=1 --out root.json

The root must list the log key (it signs the checkpoints). Give root.json to verifiers.")]
    Create(RootSpecArgs),
    /// Show the newest (or a given) trust-root version.
    #[command(after_help = "\
Examples:
  cairn root show
  cairn root show --version 1 --out root-v1.json")]
    Show {
        /// The root version (default: the newest).
        #[arg(long)]
        version: Option<u64>,
        /// Write the signed trust root (DSSE JSON) to FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Move to the next version, signed by a threshold of the current and of the new root
    /// keys (verifiers pinning any older version walk forward).
    #[command(after_help = "\
Examples:
  cairn key rotate log && cairn root rotate --out root.json
  cairn root rotate --key new-root --key log --signer root --signer new-root")]
    Rotate(RootSpecArgs),
}

/// `cairn node ...`.
#[derive(Subcommand, Debug)]
pub enum NodeCmd {
    /// Register (or replace) a node from a JSON node spec.
    #[command(after_help = "\
Examples:
  cairn node register node.json
  echo '{\"id\":\"mem-01\",\"name\":\"Memory\",\"version\":\"1.0.0\",\"capabilities\":[\"memory.store\"],
        \"signals\":[],\"endpoints\":[],\"provenance\":{\"source\":\"https://git.example/mem\"}}' | cairn node register -

Fields: id, name, version, capabilities, signals, endpoints [{name, url}],
provenance {source, sha256?, manifest?}. Unknown fields are refused, naming the field.")]
    Register {
        /// The spec file, or `-` for stdin.
        #[arg(default_value = "-")]
        file: String,
    },
    /// Show one node.
    #[command(after_help = "Examples:\n  cairn node get mem-01\n  cairn node get mem-01 --json")]
    Get {
        /// Node id.
        id: String,
    },
    /// Find nodes by capability, by signal, or both (the nodes declaring both): index lookups.
    #[command(after_help = "\
Examples:
  cairn node query --capability memory.store
  cairn node query --signal memory_stored --json
  cairn node query --signal memory_stored --capability memory.store")]
    #[command(group(ArgGroup::new("by").required(true).multiple(true).args(["capability", "signal"])))]
    Query {
        /// A capability name.
        #[arg(long)]
        capability: Option<String>,
        /// A signal name.
        #[arg(long)]
        signal: Option<String>,
    },
    /// List every node.
    #[command(after_help = "Examples:\n  cairn node list\n  cairn node list --json")]
    List,
    /// Remove a node.
    #[command(after_help = "Examples:\n  cairn node deregister mem-01 --reason retired")]
    Deregister {
        /// Node id.
        id: String,
        /// Why (recorded in the ledger).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// `cairn peer ...`: the signed key exchange with other peers (docs/FORMATS.md, section 16).
#[derive(Subcommand, Debug)]
pub enum PeerCmd {
    /// Make this registry a peer: its id, its signing key (role peer, ml-dsa-65 or
    /// ed25519+ml-dsa-65) and its ML-KEM-768 encapsulation key (1184 raw bytes, or base64).
    /// Run again with the same id to re-key the identity (a new signing key is logged; revoke
    /// a leaked old one with `cairn key revoke`).
    #[command(after_help = "\
Examples:
  cairn key generate --label me --role peer --algorithm ml-dsa-65
  cairn peer init --id node-a --key me --kem-key node-a.kem
  cairn key revoke me --reason leaked && cairn key generate --label me-2 --role peer --algorithm ml-dsa-65
  cairn peer init --id node-a --key me-2 --kem-key node-a.kem    # re-keyed")]
    Init {
        /// This registry's peer id.
        #[arg(long)]
        id: String,
        /// The signing key (label, id or id prefix).
        #[arg(long)]
        key: String,
        /// The encapsulation key file.
        #[arg(long)]
        kem_key: PathBuf,
    },
    /// Write a signed key request to a peer (nothing when its keys are verified, unless --again).
    #[command(
        after_help = "Examples:\n  cairn peer request node-b --out req.bin\n  cairn peer request node-b --again --out req.bin --json"
    )]
    Request {
        /// The peer to ask.
        peer: String,
        /// Where to write the request.
        #[arg(long)]
        out: PathBuf,
        /// Ask even if the peer's keys are verified (to refresh them).
        #[arg(long)]
        again: bool,
    },
    /// Answer a key request addressed to this registry.
    #[command(
        after_help = "Examples:\n  cairn peer respond req.bin --out resp.bin\n  cairn peer respond req.bin --with-proof --out resp.cbdl"
    )]
    Respond {
        /// The request file.
        request: PathBuf,
        /// Where to write the response.
        #[arg(long)]
        out: PathBuf,
        /// Answer with a bundle proving this registry's key entry (needs a trust root).
        #[arg(long)]
        with_proof: bool,
    },
    /// Receive a key response to one of this registry's requests; store and verify the key
    /// if a vouching rule applies (a key changed since it was pinned is refused: key_changed).
    #[command(after_help = "\
Examples:
  cairn peer receive resp.bin --bootstrap-root root.json
  cairn peer receive resp.cbdl --log-root node-b=node-b-root.json
  cairn peer receive resp.bin --trust-on-first-use

Exit 0 when the key is verified or stored unverified (see \"verified\"), 1 when it is refused.")]
    Receive {
        /// The response file.
        response: PathBuf,
        /// A trust root whose peer-role keys pin bootstrap peers (label = peer id); default:
        /// the registry's own current trust root.
        #[arg(long)]
        bootstrap_root: Option<PathBuf>,
        /// PEER=FILE: the trust root of peer PEER's own registry, whose checkpoints vouch
        /// for PEER's keys in key-transparency bundles (repeatable; a log vouches for no
        /// other peer).
        #[arg(long, value_name = "PEER=FILE")]
        log_root: Vec<String>,
        /// Pin the first key seen for a peer nothing else vouches for.
        #[arg(long)]
        trust_on_first_use: bool,
        /// Let a key-transparency bundle vouch under a checkpoint signed by classical
        /// (Ed25519-only) keys; by default the peer's checkpoint needs an Ed25519 and an
        /// ML-DSA signature, as `bundle verify` asks.
        #[arg(long)]
        allow_classical_checkpoint: bool,
        /// The oldest key-transparency checkpoint accepted, in seconds (its time is its
        /// newest entry's): older is `stale`, and so is a version 1 bundle (no time). A key
        /// the peer revoked stops vouching once every checkpoint from before the revocation
        /// is older than this. Default: no limit.
        #[arg(long, value_name = "SECONDS")]
        max_age: Option<u64>,
    },
    /// An operator accepts a peer's key: its proposed (changed) key, or its unverified key.
    /// Recorded in the ledger.
    #[command(after_help = "Examples:\n  cairn peer accept node-b 3f2a...e1 --json")]
    Accept {
        /// The peer.
        peer: String,
        /// The key id to accept (64 hex characters, as the key_changed message shows it).
        key_id: String,
        /// Accept a changed key of a weaker algorithm than the pinned one (less post-quantum
        /// strength, or a hybrid's Ed25519 half dropped): refused without it.
        #[arg(long)]
        allow_weaker: bool,
    },
    /// List stored peers (legacy round-3 Dilithium keys are marked).
    #[command(after_help = "Examples:\n  cairn peer list\n  cairn peer list --verified --json")]
    List {
        /// Only verified peers.
        #[arg(long)]
        verified: bool,
    },
    /// Show one peer.
    #[command(after_help = "Examples:\n  cairn peer show node-b --json")]
    Show {
        /// The peer.
        peer: String,
    },
    /// Remove a peer's keys (recorded in the ledger).
    #[command(after_help = "Examples:\n  cairn peer remove node-b --reason decommissioned")]
    Remove {
        /// The peer.
        peer: String,
        /// Why (recorded in the ledger).
        #[arg(long, default_value = "")]
        reason: String,
    },
}

/// `cairn token ...`.
#[derive(Subcommand, Debug)]
pub enum TokenCmd {
    /// Issue a token (root, or delegated from a parent the issuer holds).
    #[command(after_help = "\
Examples:
  cairn token issue --issuer issuer --holder agent --audience svc.example --capability read --ttl 1h
  cairn token issue --issuer issuer --holder-key agent.pub.pem --audience svc.example \\
      --capability write --constraint max_bytes=max:1048576 --constraint path=prefix:/data/
  cairn token issue --issuer agent --holder helper --parent 5be1 --capability read --ttl 10m

Constraints: NAME=max:N | min:N | range:A..B | exact:TEXT | one-of:A,B,C | prefix:TEXT")]
    #[command(group(ArgGroup::new("to").required(true).args(["holder", "holder_key"])))]
    Issue {
        /// The issuing key (token-issuer role; for a delegation, the parent's holder).
        #[arg(long)]
        issuer: String,
        /// The holder: a key of this registry.
        #[arg(long)]
        holder: Option<String>,
        /// The holder: a public key file (PEM or JSON).
        #[arg(long, value_name = "FILE")]
        holder_key: Option<PathBuf>,
        /// Who the token is for (a delegated token inherits its parent's by default).
        #[arg(long)]
        audience: Option<String>,
        /// A granted capability (repeat).
        #[arg(long = "capability", required = true)]
        capabilities: Vec<String>,
        /// A constraint NAME=KIND:VALUE (repeat).
        #[arg(long = "constraint", value_name = "NAME=KIND:VALUE")]
        constraints: Vec<String>,
        /// Lifetime (default 1h for a root token; a delegated token inherits its parent's).
        #[arg(long, value_name = "DURATION")]
        ttl: Option<String>,
        /// Parent token (id or id prefix) for a delegation.
        #[arg(long)]
        parent: Option<String>,
        /// Write the token (DSSE JSON) to FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Verify a token against the registry: issuer, chain, revocation, validity.
    #[command(after_help = "\
Examples:
  cairn token verify 5be1
  cairn token verify --file token.json --audience svc.example --capability read
  cairn token verify 5be1 --at 2030-01-01T00:00:00Z
  cairn token verify --file offline.json --allow-unrecorded

A token the ledger does not record is refused (unauthorized), even if its signature verifies:
after `cairn key rotate` the old key must not mint tokens this registry accepts.
--allow-unrecorded accepts one only if its not_before lies inside the issuing key's validity
window (from the key's key_added entry to its rotation or revocation entry).")]
    #[command(group(ArgGroup::new("which").required(true).args(["token", "file"])))]
    Verify {
        /// A stored token (id or id prefix).
        token: Option<String>,
        /// A presented token file (DSSE JSON or compact).
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// Required audience.
        #[arg(long)]
        audience: Option<String>,
        /// Required capability.
        #[arg(long)]
        capability: Option<String>,
        /// Verify at this time (Unix seconds or YYYY-MM-DDTHH:MM:SSZ) instead of now.
        #[arg(long)]
        at: Option<String>,
        /// Accept a token the ledger does not record if it was issued inside the issuing
        /// key's validity window (closed by rotation or revocation).
        #[arg(long)]
        allow_unrecorded: bool,
    },
    /// Revoke a token (and everything delegated from it).
    #[command(
        after_help = "Examples:\n  cairn token revoke 5be1 --reason \"holder left\" --revoker issuer"
    )]
    Revoke {
        /// The token (id or id prefix).
        token: String,
        /// Why.
        #[arg(long)]
        reason: String,
        /// The revoking key: the token's issuer or a root key.
        #[arg(long)]
        revoker: String,
    },
    /// Print the Cairn-Proof header value that proves a request to `cairn serve` comes from
    /// the token's holder (docs/SERVICE.md, "Who may write"): a signature by the holder key
    /// over the token id, method, path and query, body digest, time and a fresh nonce.
    #[command(after_help = "\
Examples:
  cairn token proof 5be1 --method POST --path /api/v1/registry/register --body node.json
  cairn token proof --file ops.token.json --holder ops-client --method DELETE \\
      --path /api/v1/registry/mem-02
  cairn token proof --file ops.token.json --key-file ops-client.pem --method POST \\
      --path /api/v1/registry/register --body node.json

  curl -X POST http://127.0.0.1:8080/api/v1/registry/register --data-binary @node.json \\
      -H \"Authorization: Cairn $(base64 -w0 ops.token.json)\" \\
      -H \"Cairn-Proof: $(cairn token proof --file ops.token.json --key-file ops-client.pem \\
            --method POST --path /api/v1/registry/register --body node.json)\"

The holder key is a key of this registry with its private half (default: the token's holder),
or a PEM file (--key-file). `cairn serve` holds its registry file open, so beside a running
server use --file and --key-file (no registry is opened then). A proof is good for one request: its nonce is accepted once, and its time must be
within the server's auth.max_clock_skew_seconds. The body must be the exact bytes sent
(curl --data-binary, not -d, which strips newlines).")]
    #[command(group(ArgGroup::new("which").required(true).args(["token", "file"])))]
    Proof {
        /// A stored token (id or id prefix).
        token: Option<String>,
        /// A token file (DSSE JSON or compact), as sent in the Authorization header.
        #[arg(long, value_name = "FILE")]
        file: Option<PathBuf>,
        /// The holder key (label or id; default: the token's holder).
        #[arg(long, conflicts_with = "key_file")]
        holder: Option<String>,
        /// The holder's private key as an unencrypted PKCS#8 PEM file (`cairn key export KEY
        /// --private`) instead of a key of this registry.
        #[arg(long, value_name = "FILE")]
        key_file: Option<PathBuf>,
        /// The request method (GET, POST, DELETE, ...).
        #[arg(long)]
        method: String,
        /// The request path and query exactly as sent, e.g. /api/v1/registry/register.
        #[arg(long)]
        path: String,
        /// The request body (default: empty); `-` reads stdin.
        #[arg(long, value_name = "FILE")]
        body: Option<PathBuf>,
        /// The proof's time (Unix seconds; default: now).
        #[arg(long)]
        time: Option<u64>,
        /// The nonce: 16 to 64 characters of A-Z a-z 0-9 - _ (default: a fresh one).
        #[arg(long)]
        nonce: Option<String>,
    },
    /// List every token.
    #[command(after_help = "Examples:\n  cairn token list\n  cairn token list --json")]
    List,
    /// Show one token.
    #[command(
        after_help = "Examples:\n  cairn token show 5be1\n  cairn token show 5be1 --out token.json"
    )]
    Show {
        /// The token (id or id prefix).
        token: String,
        /// Write the token (DSSE JSON) to FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
}

/// `cairn sign`.
#[derive(Args, Debug)]
pub struct SignArgs {
    /// The artifact: a regular file, or `-` to read stdin (then give --name).
    #[arg(required_unless_present = "cosign", conflicts_with = "cosign")]
    pub artifact: Option<PathBuf>,
    /// Largest artifact accepted, e.g. 500M, 8G (default: any size for a regular file,
    /// 4G for stdin). Larger is refused with `too_large`.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// Add a co-signature to this recorded manifest (digest or prefix) instead.
    #[arg(long, value_name = "MANIFEST")]
    pub cosign: Option<String>,
    /// The signing key (manifest-signer role).
    #[arg(long)]
    pub key: String,
    /// Artifact name in the manifest (default: the file name).
    #[arg(long)]
    pub name: Option<String>,
    /// Media type.
    #[arg(long, default_value = "application/octet-stream")]
    pub media_type: String,
    /// Metadata KEY=VALUE (repeat).
    #[arg(long = "meta", value_name = "KEY=VALUE")]
    pub meta: Vec<String>,
    /// Write the manifest (DSSE JSON) to FILE.
    #[arg(long, value_name = "FILE")]
    pub out: Option<PathBuf>,
}

/// `cairn verify`.
#[derive(Args, Debug)]
#[command(group(ArgGroup::new("what").required(true).multiple(true).args(["artifact", "manifest", "from_tiles"])))]
pub struct VerifyArgs {
    /// The artifact: a regular file, or `-` to read stdin (hashed as a stream and compared
    /// with the manifest).
    pub artifact: Option<PathBuf>,
    /// Largest artifact accepted, e.g. 500M, 8G (default: any size for a regular file,
    /// 4G for stdin).
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub max_size: Option<u64>,
    /// The manifest (digest or prefix); default: every manifest recorded for the artifact.
    #[arg(long)]
    pub manifest: Option<String>,
    /// Distinct trusted signers required.
    #[arg(long, default_value_t = 1)]
    pub threshold: usize,
    /// A tiled log (an http(s) URL or a directory, as `cairn tiles verify`): with an artifact
    /// or --manifest, also prove the manifest's ledger entries are in that log (its checkpoint
    /// key: --log-key, --trust-root, else this registry's log key); alone, verify the log from
    /// its tiles as `cairn tiles verify` does.
    #[arg(long, value_name = "URL|DIR")]
    pub from_tiles: Option<String>,
    #[command(flatten)]
    pub tile_proofs: TileProofArgs,
}

/// `cairn ledger ...`.
#[derive(Subcommand, Debug)]
pub enum LedgerCmd {
    /// The newest entries.
    #[command(after_help = "Examples:\n  cairn ledger tail\n  cairn ledger tail -n 50 --json")]
    Tail {
        /// How many.
        #[arg(short = 'n', long, default_value_t = 10)]
        count: u64,
    },
    /// One entry, with its signatures.
    #[command(after_help = "Examples:\n  cairn ledger get 0\n  cairn ledger get 42 --json")]
    Get {
        /// Sequence number.
        seq: u64,
    },
    /// Check everything: every entry, signature, tree hash, checkpoint and state record.
    #[command(after_help = "\
Examples:
  cairn ledger audit
  cairn ledger audit --json

Stops at the first bad entry and names it (exit 1).")]
    Audit,
    /// Write the whole ledger, up to the signed head, as a self-verifying stream.
    #[command(after_help = "\
Examples:
  cairn ledger export --out registry.cairnlog

Every entry, each published checkpoint after the entry that completes its size, and the
signed head's note last when no checkpoint was published at its size.")]
    Export {
        /// Output file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
    },
    /// Verify another registry's export in one pass, optionally anchored to a checkpoint
    /// obtained from the source.
    #[command(after_help = "\
Examples:
  cairn ledger import-verify registry.cairnlog --origin registry.example.org/log
  cairn ledger import-verify registry.cairnlog --checkpoint cp.txt --trust-root root.json
  cairn ledger import-verify registry.cairnlog --checkpoint cp.txt --log-key log.pub.json

Without --checkpoint the stream is checked only against itself.")]
    ImportVerify {
        /// The export file.
        file: PathBuf,
        /// The source's origin.
        #[arg(long)]
        origin: Option<String>,
        /// A checkpoint note of the source, obtained separately.
        #[arg(long, value_name = "FILE")]
        checkpoint: Option<PathBuf>,
        /// The public key that signed --checkpoint (PEM or JSON).
        #[arg(
            long,
            value_name = "FILE",
            requires = "checkpoint",
            conflicts_with = "trust_root"
        )]
        log_key: Option<PathBuf>,
        /// A pinned trust root of the source; its checkpoint keys may sign --checkpoint.
        #[arg(long, value_name = "FILE", requires = "checkpoint")]
        trust_root: Option<PathBuf>,
    },
}

/// `cairn checkpoint ...`.
#[derive(Subcommand, Debug)]
pub enum CheckpointCmd {
    /// Sign a checkpoint of the ledger as it stands.
    #[command(
        after_help = "Examples:\n  cairn checkpoint create\n  cairn checkpoint create --out cp.txt"
    )]
    Create {
        /// Write the signed note to FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// The newest checkpoint (a C2SP signed note).
    #[command(
        after_help = "Examples:\n  cairn checkpoint latest\n  cairn checkpoint latest --out cp.txt"
    )]
    Latest {
        /// Write the signed note to FILE.
        #[arg(long, value_name = "FILE")]
        out: Option<PathBuf>,
    },
    /// Every checkpoint, oldest first.
    #[command(after_help = "Examples:\n  cairn checkpoint history --json")]
    History,
    /// Ask witnesses to cosign the newest checkpoint (C2SP tlog-witness add-checkpoint, with
    /// the consistency proof from the size each witness saw last) and store their
    /// cosignatures with it: `checkpoint latest`, tiles exports, bundles and `cairn serve`'s
    /// GET /checkpoint then carry them in the note. A checkpoint of the current ledger is
    /// signed first if there is none.
    #[command(after_help = "\
Examples:
  cairn checkpoint witness --witness http://127.0.0.1:7380 --witness-key 'witness.example/w1+...'
  cairn checkpoint witness --witness https://w1.example --witness https://w2.example \\
      --witness-key \"$(cat w1.vkey)\" --witness-key \"$(cat w2.vkey)\" --json

Only cosignatures that verify under a --witness-key are kept (others are ignored, as C2SP
says). Exit status 0 when every witness cosigned; 1 when some refused or failed (the others'
cosignatures are stored).")]
    Witness {
        /// A witness's URL prefix (repeatable): add-checkpoint is POSTed to URL/add-checkpoint.
        #[arg(long = "witness", value_name = "URL", required = true)]
        witnesses: Vec<String>,
        /// A witness cosigner key, `name+keyid+base64` (repeatable, at least one; `cairn
        /// witness init` prints them). Lines of other keys are ignored.
        #[arg(long = "witness-key", value_name = "VKEY", required = true)]
        witness_keys: Vec<String>,
        /// Seconds to wait for each witness (default 30).
        #[arg(long, default_value_t = 30)]
        timeout: u64,
    },
    /// Prove that a later checkpoint extends an earlier one (both notes verified).
    #[command(after_help = "\
Examples:
  cairn checkpoint consistency                    the previous checkpoint against the newest
  cairn checkpoint consistency --from 1 --to 12")]
    Consistency {
        /// Size of the older checkpoint (default: the one before the newest).
        #[arg(long)]
        from: Option<u64>,
        /// Size of the newer checkpoint (default: the newest).
        #[arg(long)]
        to: Option<u64>,
    },
}

/// `cairn witness ...`.
#[derive(Subcommand, Debug)]
pub enum WitnessCmd {
    /// Create a witness in DIR: its key file (Ed25519 and ML-DSA-44 seeds, mode 0600) and a
    /// configuration to complete with the logs it follows; prints its cosigner keys (vkeys).
    #[command(after_help = "\
Examples:
  cairn witness init /var/lib/cairn-witness --name witness.example/w1
  cairn witness init ./w1 --name witness.example/w1 \\
      --log-origin registry.example/log --log-key 'registry.example/log+1234abcd+AQ...'

Give the printed vkeys to the verifiers (their witness policy) and to `cairn checkpoint witness
--witness-key`.")]
    Init {
        /// The witness's directory (created if missing; refused if it already holds a key).
        dir: PathBuf,
        /// The witness's name: the key name of its cosignature lines (e.g. witness.example/w1).
        #[arg(long)]
        name: String,
        /// The origin of a log to follow (with --log-key); more logs go in the configuration.
        #[arg(long, requires = "log_keys")]
        log_origin: Option<String>,
        /// A signed-note verifier key of that log (repeatable; `cairn checkpoint latest --json`
        /// prints them as note_verifier_keys).
        #[arg(long = "log-key", value_name = "VKEY", requires = "log_origin")]
        log_keys: Vec<String>,
        /// Where the witness listens (written to the configuration).
        #[arg(long, default_value = "127.0.0.1:7380")]
        address: String,
    },
    /// Run the witness until SIGINT or SIGTERM: POST /add-checkpoint (C2SP tlog-witness).
    #[command(after_help = "\
Examples:
  cairn witness serve --config /var/lib/cairn-witness/witness.toml
  CAIRN_LOG=debug cairn witness serve --config ./w1/witness.toml

Logs go to stderr (filter with CAIRN_LOG).")]
    Serve {
        /// The witness's TOML configuration (docs/WITNESS.md).
        #[arg(long, value_name = "FILE")]
        config: PathBuf,
    },
}

/// `cairn proof ...`.
#[derive(Subcommand, Debug)]
pub enum ProofCmd {
    /// Inclusion proof of an entry (checked against the root before it is printed).
    #[command(after_help = "\
Examples:
  cairn proof inclusion 3                under the newest checkpoint covering entry 3
  cairn proof inclusion 3 --size 10 --json")]
    Inclusion {
        /// Entry sequence number.
        seq: u64,
        /// Tree size (default: the newest checkpoint's, else the whole ledger).
        #[arg(long)]
        size: Option<u64>,
    },
    /// Consistency proof between two tree sizes (checked before it is printed).
    #[command(
        after_help = "Examples:\n  cairn proof consistency 4\n  cairn proof consistency 4 12 --json"
    )]
    Consistency {
        /// The older size.
        old: u64,
        /// The newer size (default: the whole ledger).
        new: Option<u64>,
    },
    /// Revocation-map proof of a key, token or manifest under the signed head: revoked (by
    /// which entry) or not, checked against the head's cairn.revocations line.
    #[command(after_help = "\
Examples:
  cairn proof revocation token 5be1…          (a token's id, 64 hex digits)
  cairn proof revocation key 3f2a… --json     the proof (base64) and the signed head's note

A verifier checks it offline: the note's signature by the log key, then the proof against the
note's cairn.revocations line (cairn-core revocation::verify_*, npm verifyNotRevoked).")]
    Revocation {
        /// What was (or was not) revoked: key, token or manifest.
        kind: String,
        /// Its id: a key id, a token id or a manifest digest (64 hex digits).
        id: String,
    },
}

/// Where `cairn handle` finds the service.
#[derive(Args, Debug, Clone)]
pub struct ServerOpts {
    /// The cairn service's base URL (http:// or https://), e.g. http://127.0.0.1:8080.
    #[arg(long, value_name = "URL")]
    pub server: String,
    /// Seconds to wait for each request to the service.
    #[arg(long, value_name = "SECONDS", default_value_t = 30)]
    pub timeout: u64,
}

/// How much proof of work `cairn handle resolve|check` does when the service asks for it.
#[derive(Args, Debug, Clone)]
pub struct PowOpts {
    /// Refuse a challenge asking for more leading zero bits than this (each bit doubles the
    /// work; 24 bits is about 16 million SHA-256 hashes).
    #[arg(long, value_name = "BITS", default_value_t = 24)]
    pub max_pow_difficulty: u8,
}

/// An envelope suite (docs/FORMATS.md section 19).
#[derive(ValueEnum, Clone, Copy, Debug, PartialEq, Eq)]
pub enum SuiteArg {
    /// X25519 (suite 1; what seed 003's registries speak).
    X25519,
    /// X-Wing: ML-KEM-768 + X25519, post-quantum hybrid (suite 2).
    Xwing,
}

impl SuiteArg {
    /// The core suite.
    pub fn suite(self) -> cairn_core::handle::Suite {
        match self {
            SuiteArg::X25519 => cairn_core::handle::Suite::X25519ChaCha20Poly1305,
            SuiteArg::Xwing => cairn_core::handle::Suite::XWingChaCha20Poly1305,
        }
    }
}

/// `cairn handle key ...`: envelope keys sealed in the local registry.
#[derive(Subcommand, Debug)]
pub enum HandleKeyCmd {
    /// Generate an envelope key and seal it in the registry (under the key passphrase), for
    /// `cairn serve`'s `[envelope] keys = [{ sealed_kid_hex = "...", active = true }]`.
    #[command(after_help = "\
Examples:
  cairn handle key generate
  cairn handle key generate --suite xwing --json

The private key never leaves the registry file, where it is sealed like a signing key
(Argon2id + XChaCha20-Poly1305 under the key passphrase: --key-passphrase-file,
CAIRN_KEY_PASSPHRASE, or asked on a terminal; --insecure-no-passphrase stores it in the
clear, for tests). cairn serve opens it with the same passphrase.")]
    Generate {
        /// The suite.
        #[arg(long, value_enum, default_value = "x25519")]
        suite: SuiteArg,
    },
    /// List the envelope keys sealed in the registry (kid, suite, public key).
    #[command(after_help = "\
Examples:
  cairn handle key list
  cairn handle key list --json          envelope_keys: kid_hex, suite, public_key_hex, ...")]
    List,
}

/// `cairn handle ...`.
#[derive(Subcommand, Debug)]
pub enum HandleCmd {
    /// Register a handle: the identity (a JSON object) is sealed to the service's envelope
    /// key (GET /envelope_pubkey) for the normalised handle, then sent (POST /register).
    #[command(after_help = "\
Examples:
  cairn handle register alice --identity alice.json --server http://127.0.0.1:8080
  echo '{\"device_pubkey\":\"ab12...\"}' | cairn handle register Alice --identity - --server https://reg.example
  cairn handle register alice --identity alice.json --server https://reg.example --json

The identity's \"handle\" member must name the same handle (after normalisation); when it has
none, the normalised handle is added. The identity is sent as compact JSON, so registering
the same file again is \"unchanged\". Exit status 0: registered or unchanged; 1: the handle is
registered to another identity (already_exists) or the service refused the envelope; 2: usage,
input or network error.")]
    Register {
        /// The handle (normalised first: trimmed, NFKC, lowercased; 3 to 32 of a-z 0-9 . _ -).
        handle: String,
        /// The identity: a JSON object of at most 16384 bytes (`-`: stdin).
        #[arg(long, value_name = "FILE")]
        identity: PathBuf,
        /// Seal with this suite (the service's active key of it: GET
        /// /envelope_pubkey?suite=...); xwing is post-quantum.
        #[arg(long, value_enum, default_value = "x25519")]
        suite: SuiteArg,
        #[command(flatten)]
        server: ServerOpts,
    },
    /// Resolve a handle: the service seals its answer to a fresh ephemeral key (POST
    /// /resolve); prints the identity and the devices present, or that it is not registered.
    #[command(after_help = "\
Examples:
  cairn handle resolve alice --server http://127.0.0.1:8080
  cairn handle resolve alice --server https://reg.example --json | jq .identity

When the service requires a proof of work (403 pow_required), a challenge is fetched from GET
/pow/challenge, solved and sent in the X-Pow-Solution header. A missing handle is not an error:
\"not found\" (\"found\": false), exit 0. Exit 1: the answer does not open (a tampered or
misdirected envelope) or a proof of work was refused; 2: usage, input or network error.")]
    Resolve {
        /// The handle.
        handle: String,
        /// The suite of the ephemeral key the answer is sealed to (xwing: post-quantum).
        #[arg(long, value_enum, default_value = "x25519")]
        suite: SuiteArg,
        #[command(flatten)]
        server: ServerOpts,
        #[command(flatten)]
        pow: PowOpts,
    },
    /// Whether a handle is registered (GET /check_user/{handle}).
    #[command(after_help = "\
Examples:
  cairn handle check alice --server http://127.0.0.1:8080
  cairn handle check alice --server https://reg.example --json | jq .exists

Exit status 0 whether or not the handle exists (\"exists\" in --json); a proof of work is solved
when the service asks for one, as for resolve.")]
    Check {
        /// The handle.
        handle: String,
        #[command(flatten)]
        server: ServerOpts,
        #[command(flatten)]
        pow: PowOpts,
    },
    /// Envelope keys sealed in the local registry, for `cairn serve` (generate, list).
    #[command(subcommand)]
    Key(HandleKeyCmd),
}

/// `cairn serve`.
#[derive(Args, Debug)]
pub struct ServeArgs {
    /// The TOML configuration (docs/SERVICE.md); without it, every default.
    #[arg(long, value_name = "FILE")]
    pub config: Option<PathBuf>,
}

/// `cairn tiles ...`.
#[derive(Subcommand, Debug)]
pub enum TilesCmd {
    /// Write the ledger's Merkle tree as C2SP tlog-tiles static files (tile/<L>/<N>, entry
    /// bundles tile/entries/<N>, and checkpoint), incrementally: only the tiles that changed
    /// since the checkpoint already in DIR. The checkpoint is written last, so a reader never
    /// sees a checkpoint whose tiles are missing.
    #[command(after_help = "\
Examples:
  cairn tiles export /var/www/log          then serve /var/www/log with any static web server
  cairn tiles export ./tiles --json
  cairn tiles export /var/www/log --check  compare every tile with the registry's, rewrite what differs")]
    Export {
        /// The directory to write (created if missing).
        dir: PathBuf,
        /// Compare every tile of DIR's checkpoint, and the partial tiles of the registry's
        /// checkpoints below it, with the registry's bytes, and write again each that differs
        /// (a copy damaged in place); reads the whole tree.
        #[arg(long)]
        check: bool,
    },
    /// Verify a tiled log from its static files alone: its checkpoint's signature, its root
    /// recomputed from the tiles, entries with their inclusion proofs, and consistency with
    /// an older checkpoint.
    #[command(after_help = "\
Examples:
  cairn tiles verify https://log.example.org/tiles --trust-root root.json
  cairn tiles verify ./tiles --log-key log.pub.pem --entry 0 --entry 41
  cairn tiles verify ./tiles --log-key log.pub.pem --old-checkpoint cp-yesterday.txt

Exit status 0: verified; 1: verification failed; 2: usage, input or network error.")]
    Verify {
        /// The log's prefix: an http(s) URL or a directory.
        source: String,
        #[command(flatten)]
        proofs: TileProofArgs,
    },
}

/// What a tiled log is checked against, and what to prove from its tiles (`cairn tiles
/// verify`, `cairn verify --from-tiles`).
#[derive(Args, Debug, Default)]
pub struct TileProofArgs {
    /// The public key that signs the log's checkpoints (PEM or JSON).
    #[arg(long, value_name = "FILE", conflicts_with = "trust_root")]
    pub log_key: Option<PathBuf>,
    /// A pinned trust root of the log; its checkpoint keys may sign the checkpoint.
    #[arg(long, value_name = "FILE")]
    pub trust_root: Option<PathBuf>,
    /// The log's origin (default: the trust root's, else the checkpoint's own first line).
    #[arg(long)]
    pub origin: Option<String>,
    /// Fetch entry N from its entry bundle and prove it included (repeatable).
    #[arg(long = "entry", value_name = "N")]
    pub entries: Vec<u64>,
    /// An older checkpoint of the same log: prove the current one extends it.
    #[arg(long, value_name = "FILE")]
    pub old_checkpoint: Option<PathBuf>,
}

impl TileProofArgs {
    /// Whether any of these options is given.
    pub fn any(&self) -> bool {
        self.log_key.is_some()
            || self.trust_root.is_some()
            || self.origin.is_some()
            || !self.entries.is_empty()
            || self.old_checkpoint.is_some()
    }
}

/// `cairn bundle ...`.
// Parsed once per process: the size of `Verify`'s options costs nothing worth a Box.
#[allow(clippy::large_enum_variant)]
#[derive(Subcommand, Debug)]
pub enum BundleCmd {
    /// Export the bundle of a token or a manifest (a checkpoint is signed first if none
    /// covers it yet).
    #[command(after_help = "\
Examples:
  cairn bundle export --manifest 3f2a --out app.bundle --trust-root-out root.json
  cairn bundle export --token 5be1 --out token.bundle")]
    #[command(group(ArgGroup::new("subject").required(true).args(["token", "manifest"])))]
    Export {
        /// A token (id or prefix).
        #[arg(long)]
        token: Option<String>,
        /// A manifest (digest or prefix).
        #[arg(long)]
        manifest: Option<String>,
        /// Output file.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Also write the newest trust root (DSSE JSON) to FILE.
        #[arg(long, value_name = "FILE")]
        trust_root_out: Option<PathBuf>,
    },
    /// Move a bundle to the registry's newest checkpoint: a newer checkpoint, the consistency
    /// proof from the bundle's, the entry's inclusion under it and new non-revocation proofs
    /// (the "refresh pieces"). The subject and its entry are kept; the pieces are checked to
    /// fit them (same log, a tree that extends the bundle's, the same entry). Signatures are
    /// checked by `cairn bundle verify` afterwards, as for any bundle.
    #[command(after_help = "\
Examples:
  cairn bundle refresh app.bundle --out app.fresh.bundle
  cairn bundle refresh app.bundle --from https://registry.example --out app.fresh.bundle
  cairn bundle refresh app.bundle --pieces app.pieces --out app.fresh.bundle
  cairn bundle refresh app.bundle --out app.fresh.bundle --pieces-out app.pieces

The pieces come from the local registry (default; it signs a checkpoint of the whole log first
when its newest one is older), from a cairn service (--from URL: GET
/api/v1/bundles/{token|manifest}/ID/refresh?from=SIZE&leaf=SEQ), or from a file (--pieces).
Exit status 0: refreshed; 1: the pieces do not fit (e.g. revoked since, a fork, a wrong
proof); 2: unreadable input, or a service that does not answer (io).")]
    Refresh {
        /// The bundle file to refresh (version 1 or 2).
        bundle: PathBuf,
        /// Output file for the refreshed (version 2) bundle.
        #[arg(long, value_name = "FILE")]
        out: PathBuf,
        /// Fetch the pieces from a cairn service at this base URL (http:// or https://).
        #[arg(long, value_name = "URL", conflicts_with = "pieces")]
        from: Option<String>,
        /// Read the pieces from FILE (`CRFP`, as --pieces-out or the service write them).
        #[arg(long, value_name = "FILE")]
        pieces: Option<PathBuf>,
        /// Also write the pieces to FILE (for a verifier elsewhere: the npm package's
        /// refreshBundle takes them).
        #[arg(long, value_name = "FILE")]
        pieces_out: Option<PathBuf>,
        /// Seconds to wait for the service (--from).
        #[arg(long, value_name = "SECONDS", default_value_t = 30)]
        timeout: u64,
    },
    /// Verify a bundle offline: needs only the bundle, a pinned trust-root file and, for a
    /// manifest, the artifact. No registry is opened.
    #[command(after_help = "\
Examples:
  cairn bundle verify app.bundle --trust-root root.json --artifact ./app.tar.gz
  cairn bundle verify token.bundle --trust-root root.json --audience svc.example --capability read
  cairn bundle verify token.bundle --trust-root root.json --revoked 5be1... --at 2030-01-01T00:00:00Z
  cairn bundle verify app.bundle --trust-root root.json --last-seen seen.checkpoint --update-last-seen

Freshness: with --last-seen (a checkpoint note this verifier accepted before) a bundle whose
checkpoint is smaller is refused (replayed), and one of the same size with another root is
refused as a split view (proof_invalid); --min-size N refuses checkpoints smaller than N.

Revocation: a version 2 bundle proves that the object, its signers' keys and a token's
ancestors are not revoked as of its checkpoint (\"not revoked as of checkpoint N\"); a
revocation logged after that checkpoint is not covered: --max-age SECONDS bounds how old the
checkpoint may be (stale otherwise).

Exit status 0: verified; 1: verification failed (the reason is printed); 2: unreadable input.")]
    Verify {
        /// The bundle file.
        bundle: PathBuf,
        /// The pinned trust root (DSSE JSON or compact).
        #[arg(long, value_name = "FILE")]
        trust_root: PathBuf,
        /// The artifact a manifest bundle describes: a regular file, or `-` for stdin.
        #[arg(long, value_name = "FILE")]
        artifact: Option<PathBuf>,
        /// Largest artifact accepted, e.g. 500M, 8G (default: any size for a regular
        /// file, 4G for stdin).
        #[arg(long, value_name = "SIZE", value_parser = parse_size, requires = "artifact")]
        max_size: Option<u64>,
        /// Required token audience.
        #[arg(long)]
        audience: Option<String>,
        /// Required token capability.
        #[arg(long)]
        capability: Option<String>,
        /// A revoked token id (64 hex digits; repeat).
        #[arg(long = "revoked", value_name = "TOKEN_ID")]
        revoked: Vec<String>,
        /// Verify at this time (Unix seconds or YYYY-MM-DDTHH:MM:SSZ) instead of now.
        #[arg(long)]
        at: Option<String>,
        /// Accept a checkpoint signed by classical (Ed25519-only) keys.
        #[arg(long)]
        allow_classical_checkpoint: bool,
        /// The newest checkpoint this verifier accepted before (a checkpoint note, signed or
        /// bare): refuse an older checkpoint (replayed) or another root at its size
        /// (proof_invalid).
        #[arg(long, value_name = "CHECKPOINT_FILE", conflicts_with = "min_size")]
        last_seen: Option<PathBuf>,
        /// Refuse a bundle whose checkpoint is smaller than N entries (replayed).
        #[arg(long, value_name = "N")]
        min_size: Option<u64>,
        /// After a successful verification, write the bundle's checkpoint to the --last-seen
        /// file when it is newer (a missing file is then created, not an error).
        #[arg(long, requires = "last_seen")]
        update_last_seen: bool,
        /// Refuse a bundle whose checkpoint is older than this many seconds (stale); the
        /// checkpoint's time is that of its newest entry, which a version 2 bundle carries.
        /// A version 1 bundle has no such time and is refused whenever this is given.
        #[arg(long, value_name = "SECONDS")]
        max_age: Option<u64>,
        /// A witness whose cosignature of the bundle's checkpoint counts (its vkey, as
        /// `cairn witness init` writes it; repeat). With any, the checkpoint must be cosigned
        /// by --witness-quorum of them (default: all).
        #[arg(long = "witness-key", value_name = "VKEY")]
        witness_keys: Vec<String>,
        /// How many of the --witness-key witnesses must have cosigned (k of n).
        #[arg(long, value_name = "K", requires = "witness_keys")]
        witness_quorum: Option<usize>,
        /// Oldest cosignature that counts, in seconds before the verification time.
        #[arg(long, value_name = "SECONDS", requires = "witness_keys")]
        witness_max_age: Option<u64>,
    },
}
