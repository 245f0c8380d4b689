#!/usr/bin/env node
// cairn-verify (the built npm package, both backends: the native addon and WebAssembly) against
// other JavaScript verifiers, in one Node process: capability-token verification, bare
// Ed25519, batches of Ed25519 signatures, ML-DSA-44/65, streamed SHA-256, cold start, module
// sizes. Prints Markdown tables with each figure's ratio to cairn's and to
// the best peer, then the targets cairn is held to.
//
//   node benches/js/run.mjs            full run (70 s on a 2-core machine)
//   node benches/js/run.mjs --quick    every operation a handful of times, figures meaningless:
//                                      checks that each verifier still accepts its input (CI)
//   options: --ms N (time per contender and operation, default 2000), --rounds N (default 9),
//            --json FILE (raw figures), --no-native (skip cairn's native timing), --no-cold,
//            --only token,ed25519,batch,ml-dsa-44,ml-dsa-65,peer,sha256,revocation,pow (some
//            operations only)
//   --smoke and CAIRN_BENCH_SMOKE=1 mean --quick.
//
// Needs: scripts/build-wasm.sh run (node-bindings/pkg), and `npm ci` in benches/js (the peers);
// scripts/build-native.sh for the native backend's rows (left out, and said so, without it).
// Both backends are loaded side by side (the wasm glue and the .node file the package would
// load); the cold starts import the package itself with CAIRN_VERIFY_BACKEND set.
// The revocation group verifies revocation-map proofs of maps of 10^3, 10^5 and 10^6 revoked
// objects, built natively by the `revocation_proofs` example of cairn-wasm (a 10^6 map takes
// minutes in JavaScript, about two in Rust): its output is kept in
// target/bench-js/revocation-proofs-<sizes>.json and made when missing.
// Native figures come from the `native_verify` example of cairn-wasm (release build), fed the
// same keys, messages and signatures and run as one more contender, a slice per round (built
// here unless --quick, where it is used only if already built).
//
// Method: contenders of one operation run interleaved, in rounds (a slice of each per round),
// so a noisy neighbour on a shared machine slows them alike; each is warmed up first (V8 compiles
// wasm with Liftoff and tiers hot functions up to TurboFan). The figure is the median per-call
// time of the rounds; the best round is shown beside it. Only node: built-ins are imported
// statically, so a cold-start child process loads nothing but the library it measures.
import { spawnSync } from 'node:child_process';
import crypto from 'node:crypto';
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import { createRequire } from 'node:module';
import os from 'node:os';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import zlib from 'node:zlib';

const here = dirname(fileURLToPath(import.meta.url));
const repo = join(here, '..', '..');
const requireHere = createRequire(import.meta.url);

// The two backends of cairn-verify, as the package loads them (lib/backend.cjs).
const TRIPLE = process.platform === 'linux' ? `linux-${process.arch}-gnu` : `${process.platform}-${process.arch}`;
const NATIVE_ADDON = join(repo, 'node-bindings', 'npm', TRIPLE, `cairn-verify.${TRIPLE}.node`);
const BACKENDS = existsSync(NATIVE_ADDON) ? ['native', 'wasm'] : ['wasm'];
const BATCH_SIZES = [1, 16, 256];
/** The package's functions on one backend; a cold-start child imports the package itself. */
async function cairnApi(backend) {
  if (opts.cold) {
    const c = await import('cairn-verify');
    if (c.backend() !== backend) throw new Error(`cold start: backend ${c.backend()}, not ${backend}`);
    return c;
  }
  if (backend === 'native') return requireHere(NATIVE_ADDON);
  // The wasm backend as the package assembles it: Ed25519's equation through node:crypto for a
  // key's first use (then through the key's precomputed multiples in the module).
  if (backend === 'wasm') return requireHere(join(repo, 'node-bindings/lib/backend.cjs')).wasmApi();
  // 'wasm-dalek': a second instance of the module, as browsers have it: no node:crypto, so a
  // key's first use is verified by ed25519-dalek in wasm.
  if (!dalekInstance) {
    const glue = requireHere.resolve(join(repo, 'node-bindings/pkg/node/cairn_wasm.js'));
    const cached = requireHere.cache[glue];
    delete requireHere.cache[glue];
    dalekInstance = requireHere(glue);
    if (cached) requireHere.cache[glue] = cached;
  }
  return dalekInstance;
}
let dalekInstance = null;

// ---------------------------------------------------------------------------------------------
// Arguments

function parseArgs(argv) {
  const o = { quick: process.env.CAIRN_BENCH_SMOKE === '1', ms: 2000, rounds: 9, json: null, native: true, cold: null, only: null, coldStart: true };
  for (let i = 0; i < argv.length; i++) {
    const a = argv[i];
    if (a === '--quick' || a === '--smoke') o.quick = true;
    else if (a === '--ms') o.ms = Number(argv[++i]);
    else if (a === '--rounds') o.rounds = Number(argv[++i]);
    else if (a === '--json') o.json = argv[++i];
    else if (a === '--no-native') o.native = false;
    else if (a === '--no-cold') o.coldStart = false;
    else if (a === '--only') o.only = argv[++i].split(',');
    else if (a === '--cold') o.cold = argv[++i];
    else if (a === '--help' || a === '-h') {
      const lines = readFileSync(fileURLToPath(import.meta.url), 'utf8').split('\n').slice(1);
      console.log(lines.slice(0, lines.findIndex((l) => !l.startsWith('//'))).join('\n'));
      process.exit(0);
    } else throw new Error(`unknown argument ${a}`);
  }
  if (!(o.ms > 0) || !(o.rounds >= 1)) throw new Error('--ms and --rounds must be positive');
  return o;
}

const opts = parseArgs(process.argv.slice(2));

// ---------------------------------------------------------------------------------------------
// Fixtures: fixed seeds, so every run verifies the same bytes.

const b64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
const toB64 = (u8) => Buffer.from(u8).toString('base64');
const TOKEN_CASE = 'valid_root_ed25519';
const MESSAGE = new Uint8Array(256).map((_, i) => (i * 37 + 11) & 0xff);
const CONTEXT = new TextEncoder().encode('application/vnd.cairn.bench.v1');

/** Ed25519 private key from a 32-byte seed (PKCS#8 is a fixed prefix and the seed). */
function ed25519FromSeed(seed) {
  const der = Buffer.concat([Buffer.from('302e020100300506032b657004220420', 'hex'), Buffer.from(seed)]);
  const privateKey = crypto.createPrivateKey({ key: der, format: 'der', type: 'pkcs8' });
  const publicKey = crypto.createPublicKey(privateKey);
  const raw = b64(publicKey.export({ format: 'jwk' }).x.replace(/-/g, '+').replace(/_/g, '/'));
  return { privateKey, publicKey, raw };
}

/** The serialisable fixtures (also handed to the cold-start child processes). */
async function makeFixtures() {
  const vectors = JSON.parse(readFileSync(join(repo, 'tests/vectors/token.json'), 'utf8'));
  const tc = vectors.cases.find((c) => c.name === TOKEN_CASE);
  if (!tc || !tc.expect.ok) throw new Error(`tests/vectors/token.json: no valid case ${TOKEN_CASE}`);
  const issuer = tc.args.trusted_issuers.find((k) => k.algorithm === 'ed25519');
  const claims = (await import('cairn-verify')).inspect(b64(tc.args.token)).decoded;

  // Bare Ed25519: a 256-byte message.
  const ed = ed25519FromSeed(new Uint8Array(32).fill(0x2a));
  const edSig = crypto.sign(null, MESSAGE, ed.privateKey);
  // 256 keys, each signing the same message: cycled through, no key comes back before 255
  // others, so none is prepared (the wasm module prepares a key at its third use among the
  // last 64 seen): what verifying a key seen for the first time costs.
  const fresh = Array.from({ length: 256 }, (_, i) => {
    const k = ed25519FromSeed(new Uint8Array(32).map((_, j) => (i * 31 + j * 7 + 1) & 0xff));
    return { publicKey: toB64(k.raw), signature: toB64(crypto.sign(null, MESSAGE, k.privateKey)) };
  });
  // A batch: 256 messages of 256 bytes by one key (a server checking one issuer's tokens).
  const batch = Array.from({ length: Math.max(...BATCH_SIZES) }, (_, i) => {
    const m = MESSAGE.map((b, j) => (b + i * 7 + j * (i & 3)) & 0xff);
    return { message: toB64(m), signature: toB64(crypto.sign(null, m, ed.privateKey)) };
  });

  // ML-DSA: keys from fixed seeds, deterministic signatures with a FIPS 204 context.
  const { ml_dsa44, ml_dsa65 } = await import('@noble/post-quantum/ml-dsa.js');
  const mldsa = {};
  for (const [name, impl, fill] of [['ml-dsa-44', ml_dsa44, 0x44], ['ml-dsa-65', ml_dsa65, 0x65]]) {
    const keys = impl.keygen(new Uint8Array(32).fill(fill));
    const sig = impl.sign(MESSAGE, keys.secretKey, { context: CONTEXT, extraEntropy: false });
    mldsa[name] = { publicKey: toB64(keys.publicKey), signature: toB64(sig) };
  }

  // A JWT with the same claims as the cairn token, signed EdDSA by its own Ed25519 key.
  const jose = await import('jose');
  const jwtKey = ed25519FromSeed(new Uint8Array(32).fill(0x4a));
  const jwt = await new jose.SignJWT({
    cap: claims.capabilities,
    cnf: { kid: claims.holder_key_id },
    constraints: claims.constraints,
  })
    .setProtectedHeader({ alg: 'EdDSA' })
    .setIssuer(claims.issuer)
    .setSubject(claims.holder_key_id)
    .setAudience(claims.audience)
    .setNotBefore(claims.not_before)
    .setExpirationTime(claims.expires_at)
    .setJti(claims.nonce)
    .sign(jwtKey.privateKey);

  // A biscuit with the same facts, sealed by an Ed25519 root key.
  const biscuit = await biscuitModule();
  const rootPriv = biscuit.PrivateKey.fromBytes(new Uint8Array(32).fill(0x5b), biscuit.SignatureAlgorithm.Ed25519);
  const root = biscuit.KeyPair.fromPrivateKey(rootPriv);
  const builder = biscuit.Biscuit.builder();
  const iso = (t) => new Date(t * 1000).toISOString().replace('.000Z', 'Z');
  builder.addCode(
    [
      `issuer("${claims.issuer}");`,
      `holder("${claims.holder_key_id}");`,
      `audience("${claims.audience}");`,
      ...claims.capabilities.map((c) => `right("${c}");`),
      `max_size(${claims.constraints.max_size.max});`,
      `repo_prefix("${claims.constraints.repo.prefix}");`,
      ...claims.constraints.region.one_of.map((r) => `region("${r}");`),
      `check if time($t), $t >= ${iso(claims.not_before)}, $t < ${iso(claims.expires_at)};`,
    ].join('\n'),
  );
  const bisc = builder.build(root.getPrivateKey());

  // Peer keys: a KeyResponse in its key-transparency bundle and a compact one, from
  // tests/vectors/peer.json; @noble/post-quantum and @noble/ed25519 do the same signature checks
  // (same algorithms, same message lengths) with keys of their own.
  const peerVectors = JSON.parse(readFileSync(join(repo, 'tests/vectors/peer.json'), 'utf8'));
  const inBundle = peerVectors.cases.find((c) => c.name === 'vouch_transparency');
  const pinned = peerVectors.cases.find((c) => c.name === 'vouch_pinned');
  if (!inBundle?.expect.ok || !pinned?.expect.ok) throw new Error('tests/vectors/peer.json: vouch cases missing');
  const { inspect, verifyKeyResponse } = await import('cairn-verify');
  const subject = inspect(b64(inBundle.args.message)).subject;
  const lengths = {
    // PAE adds the payload type and two lengths to the payload.
    response: subject.payload_size + subject.payload_type.length + 16,
    checkpoint: 100,
  };
  const nobleSigned = {};
  const nobleEd = await import('@noble/ed25519');
  nobleEd.hashes.sha512 = (await import('@noble/hashes/sha2.js')).sha512;
  for (const [part, len, pq] of [['response', lengths.response, ml_dsa65], ['checkpoint', lengths.checkpoint, ml_dsa44]]) {
    const msg = new Uint8Array(len).map((_, i) => (i * 131 + len) & 0xff);
    const edSeed = new Uint8Array(32).fill(len & 0xff);
    const pqKeys = pq.keygen(new Uint8Array(32).fill((len >> 3) & 0xff));
    nobleSigned[part] = {
      message: toB64(msg),
      ed: { publicKey: toB64(await nobleEd.getPublicKeyAsync(edSeed)), signature: toB64(await nobleEd.signAsync(msg, edSeed)) },
      pq: { publicKey: toB64(pqKeys.publicKey), signature: toB64(pq.sign(msg, pqKeys.secretKey, { context: CONTEXT, extraEntropy: false })) },
    };
  }
  const peer = {
    bundle: inBundle.args.message,
    compact: pinned.args.message,
    me: inBundle.args.me,
    now: inBundle.args.now,
    logRoot: inBundle.args.policy.log_roots[0],
    pinnedKeyId: pinned.args.policy.pinned_key_id,
    kemKey: verifyKeyResponse(b64(pinned.args.message), pinned.args.me, { now: pinned.args.now }).kem_key,
    noble: nobleSigned,
  };

  return {
    peer,
    now: tc.args.now,
    token: {
      cairn: tc.args.token,
      issuer: { algorithm: 'ed25519', publicKey: issuer.public_key },
      audience: tc.args.audience,
      capability: tc.args.capability,
      claims,
      jwt,
      jwtPublicJwk: jwtKey.publicKey.export({ format: 'jwk' }),
      biscuit: toB64(bisc.toBytes()),
      biscuitRoot: root.getPublicKey().toString(),
    },
    ed25519: { publicKey: toB64(ed.raw), signature: toB64(edSig) },
    ed25519Fresh: fresh,
    batchKey: toB64(ed.raw),
    batch,
    mldsa,
    message: toB64(MESSAGE),
    context: toB64(CONTEXT),
  };
}

// ---------------------------------------------------------------------------------------------
// Contenders: each builder loads its library and returns a function that verifies once and
// throws unless the input was accepted (so a broken build cannot look fast).

function must(ok, what) {
  if (!ok) throw new Error(`${what}: verification failed`);
}

// Revocation-map sizes (see revocationBuilders).
const REVOCATION_SIZES = [1_000, 100_000, 1_000_000];
const revocationSizes = () => (opts.quick ? [1_000] : REVOCATION_SIZES);
let revocationFixture = null;

const builders = {
  ...perBackend('cairn-token', async (cairn, fx) => {
    const token = b64(fx.token.cairn);
    const issuers = [{ algorithm: fx.token.issuer.algorithm, publicKey: b64(fx.token.issuer.publicKey) }];
    const options = { now: fx.now, audience: fx.token.audience, capability: fx.token.capability };
    return () => must(cairn.verifyToken(token, issuers, options).valid === true, 'cairn verifyToken');
  }),
  async 'jose-jwt'(fx) {
    const jose = await import('jose');
    const key = await jose.importJWK(fx.token.jwtPublicJwk, 'EdDSA');
    const options = {
      algorithms: ['EdDSA'],
      issuer: fx.token.claims.issuer,
      audience: fx.token.audience,
      currentDate: new Date(fx.now * 1000),
    };
    const { jwt } = fx.token;
    const cap = fx.token.capability;
    const fn = async () => {
      const { payload } = await jose.jwtVerify(jwt, key, options);
      must(payload.cap.includes(cap), 'jose jwtVerify');
    };
    fn.async = true;
    return fn;
  },
  async 'biscuit-parse'(fx) {
    const { Biscuit, PublicKey, SignatureAlgorithm } = await biscuitModule();
    const root = biscuitRoot(PublicKey, SignatureAlgorithm, fx);
    const bytes = b64(fx.token.biscuit);
    return () => {
      const t = Biscuit.fromBytes(bytes, root);
      must(t.countBlocks() === 1, 'biscuit fromBytes');
      t.free();
    };
  },
  async 'biscuit-authorize'(fx) {
    const { Biscuit, PublicKey, SignatureAlgorithm, AuthorizerBuilder } = await biscuitModule();
    const root = biscuitRoot(PublicKey, SignatureAlgorithm, fx);
    const bytes = b64(fx.token.biscuit);
    const policy = biscuitPolicy(fx);
    const fn = (limits) => {
      const t = Biscuit.fromBytes(bytes, root);
      const builder = new AuthorizerBuilder();
      builder.addCode(policy);
      const authorizer = builder.buildAuthenticated(t);
      // authorize() runs under biscuit's default limits (1 ms of Datalog); a run while V8 is
      // still compiling can exceed them.
      const policyIndex = limits ? authorizer.authorizeWithLimits(limits) : authorizer.authorize();
      must(policyIndex === 0, 'biscuit authorize');
      authorizer.free();
      t.free();
    };
    // Quick mode (CI) may run before V8 has compiled biscuit's code: no 1 ms limit there.
    return opts.quick ? () => fn(WIDE_LIMITS) : () => fn();
  },
  async 'node-ed25519'(fx) {
    const key = crypto.createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(b64(fx.ed25519.publicKey)).toString('base64url') },
      format: 'jwk',
    });
    const [msg, sig] = [b64(fx.message), b64(fx.ed25519.signature)];
    return () => must(crypto.verify(null, msg, key, sig), 'node:crypto Ed25519');
  },
  ...perBackend('cairn-ed25519', async (cairn, fx) => {
    const key = { algorithm: 'ed25519', publicKey: b64(fx.ed25519.publicKey) };
    const [msg, sig] = [b64(fx.message), b64(fx.ed25519.signature)];
    return () => must(cairn.verifySignature(key, msg, sig).valid === true, 'cairn Ed25519');
  }),
  ...perBackend('cairn-ed25519-fresh', async (cairn, fx) => {
    const items = fx.ed25519Fresh.map((e) => [{ algorithm: 'ed25519', publicKey: b64(e.publicKey) }, b64(e.signature)]);
    const msg = b64(fx.message);
    let i = 0;
    return () => {
      const [key, sig] = items[i++ % items.length];
      must(cairn.verifySignature(key, msg, sig).valid === true, 'cairn Ed25519, a key seen first');
    };
  }),
  // cairn's strict encoding rules in JavaScript, then OpenSSL's verify (node:crypto): what the
  // wasm backend could hand Ed25519 to in Node (issue item 2: measured, not adopted).
  async 'strict-node-ed25519'(fx) {
    const key = crypto.createPublicKey({
      key: { kty: 'OKP', crv: 'Ed25519', x: Buffer.from(b64(fx.ed25519.publicKey)).toString('base64url') },
      format: 'jwk',
    });
    const raw = b64(fx.ed25519.publicKey);
    const [msg, sig] = [b64(fx.message), b64(fx.ed25519.signature)];
    return () => must(strictEd25519Encoding(raw, sig) && crypto.verify(null, msg, key, sig), 'strict + node:crypto');
  },
  ...Object.fromEntries(
    BATCH_SIZES.flatMap((n) =>
      Object.entries(
        perBackend(`cairn-batch-${n}`, async (cairn, fx) => {
          const items = fx.batch.slice(0, n).map((x) => ({
            publicKey: { algorithm: 'ed25519', publicKey: b64(fx.batchKey) },
            message: b64(x.message),
            signature: b64(x.signature),
          }));
          return () => must(cairn.verifySignatures(items).count === n, `cairn verifySignatures(${n})`);
        }),
      ),
    ),
  ),
  ...Object.fromEntries(
    BATCH_SIZES.flatMap((n) =>
      Object.entries(
        perBackend(`cairn-tokens-${n}`, async (cairn, fx) => {
          const token = b64(fx.token.cairn);
          const tokens = Array.from({ length: n }, () => token);
          const issuers = [{ algorithm: fx.token.issuer.algorithm, publicKey: b64(fx.token.issuer.publicKey) }];
          const options = { now: fx.now, audience: fx.token.audience, capability: fx.token.capability };
          return () => must(cairn.verifyTokens(tokens, issuers, options).count === n, `cairn verifyTokens(${n})`);
        }),
      ),
    ),
  ),
  ...perBackend('cairn-single-x16', async (cairn, fx) => {
    // The same 16 signatures through verifySignature one by one (the batch's reference).
    const items = fx.batch.slice(0, 16).map((x) => [b64(x.message), b64(x.signature)]);
    const key = { algorithm: 'ed25519', publicKey: b64(fx.batchKey) };
    return () => {
      for (const [m, sg] of items) must(cairn.verifySignature(key, m, sg).valid === true, 'cairn Ed25519 x16');
    };
  }),
  async 'noble-ed25519'(fx) {
    const ed = await import('@noble/ed25519');
    const { sha512 } = await import('@noble/hashes/sha2.js');
    ed.hashes.sha512 = sha512;
    const [pk, msg, sig] = [b64(fx.ed25519.publicKey), b64(fx.message), b64(fx.ed25519.signature)];
    // zip215: false is RFC 8032's strict rule set, the one cairn applies.
    return () => must(ed.verify(sig, msg, pk, { zip215: false }), '@noble/ed25519');
  },
  async 'native-ed25519'(fx) {
    return nativeContender(fx, 'ed25519');
  },
  ...mldsaBuilders('ml-dsa-44', 'ml_dsa44'),
  ...mldsaBuilders('ml-dsa-65', 'ml_dsa65'),
  ...hashBuilders(),
  ...peerBuilders(),
  ...revocationBuilders(),
  ...powBuilders(),
};

// ---------------------------------------------------------------------------------------------
// Proof of work (the handle registry's anti-abuse): solvePow over 256 distinct challenges per
// difficulty, cycled, so a call's time averages the luck of the draw (mean 2^difficulty hashes).

const powDifficulties = () => (opts.quick ? [12] : [12, 16, 18]);

function powBuilders() {
  const out = {};
  for (const d of [12, 16, 18]) {
    Object.assign(
      out,
      perBackend(`cairn-pow-${d}`, async (cairn) => {
        const list = Array.from({ length: 256 }, (_, i) =>
          cairn.issuePowChallenge('44'.repeat(32), { nonce: i.toString(16).padStart(32, '0'), difficulty: d, expires: 2 ** 40 }).challenge,
        );
        let i = 0;
        return () => must(cairn.solvePow(list[i++ % list.length], { maxIterations: 2 ** 32 }).counter !== null, 'cairn solvePow');
      }),
    );
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Revocation-map proofs (verifyNotRevoked / verifyRevoked) at 10^3, 10^5, 10^6 revoked objects.


/** The proofs of the `revocation_proofs` example (built and run when its output is missing). */
function revocationProofs() {
  if (revocationFixture) return revocationFixture;
  const sizes = revocationSizes();
  const file = join(repo, 'target', 'bench-js', `revocation-proofs-${sizes.join('-')}.json`);
  if (!existsSync(file)) {
    console.error(`revocation: building maps of ${sizes.join(', ')} revoked objects (cargo run --example revocation_proofs)`);
    // Quick mode (10^3 only) builds in the dev profile, which `cargo test` has already built.
    const profile = opts.quick ? [] : ['--release'];
    const r = spawnSync('cargo', ['run', '--quiet', ...profile, '-p', 'cairn-wasm', '--example', 'revocation_proofs', '--', ...sizes.map(String)], {
      cwd: repo,
      encoding: 'utf8',
      maxBuffer: 64 << 20,
      stdio: ['ignore', 'pipe', 'inherit'],
    });
    if (r.status !== 0) throw new Error(`revocation_proofs example failed (status ${r.status})`);
    mkdirSync(dirname(file), { recursive: true });
    writeFileSync(file, r.stdout);
  }
  revocationFixture = JSON.parse(readFileSync(file, 'utf8'));
  return revocationFixture;
}

/** Size of a proof of the fixture (`absent` or `present`), once it is loaded. */
const proofBytes = (n, which) => revocationFixture?.sizes.find((s) => s.revoked === n)?.[which].bytes ?? '?';

function revocationBuilders() {
  const out = {};
  for (const n of REVOCATION_SIZES) {
    const at = () => revocationProofs().sizes.find((s) => s.revoked === n);
    Object.assign(
      out,
      perBackend(`cairn-not-revoked-${n}`, async (cairn) => {
        const s = at();
        const proof = b64(s.absent.proof);
        return () => must(cairn.verifyNotRevoked(s.root, s.absent.kind, s.absent.id, proof).revoked === false, 'cairn verifyNotRevoked');
      }),
      perBackend(`cairn-revoked-${n}`, async (cairn) => {
        const s = at();
        const proof = b64(s.present.proof);
        return () => must(cairn.verifyRevoked(s.root, s.present.kind, s.present.id, proof).seq === s.present.seq, 'cairn verifyRevoked');
      }),
    );
  }
  return out;
}

/** `name-native` and `name-wasm` builders from one that takes the backend's functions. */
function perBackend(name, build) {
  return Object.fromEntries(
    ['native', 'wasm', 'wasm-dalek'].map((b) => [
      `${name}-${b}`,
      async (fx) => (BACKENDS.includes(b) || b === 'wasm-dalek' ? build(await cairnApi(b), fx) : null),
    ]),
  );
}


/** cairn's Ed25519 encoding rules (crypto/ed25519.rs) in JavaScript: A and R canonical and not
 * of small order, S < L. */
const ED_L = [0xed, 0xd3, 0xf5, 0x5c, 0x1a, 0x63, 0x12, 0x58, 0xd6, 0x9c, 0xf7, 0xa2, 0xde, 0xf9, 0xde, 0x14, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0x10];
const SMALL_ORDER = [
  '0100000000000000000000000000000000000000000000000000000000000000',
  '0100000000000000000000000000000000000000000000000000000000000080',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff7f',
  'ecffffffffffffffffffffffffffffffffffffffffffffffffffffffffffffff',
  '0000000000000000000000000000000000000000000000000000000000000000',
  '0000000000000000000000000000000000000000000000000000000000000080',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac037a',
  'c7176a703d4dd84fba3c0b760d10670f2a2053fa2c39ccc64ec7fd7792ac03fa',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc05',
  '26e8958fc2b227b045c3f489f2ef98f0d5dfac05d3c63339b13802886d53fc85',
].map((h) => Buffer.from(h, 'hex'));
function canonicalY(b) {
  if ((b[31] & 0x7f) !== 0x7f) return true;
  for (let i = 1; i < 31; i++) if (b[i] !== 0xff) return true;
  return b[0] < 0xed;
}
function strictEd25519Encoding(a, sig) {
  if (a.length !== 32 || sig.length !== 64) return false;
  const r = sig.subarray(0, 32);
  for (const p of [a, r]) {
    if (!canonicalY(p)) return false;
    for (const so of SMALL_ORDER) if (so.equals(p)) return false;
  }
  for (let i = 31; i >= 0; i--) {
    const s = sig[32 + i];
    if (s < ED_L[i]) return true;
    if (s > ED_L[i]) return false;
  }
  return false; // S == L
}

function mldsaBuilders(alg, nobleName) {
  return {
    ...perBackend(`cairn-${alg}`, async (cairn, fx) => {
      const key = { algorithm: alg, publicKey: b64(fx.mldsa[alg].publicKey) };
      const [msg, sig, ctx] = [b64(fx.message), b64(fx.mldsa[alg].signature), b64(fx.context)];
      return () => must(cairn.verifySignature(key, msg, sig, ctx).valid === true, `cairn ${alg}`);
    }),
    async [`native-${alg}`](fx) {
      return nativeContender(fx, alg);
    },
    async [`noble-${alg}`](fx) {
      const impl = (await import('@noble/post-quantum/ml-dsa.js'))[nobleName];
      const [pk, msg, sig, ctx] = [b64(fx.mldsa[alg].publicKey), b64(fx.message), b64(fx.mldsa[alg].signature), b64(fx.context)];
      return () => must(impl.verify(sig, msg, pk, { context: ctx }), `@noble/post-quantum ${alg}`);
    },
  };
}

/** ML-KEM-768's encapsulation-key check (FIPS 203 §7.2: ByteEncode12(ByteDecode12(ek)) = ek,
 * i.e. every 12-bit coefficient below q), as @noble/post-quantum's `validateModulus` does it; noble
 * runs it only inside `encapsulate`/`prepare`, so the bench states it on its own. */
function kemModulusCheck(ek) {
  if (ek.length !== 1184) return false;
  for (let i = 0; i < 1152; i += 3) {
    const a = ek[i] | ((ek[i + 1] & 0x0f) << 8);
    const b = (ek[i + 1] >> 4) | (ek[i + 2] << 4);
    if (a >= 3329 || b >= 3329) return false;
  }
  return true;
}

function peerBuilders() {
  return {
    ...perBackend('cairn-peer-bundle', async (cairn, fx) => {
      if (!cairn.verifyKeyResponse) return null;
      const msg = b64(fx.peer.bundle);
      const options = { now: fx.peer.now, logRoots: [{ peer: fx.peer.logRoot.peer, root: b64(fx.peer.logRoot.root) }] };
      return () => must(cairn.verifyKeyResponse(msg, fx.peer.me, options).vouch.rule === 'transparency', 'cairn verifyKeyResponse (bundle)');
    }),
    ...perBackend('cairn-peer-compact', async (cairn, fx) => {
      if (!cairn.verifyKeyResponse) return null;
      const msg = b64(fx.peer.compact);
      const options = { now: fx.peer.now, pinnedKeyId: fx.peer.pinnedKeyId };
      return () => must(cairn.verifyKeyResponse(msg, fx.peer.me, options).vouch.rule === 'pinned', 'cairn verifyKeyResponse (compact)');
    }),
    // The bundle's signature checks with the noble libraries: the response (Ed25519 +
    // ML-DSA-65), the checkpoint (Ed25519 + ML-DSA-44), and the ML-KEM-768 key check. No
    // decoding, no Merkle proof, no policy: a lower bound. The log's trust root is pinned:
    // verified once by either side (cairn-verify remembers the roots it verified by their
    // bytes), so its signature is not checked per call.
    async 'noble-peer-bundle'(fx) {
      return nobleChecks(fx, ['response', 'checkpoint']);
    },
    async 'noble-peer-compact'(fx) {
      return nobleChecks(fx, ['response']);
    },
  };
}

async function nobleChecks(fx, parts) {
  const ed = await import('@noble/ed25519');
  const { sha512 } = await import('@noble/hashes/sha2.js');
  ed.hashes.sha512 = sha512;
  const { ml_dsa44, ml_dsa65 } = await import('@noble/post-quantum/ml-dsa.js');
  const checks = parts.map((part) => {
    const x = fx.peer.noble[part];
    const pq = part === 'response' ? ml_dsa65 : ml_dsa44;
    return [b64(x.message), b64(x.ed.publicKey), b64(x.ed.signature), b64(x.pq.publicKey), b64(x.pq.signature), pq];
  });
  const ctx = b64(fx.context);
  const kem = b64(fx.peer.kemKey);
  return () => {
    for (const [msg, edPk, edSig, pqPk, pqSig, pq] of checks) {
      must(ed.verify(edSig, msg, edPk, { zip215: false }), '@noble/ed25519');
      must(pq.verify(pqSig, msg, pqPk, { context: ctx }), '@noble/post-quantum');
    }
    must(kemModulusCheck(kem), 'ML-KEM-768 key check');
  };
}

/** Streamed SHA-256 of `hashSize` bytes in 1 MiB chunks (the chunk size hashFile reads). */
let hashSize = 64 << 20;
const HASH_CHUNK = 1 << 20;
let hashData = null;
let hashExpect = null;
function hashInput() {
  if (!hashData || hashData.length !== hashSize) {
    hashData = new Uint8Array(hashSize).map((_, i) => (i * 131 + (i >>> 13)) & 0xff);
    hashExpect = crypto.createHash('sha256').update(hashData).digest('hex');
  }
  return hashData;
}
function chunks(data, fn) {
  for (let at = 0; at < data.length; at += HASH_CHUNK) fn(data.subarray(at, at + HASH_CHUNK));
}
function hashBuilders() {
  return {
    async 'cairn-sha256-wasm'() {
      const { WasmArtifactHasher } = await import('cairn-verify');
      const data = hashInput();
      return () => {
        const h = new WasmArtifactHasher();
        chunks(data, (c) => h.update(c));
        const d = h.digest();
        h.free();
        must(d.digest === hashExpect && d.size === data.length, 'cairn WasmArtifactHasher');
      };
    },
    async 'cairn-sha256-node'() {
      const { ArtifactHasher } = await import('cairn-verify');
      const data = hashInput();
      return () => {
        const h = new ArtifactHasher();
        chunks(data, (c) => h.update(c));
        must(h.digest().digest === hashExpect, 'cairn ArtifactHasher');
      };
    },
    async 'node-sha256'() {
      const data = hashInput();
      return () => {
        const h = crypto.createHash('sha256');
        chunks(data, (c) => h.update(c));
        must(h.digest('hex') === hashExpect, 'node:crypto SHA-256');
      };
    },
    async 'noble-sha256'() {
      const { sha256 } = await import('@noble/hashes/sha2.js');
      const data = hashInput();
      return () => {
        const h = sha256.create();
        chunks(data, (c) => h.update(c));
        must(Buffer.from(h.digest()).toString('hex') === hashExpect, '@noble/hashes SHA-256');
      };
    },
  };
}

/** The biscuit root key: the fixture holds "ed25519/<hex>" (PublicKey.toString()). */
function biscuitRoot(PublicKey, SignatureAlgorithm, fx) {
  const hex = fx.token.biscuitRoot.replace(/^ed25519\//, '');
  return PublicKey.fromBytes(new Uint8Array(Buffer.from(hex, 'hex')), SignatureAlgorithm.Ed25519);
}

/** The relying party's side: the time, and the audience and capability it requires. */
function biscuitPolicy(fx) {
  return (
    `time(${new Date(fx.now * 1000).toISOString().replace('.000Z', 'Z')});\n` +
    `allow if right("${fx.token.capability}"), audience("${fx.token.audience}");`
  );
}

/** Biscuit run limits wide enough for a first, uncompiled run. */
const WIDE_LIMITS = { max_facts: 1000, max_iterations: 100, max_time_micro: 10_000_000 };

async function biscuitModule() {
  return (await import('./lib/biscuit.mjs')).loadBiscuit();
}

// ---------------------------------------------------------------------------------------------
// Timing

const now = () => process.hrtime.bigint();

/** Runs `fn` for at least `ns` nanoseconds (and at least `minCalls` times); ns per call. */
async function slice(fn, ns, minCalls = 1) {
  if (fn.external) return fn.external(ns);
  let n = 0;
  const start = now();
  let elapsed = 0;
  if (fn.async) {
    while (elapsed < ns || n < minCalls) {
      await fn();
      n++;
      elapsed = Number(now() - start);
    }
  } else {
    while (elapsed < ns || n < minCalls) {
      fn();
      n++;
      elapsed = Number(now() - start);
    }
  }
  return { perCall: elapsed / n, calls: n };
}

const median = (xs) => {
  const s = [...xs].sort((a, b) => a - b);
  return s.length % 2 ? s[(s.length - 1) / 2] : (s[s.length / 2 - 1] + s[s.length / 2]) / 2;
};

/**
 * Times the contenders of one operation, interleaved. Returns {name: {median, best, calls}}
 * in ns per call.
 */
async function measure(fns) {
  const rounds = opts.quick ? 2 : opts.rounds;
  const sliceNs = opts.quick ? 0 : (opts.ms * 1e6) / rounds;
  const warmNs = opts.quick ? 0 : Math.min(600e6, opts.ms * 0.3e6);
  const per = {};
  for (const [name, fn] of Object.entries(fns)) {
    if (!fn.external) await slice(fn, warmNs, opts.quick ? 1 : 5);
    per[name] = { times: [], calls: 0 };
  }
  for (let r = 0; r < rounds; r++) {
    for (const [name, fn] of Object.entries(fns)) {
      const { perCall, calls } = await slice(fn, sliceNs);
      per[name].times.push(perCall);
      per[name].calls += calls;
    }
  }
  const out = {};
  for (const [name, p] of Object.entries(per)) {
    out[name] = { median: median(p.times), best: Math.min(...p.times), calls: p.calls };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Cold start: a child process per sample, which imports one library, instantiates what it
// needs and verifies once. Node's own start-up is not counted.

const COLD = {
  'cairn-token-native': { label: 'cairn-verify, native backend: import (load the addon), first verifyToken', backend: 'native' },
  'cairn-token-wasm': { label: 'cairn-verify, wasm backend: import (wasm compile + instantiate), first verifyToken', backend: 'wasm' },
  'jose-jwt': { label: 'jose: import, importJWK, first jwtVerify' },
  'biscuit-authorize': { label: 'biscuit-wasm: compile + instantiate, first fromBytes + authorize' },
  'noble-ed25519': { label: '@noble/ed25519: import, first verify' },
  'cairn-ml-dsa-65-native': { label: 'cairn-verify, native backend: import, first ML-DSA-65 verifySignature', backend: 'native' },
  'cairn-ml-dsa-65-wasm': { label: 'cairn-verify, wasm backend: import, first ML-DSA-65 verifySignature', backend: 'wasm' },
  'noble-ml-dsa-65': { label: '@noble/post-quantum: import, first ML-DSA-65 verify' },
};

async function coldChild(name) {
  const fx = JSON.parse(readFileSync(0, 'utf8'));
  const t0 = performance.now();
  let fn;
  if (name === 'biscuit-authorize') {
    // Built by hand so the first authorize gets a time limit it can meet while compiling.
    const { Biscuit, PublicKey, SignatureAlgorithm, AuthorizerBuilder } = await biscuitModule();
    const t1 = performance.now();
    const t = Biscuit.fromBytes(b64(fx.token.biscuit), biscuitRoot(PublicKey, SignatureAlgorithm, fx));
    const builder = new AuthorizerBuilder();
    builder.addCode(biscuitPolicy(fx));
    const idx = builder.buildAuthenticated(t).authorizeWithLimits(WIDE_LIMITS);
    must(idx === 0, 'biscuit authorize');
    const t2 = performance.now();
    process.stdout.write(JSON.stringify({ load: t1 - t0, first: t2 - t1 }));
    return;
  }
  fn = await builders[name](fx);
  const t1 = performance.now();
  await fn();
  const t2 = performance.now();
  process.stdout.write(JSON.stringify({ load: t1 - t0, first: t2 - t1 }));
}

function coldStarts(fx) {
  const samples = opts.quick ? 1 : 7;
  const out = {};
  for (const [name, { backend }] of Object.entries(COLD)) {
    if (backend && !BACKENDS.includes(backend)) continue;
    const loads = [];
    const firsts = [];
    for (let i = 0; i < samples; i++) {
      const r = spawnSync(process.execPath, [fileURLToPath(import.meta.url), '--cold', name], {
        input: JSON.stringify(fx),
        encoding: 'utf8',
        cwd: here,
        env: backend ? { ...process.env, CAIRN_VERIFY_BACKEND: backend } : process.env,
      });
      if (r.status !== 0) throw new Error(`cold start ${name} failed:\n${r.stderr}`);
      const { load, first } = JSON.parse(r.stdout);
      loads.push(load);
      firsts.push(first);
    }
    out[name] = { load: median(loads), first: median(firsts), total: median(loads.map((l, i) => l + firsts[i])) };
  }
  return out;
}

// ---------------------------------------------------------------------------------------------
// Native: cairn's own Rust code on the same inputs (wasm/examples/native_verify.rs), run as one
// more contender of the operation: each round starts the probe for one slice, so the native
// figure sees the same machine load as the wasm one beside it.

let nativeExe = undefined;
/** Path of the native probe, built first in a full run; null (with the reason) when absent. */
function nativeProbe() {
  if (nativeExe !== undefined) return nativeExe;
  nativeExe = null;
  if (!opts.native) return (nativeSkipped = 'skipped (--no-native)'), null;
  const targetDir = process.env.CARGO_TARGET_DIR || join(repo, 'target');
  const exe = join(targetDir, 'release', 'examples', process.platform === 'win32' ? 'native_verify.exe' : 'native_verify');
  if (!opts.quick) {
    console.error('(building the native probe: cargo build --release -p cairn-wasm --example native_verify)');
    const b = spawnSync('cargo', ['build', '--quiet', '--release', '-p', 'cairn-wasm', '--example', 'native_verify'], {
      cwd: repo,
      stdio: ['ignore', 'inherit', 'inherit'],
    });
    if (b.status !== 0) return (nativeSkipped = 'skipped (cargo build of the native_verify example failed)'), null;
  } else if (!existsSync(exe)) {
    return (nativeSkipped = 'skipped in quick mode (the native_verify example is not built)'), null;
  }
  nativeExe = exe;
  return exe;
}
let nativeSkipped = null;

/** A contender that runs the probe on one case for `ns` per slice. */
function nativeContender(fx, alg) {
  const exe = nativeProbe();
  if (!exe) return null;
  const [publicKey, signature, context] =
    alg === 'ed25519' ? [fx.ed25519.publicKey, fx.ed25519.signature, ''] : [fx.mldsa[alg].publicKey, fx.mldsa[alg].signature, fx.context];
  const c = { label: alg, algorithm: alg, public_key: publicKey, signature, message: fx.message, context };
  const fn = () => {
    throw new Error('external contender');
  };
  fn.external = async (ns) => {
    const r = spawnSync(exe, [], {
      input: JSON.stringify({ ms: Math.max(ns / 1e6, 1), rounds: 1, cases: [c] }),
      encoding: 'utf8',
    });
    if (r.status !== 0) throw new Error(`native_verify failed:\n${r.stderr}`);
    const { median_us: us, runs } = JSON.parse(r.stdout.trim());
    return { perCall: us * 1e3, calls: runs };
  };
  return fn;
}

// ---------------------------------------------------------------------------------------------
// Sizes

function sizeOf(path) {
  const b = readFileSync(path);
  return {
    raw: b.length,
    gzip: zlib.gzipSync(b, { level: 9 }).length,
    brotli: zlib.brotliCompressSync(b, { params: { [zlib.constants.BROTLI_PARAM_QUALITY]: 11 } }).length,
  };
}

// ---------------------------------------------------------------------------------------------
// Report

const fmtTime = (ns) =>
  ns >= 1e6 ? `${(ns / 1e6).toFixed(2)} ms` : ns >= 1e4 ? `${(ns / 1e3).toFixed(0)} µs` : `${(ns / 1e3).toFixed(1)} µs`;
const fmtRatio = (x) => (x >= 100 ? `${x.toFixed(0)}×` : x >= 10 ? `${x.toFixed(1)}×` : `${x.toFixed(2)}×`);
const KiB = (n) => `${(n / 1024).toFixed(1)} KiB`;

function cpuModel() {
  try {
    const m = readFileSync('/proc/cpuinfo', 'utf8').match(/^model name\s*:\s*(.*)$/m);
    if (m) return m[1].trim();
  } catch {
    // not Linux
  }
  return os.cpus()[0]?.model ?? 'unknown';
}

/** One Markdown table per operation: time per call, time relative to cairn, throughput. */
function table(title, rows, results, { cairn, peers, bytes, perItem = {} }) {
  const lines = [`### ${title}`, '', `| implementation | median | best round | × cairn's time${bytes ? ' | throughput' : ''} |`, `|---|---:|---:|---:|${bytes ? '---:|' : ''}`];
  const c = results[cairn].median;
  for (const [name, label] of rows) {
    const full = results[name];
    if (!full) continue;
    const n = perItem[name] ?? 1;
    const r = { median: full.median / n, best: full.best / n };
    const tp = bytes ? ` | ${((bytes / r.median) * 1e3).toFixed(0)} MB/s` : '';
    lines.push(`| ${label} | ${fmtTime(r.median)} | ${fmtTime(r.best)} | ${fmtRatio(r.median / c)}${tp} |`);
  }
  const best = peers.filter((p) => results[p]).sort((a, b) => results[a].median - results[b].median)[0];
  if (best) {
    const ratio = c / results[best].median;
    const label = rows.find(([n]) => n === best)[1];
    lines.push(
      '',
      ratio <= 1
        ? `cairn vs the best peer (${label}): ${fmtRatio(1 / ratio)} faster.`
        : `cairn vs the best peer (${label}): ${fmtRatio(ratio)} slower.`,
    );
  }
  return lines.join('\n');
}

async function main() {
  if (opts.cold) return coldChild(opts.cold);

  const pkgWasm = join(repo, 'node-bindings/pkg/node/cairn_wasm_bg.wasm');
  if (!existsSync(pkgWasm)) {
    console.error('error: node-bindings/pkg is not built; run scripts/build-wasm.sh first');
    process.exit(1);
  }
  if (!existsSync(join(here, 'node_modules/jose'))) {
    console.error('error: the peers are not installed; run `npm ci` in benches/js first');
    process.exit(1);
  }
  if (opts.quick) hashSize = 4 << 20;
  const started = performance.now();
  const fx = await makeFixtures();

  const out = [];
  const say = (s = '') => {
    out.push(s);
    console.log(s);
  };
  say(`# cairn-verify in Node${opts.quick ? ' (quick mode: figures are not meaningful)' : ''}`);
  say();
  say(
    `${new Date().toISOString().slice(0, 10)}, Node ${process.version}, ${os.cpus().length} CPUs (${cpuModel()}), ` +
      `${opts.quick ? 'quick' : `median of ${opts.rounds} interleaved rounds, ${opts.ms} ms per contender`}`,
  );

  const sizes = {
    cairn: sizeOf(pkgWasm),
    cairnGlue: sizeOf(join(repo, 'node-bindings/pkg/web/cairn_wasm.js')),
    biscuit: sizeOf((await import('./lib/biscuit.mjs')).biscuitWasmPath),
  };
  say();
  say('### Module size');
  say();
  say('| module | raw | gzip (zlib level 9) | brotli 11 |');
  say('|---|---:|---:|---:|');
  for (const [label, s] of [
    ['cairn-verify `cairn_wasm_bg.wasm`', sizes.cairn],
    ['cairn-verify glue (`pkg/web/cairn_wasm.js`)', sizes.cairnGlue],
    ['@biscuit-auth/biscuit-wasm 0.6.0 `biscuit_bg.wasm`', sizes.biscuit],
  ]) {
    say(`| ${label} | ${s.raw.toLocaleString('en')} | ${s.gzip.toLocaleString('en')} (${KiB(s.gzip)}) | ${s.brotli.toLocaleString('en')} (${KiB(s.brotli)}) |`);
  }

  if (!opts.only || opts.only.includes('revocation')) revocationProofs();
  const groups = [
    {
      key: 'token',
      title: 'Capability token verify (Ed25519 issuer, audience + capability + time checks)',
      rows: [
        ['cairn-token-native', 'cairn-verify `verifyToken`, native backend (compact token, 173-byte payload)'],
        ['cairn-token-wasm', 'cairn-verify `verifyToken`, wasm backend (issuer key prepared in the module)'],
        ['cairn-token-wasm-dalek', 'cairn-verify `verifyToken`, wasm module as browsers load it (issuer key prepared)'],
        ['jose-jwt', 'jose `jwtVerify` (EdDSA JWT, same claims; async)'],
        ['biscuit-authorize', 'biscuit-wasm `Biscuit.fromBytes` + `authorize()`'],
        ['biscuit-parse', 'biscuit-wasm `Biscuit.fromBytes` only (signature check)'],
        ['node-ed25519', '(reference) node:crypto Ed25519 verify, 256 B'],
      ],
      cairn: 'cairn-token-wasm',
      peers: ['jose-jwt', 'biscuit-authorize'],
    },
    {
      key: 'ed25519',
      title: 'Ed25519 verify (256-byte message)',
      rows: [
        ['cairn-ed25519-native', 'cairn-verify `verifySignature`, native backend'],
        ['cairn-ed25519-wasm', 'cairn-verify `verifySignature`, wasm backend (key seen before: prepared in the module)'],
        ['cairn-ed25519-wasm-dalek', 'cairn-verify `verifySignature`, wasm module as browsers load it (key prepared)'],
        ['cairn-ed25519-fresh-native', 'cairn-verify `verifySignature`, native backend, a key not seen before each call'],
        ['cairn-ed25519-fresh-wasm', 'cairn-verify `verifySignature`, wasm backend, a key not seen before (cairn checks + node:crypto equation)'],
        ['cairn-ed25519-fresh-wasm-dalek', 'cairn-verify `verifySignature`, wasm module as browsers load it, a key not seen before (ed25519-dalek)'],
        ['strict-node-ed25519', "cairn's strict encoding checks in JS + node:crypto `verify`"],
        ['node-ed25519', 'node:crypto `verify` (OpenSSL)'],
        ['noble-ed25519', '@noble/ed25519 `verify` (zip215: false)'],
        ['native-ed25519', '(reference) cairn native: the same Rust code, x86-64 release build'],
      ],
      cairn: 'cairn-ed25519-wasm-dalek',
      peers: ['node-ed25519', 'noble-ed25519'],
      native: 'ed25519',
    },
    {
      key: 'batch',
      title: 'Ed25519 batches: `verifySignatures` (one key, 256-byte messages), time per signature',
      rows: [
        ...['native', 'wasm'].flatMap((b) => [
          ...BATCH_SIZES.map((n) => [`cairn-batch-${n}-${b}`, `${b}: \`verifySignatures\`, batch of ${n}`]),
          [`cairn-single-x16-${b}`, `${b}: 16 × \`verifySignature\``],
          [`cairn-ed25519-${b}`, `${b}: one \`verifySignature\``],
          ...BATCH_SIZES.map((n) => [`cairn-tokens-${n}-${b}`, `${b}: \`verifyTokens\`, ${n} tokens (per token)`]),
        ]),
        ['cairn-ed25519-wasm-dalek', 'wasm module as browsers load it: one `verifySignature`'],
      ],
      perItem: Object.fromEntries(
        ['native', 'wasm'].flatMap((b) => [
          ...BATCH_SIZES.map((n) => [`cairn-batch-${n}-${b}`, n]),
          ...BATCH_SIZES.map((n) => [`cairn-tokens-${n}-${b}`, n]),
          [`cairn-single-x16-${b}`, 16],
        ]),
      ),
      cairn: 'cairn-ed25519-wasm-dalek',
      peers: [],
    },
    ...['ml-dsa-44', 'ml-dsa-65'].map((alg) => ({
      key: alg,
      title: `${alg.toUpperCase()} verify (256-byte message, FIPS 204 context)`,
      rows: [
        [`cairn-${alg}-native`, 'cairn-verify `verifySignature`, native backend'],
        [`cairn-${alg}-wasm`, 'cairn-verify `verifySignature`, wasm backend'],
        [`noble-${alg}`, `@noble/post-quantum \`${alg.replace(/-/g, '_').replace('ml_dsa_', 'ml_dsa')}.verify\``],
        [`native-${alg}`, '(reference) cairn native: the same Rust code, x86-64 release build'],
      ],
      cairn: `cairn-${alg}-wasm`,
      peers: [`noble-${alg}`],
      native: alg,
    })),
    {
      key: 'peer',
      title: 'Peer KeyResponse verification (hybrid Ed25519 + ML-DSA-65 responder key, ML-KEM-768 key check)',
      rows: [
        ['cairn-peer-bundle-native', 'cairn-verify `verifyKeyResponse`, native: in its bundle, vouched by the log (checkpoint Ed25519 + ML-DSA-44, trust root, inclusion proof)'],
        ['cairn-peer-bundle-wasm', 'cairn-verify `verifyKeyResponse`, wasm: the same'],
        ['noble-peer-bundle', '@noble/post-quantum + @noble/ed25519: the same four signature checks (response, checkpoint; the pinned root verified once) and the KEM key check (lower bound: no decoding, no proof)'],
        ['cairn-peer-compact-native', 'cairn-verify `verifyKeyResponse`, native: compact, pinned key'],
        ['cairn-peer-compact-wasm', 'cairn-verify `verifyKeyResponse`, wasm: the same'],
        ['noble-peer-compact', '@noble: the response\'s two signature checks and the KEM key check'],
      ],
      cairn: 'cairn-peer-bundle-wasm',
      peers: ['noble-peer-bundle'],
    },
    {
      key: 'sha256',
      title: `SHA-256 of ${hashSize >> 20} MiB, streamed in 1 MiB chunks`,
      rows: [
        ['cairn-sha256-wasm', 'cairn-verify `WasmArtifactHasher` (wasm; the browser path)'],
        ['cairn-sha256-node', 'cairn-verify `ArtifactHasher` (Node: node:crypto)'],
        ['node-sha256', 'node:crypto `createHash`'],
        ['noble-sha256', '@noble/hashes `sha256.create()`'],
      ],
      cairn: 'cairn-sha256-wasm',
      peers: ['node-sha256', 'noble-sha256'],
      bytes: hashSize,
    },
    {
      key: 'revocation',
      title: 'Revocation-map proofs: `verifyNotRevoked` (non-membership) and `verifyRevoked` (membership), token ids, proof decoded and verified against the root',
      rows: revocationSizes().flatMap((n) =>
        ['native', 'wasm'].flatMap((b) => [
          [`cairn-not-revoked-${n}-${b}`, `${b}: \`verifyNotRevoked\`, ${n.toLocaleString('en')} revoked (${proofBytes(n, 'absent')} B proof)`],
          [`cairn-revoked-${n}-${b}`, `${b}: \`verifyRevoked\`, ${n.toLocaleString('en')} revoked (${proofBytes(n, 'present')} B proof)`],
        ]),
      ),
      cairn: `cairn-not-revoked-${revocationSizes().at(-1)}-wasm`,
      peers: [],
    },
    {
      key: 'pow',
      title: 'Proof of work: `solvePow` (the handle registry\'s challenges), mean over 256 distinct challenges per difficulty',
      rows: powDifficulties().flatMap((d) =>
        ['native', 'wasm'].map((b) => [`cairn-pow-${d}-${b}`, `${b}: \`solvePow\`, difficulty ${d} (mean ${2 ** d} hashes)`]),
      ),
      cairn: `cairn-pow-${powDifficulties().at(-1)}-wasm`,
      peers: [],
    },
  ];

  const active = opts.only ? groups.filter((g) => opts.only.includes(g.key)) : groups;
  if (opts.only) {
    for (const k of opts.only) if (!groups.some((g) => g.key === k)) throw new Error(`--only: no group ${k}`);
  }
  const results = {};
  for (const g of active) {
    const fns = {};
    for (const [name] of g.rows) {
      const fn = await builders[name](fx);
      if (fn) fns[name] = fn;
    }
    // The first authorize() after loading runs into biscuit's own 1 ms limit while V8 is
    // still compiling; a warm-up with a wide limit first.
    if (fns['biscuit-authorize']) {
      const { Biscuit, PublicKey, SignatureAlgorithm, AuthorizerBuilder } = await biscuitModule();
      for (let i = 0; i < 20; i++) {
        const a = new AuthorizerBuilder();
        a.addCode(biscuitPolicy(fx));
        a.buildAuthenticated(Biscuit.fromBytes(b64(fx.token.biscuit), biscuitRoot(PublicKey, SignatureAlgorithm, fx)))
          .authorizeWithLimits(WIDE_LIMITS);
      }
    }
    if (g.bytes && !opts.quick) {
      // One call hashes the whole buffer: fewer, longer rounds.
      const saved = opts.rounds;
      opts.rounds = 5;
      results[g.key] = await measure(fns);
      opts.rounds = saved;
    } else {
      results[g.key] = await measure(fns);
    }
  }

  const cold = opts.coldStart ? coldStarts(fx) : null;

  for (const g of active) {
    say();
    say(table(g.title, g.rows, results[g.key], g));
    if (g.native) {
      const n = results[g.key][`native-${g.native}`];
      const c = results[g.key][g.cairn].median;
      say(n ? `wasm / native: ${fmtRatio(c / n.median)}.` : `cairn native: ${nativeSkipped ?? 'not measured'}.`);
    }
  }

  if (cold) {
    say();
    say('### Cold start (fresh process each; median of ' + (opts.quick ? 1 : 7) + '; Node start-up not counted)');
    say();
    say('| what | load | first verification | total |');
    say('|---|---:|---:|---:|');
    for (const [name, { label }] of Object.entries(COLD)) {
      const c = cold[name];
      if (!c) continue;
      say(`| ${label} | ${c.load.toFixed(1)} ms | ${c.first.toFixed(1)} ms | ${c.total.toFixed(1)} ms |`);
    }
  }

  // Targets (those whose operations ran).
  const faster = (x) => (x >= 1 ? `${fmtRatio(x)} faster` : `${fmtRatio(1 / x)} slower`);
  const gz = sizes.cairn.gzip;
  const checks = [[`wasm module ≤ 150 KB gzip (150 KiB = 153,600 B)`, `${gz.toLocaleString('en')} B (${KiB(gz)})`, gz <= 153600]];
  const med = (g, name) => results[g]?.[name]?.median;
  for (const alg of ['ml-dsa-44', 'ml-dsa-65']) {
    if (!results[alg]) continue;
    const w = med(alg, `cairn-${alg}-wasm`);
    const nat = med(alg, `cairn-${alg}-native`);
    const probe = med(alg, `native-${alg}`);
    const noble = med(alg, `noble-${alg}`);
    checks.push(
      [`${alg} wasm within 1.6× of cairn native`, probe ? fmtRatio(w / probe) : 'not measured', probe ? w / probe <= 1.6 : null],
      [`${alg}: native backend ≥ 15× faster than @noble/post-quantum`, nat ? faster(noble / nat) : 'not built', nat ? noble / nat >= 15 : null],
      [`${alg}: wasm backend ≥ 10× faster than @noble/post-quantum`, faster(noble / w), noble / w >= 10],
    );
  }
  const t = results.token;
  if (t) {
    const jose = med('token', 'jose-jwt');
    const nat = med('token', 'cairn-token-native');
    const w = med('token', 'cairn-token-wasm');
    checks.push(
      [`token verify, native backend ≥ 2× faster than jose`, nat ? faster(jose / nat) : 'not built', nat ? jose / nat >= 2 : null],
      [`token verify, wasm backend faster than jose`, faster(jose / w), jose > w],
      [`token verify (wasm) faster than biscuit-wasm (fromBytes + authorize)`, faster(med('token', 'biscuit-authorize') / w), med('token', 'biscuit-authorize') > w],
      [`token verify (wasm) within 1.3× of bare node:crypto Ed25519`, fmtRatio(w / med('token', 'node-ed25519')), w / med('token', 'node-ed25519') <= 1.3],
    );
  }
  if (results.peer) {
    const w = med('peer', 'cairn-peer-bundle-wasm');
    const nat = med('peer', 'cairn-peer-bundle-native');
    const noble = med('peer', 'noble-peer-bundle');
    checks.push(
      [`KeyResponse with its bundle, wasm ≥ 8× faster than the same signature checks with @noble`, faster(noble / w), noble / w >= 8],
      [`KeyResponse with its bundle, native backend vs @noble`, nat ? faster(noble / nat) : 'not built', null],
    );
  }
  if (results.revocation) {
    const top = revocationSizes().at(-1);
    const w = med('revocation', `cairn-not-revoked-${top}-wasm`);
    checks.push([
      `non-membership proof in wasm ≤ 0.2 ms at ${top.toLocaleString('en')} revocations`,
      `${fmtTime(w)} (${proofBytes(top, 'absent')} B proof)`,
      w <= 0.2e6,
    ]);
  }
  if (results.batch) {
    const single = med('batch', 'cairn-ed25519-wasm-dalek');
    const b256 = med('batch', 'cairn-batch-256-wasm');
    if (single && b256) {
      checks.push([`Ed25519 batch of 256 in wasm: per signature ≤ 0.5× one verification`, fmtRatio(b256 / 256 / single), b256 / 256 / single <= 0.5]);
    }
  }
  if (results.ed25519) {
    const dalek = med('ed25519', 'cairn-ed25519-fresh-wasm-dalek');
    const viaNode = med('ed25519', 'cairn-ed25519-fresh-wasm');
    checks.push([`wasm backend in Node, a key seen first: cairn's checks + node:crypto equation vs ed25519-dalek in wasm`, faster(dalek / viaNode), null]);
    const prepared = med('ed25519', 'cairn-ed25519-wasm');
    checks.push([`wasm backend in Node: a prepared key vs a key seen first`, faster(viaNode / prepared), null]);
  }
  say();
  say('### Targets');
  say();
  say('| target | measured | met |');
  say('|---|---:|:---:|');
  // Quick mode measures nothing worth judging.
  const verdict = (ok) => (opts.quick || ok === null ? '–' : ok ? 'yes' : '**no**');
  for (const [what, measured, ok] of checks) say(`| ${what} | ${measured} | ${verdict(ok)} |`);
  say();
  say(`(${((performance.now() - started) / 1000).toFixed(0)} s)`);

  if (opts.json) {
    writeFileSync(opts.json, JSON.stringify({ date: new Date().toISOString(), node: process.version, cpus: os.cpus().length, cpu: cpuModel(), opts, sizes, results, cold }, null, 2));
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
