// The demo page: reads the pinned trust root, a bundle and an artifact (or pasted text) and
// shows the verdict computed by cairn's WebAssembly verifiers. No network, no framework; all
// text from the inputs goes into the page through textContent, never as HTML.
import init, {
  initExtras,
  verifyBundle,
  verifyCheckpoint,
  verifyToken,
  verifyTrustRootChain,
  inspect,
  hashBlob,
  WEBCRYPTO_MAX_BYTES,
} from './vendor/cairn-verify/lib/web.js';

const $ = (id) => document.getElementById(id);

/**
 * The most of a chosen bundle or trust root the page reads: what the verifier takes for one
 * object (8 MiB, wasm/README.md). The formats' own limits are the verifier's to apply; this
 * only keeps a wrong file (a disk image picked by mistake) out of memory.
 */
const MAX_OBJECT_BYTES = 8 << 20;

/** Plain-words reason for each error code. */
const REASONS = {
  malformed: 'The input could not be read: it is not a well-formed cairn object.',
  too_large: 'The input is larger than cairn accepts.',
  unsupported_version: 'The object uses a format version this verifier does not know.',
  unsupported_algorithm: 'The object uses a signature algorithm this verifier does not support.',
  invalid_key: 'A public key in the object is not a valid key.',
  signature_invalid: 'A signature does not match: the object was altered, or signed by another key.',
  unknown_key: 'It is not signed by any key your trust root knows.',
  threshold_not_met: 'Not enough trusted keys signed it.',
  domain_mismatch: 'It is another kind of object, or for another registry or audience, than expected.',
  expired: 'It has expired at the verification time.',
  not_yet_valid: 'It is not valid yet at the verification time.',
  revoked: 'It has been revoked.',
  proof_invalid: "The proof that it was recorded in the registry's log does not hold.",
  chain_broken: 'The chain of trust-root versions or ledger entries is broken.',
  delegation_invalid: 'A delegated token grants more than its parent allows.',
  digest_mismatch: 'The artifact does not match the manifest: it was modified, or it is another file.',
  unauthorized: "The signer's key is not authorised for this, or not at this time.",
  key_mismatch: 'A key named in the object does not match the key provided.',
  replayed: 'This was seen before.',
  key_changed: 'A peer presented a key other than the one pinned for it.',
  split_view: 'The log showed two different histories of the same size: someone forked it.',
  stale: 'Its checkpoint is older than the maximum age allowed.',
};

const state = {
  root: null,
  bundle: null,
  artifact: null,
  reading: Promise.resolve(),
  rootTurn: 0,
  bundleTurn: 0,
  // Bumped by every change of an input: a verdict is shown only for the inputs it checked.
  generation: 0,
  // A verification was asked for while one ran: it runs again, on the inputs as they are then.
  again: false,
};

/**
 * An input changed: no verdict stands for inputs it did not check, nor the last hashing's
 * progress.
 */
function invalidate() {
  state.generation += 1;
  show('idle', el('p', { class: 'hint' }, 'Press “Verify bundle” for a verdict on the files as chosen now.'));
  $('hash-progress').hidden = true;
  $('hash-status').textContent = '';
}

/**
 * The newest checkpoint this page verified, per log origin, in localStorage (bare checkpoint
 * text: origin, size, base64 root). A bundle under an older checkpoint, or under another root
 * at the same size, is refused by cairn's own rule (`lastSeen`) and the page says so.
 */
const LAST_SEEN_PREFIX = 'cairn.lastSeen.';
const lastSeen = {
  get(origin) {
    try {
      return localStorage.getItem(LAST_SEEN_PREFIX + origin);
    } catch {
      return null; // storage disabled: no memory, no freshness check
    }
  },
  forget(origin) {
    try {
      localStorage.removeItem(LAST_SEEN_PREFIX + origin);
    } catch {
      // storage disabled: nothing to forget
    }
  },
  remember(cp) {
    const known = this.get(cp.origin);
    if (known && sizeOf(known) >= cp.size) return;
    const root = btoa(String.fromCharCode(...cp.root.match(/../g).map((h) => parseInt(h, 16))));
    try {
      localStorage.setItem(LAST_SEEN_PREFIX + cp.origin, `${cp.origin}\n${cp.size}\n${root}\n`);
    } catch {
      // storage full or disabled: the verdict stands, the page just cannot remember it
    }
  },
};
const sizeOf = (text) => Number(String(text).split('\n')[1]);

function el(tag, props = {}, ...children) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(props)) {
    if (k === 'class') node.className = v;
    else node.setAttribute(k, v);
  }
  for (const c of children.flat()) {
    if (c !== null && c !== undefined) node.append(c instanceof Node ? c : String(c));
  }
  return node;
}

const short = (hex) => (hex && hex.length > 20 ? `${hex.slice(0, 16)}…` : hex);
/** Unix seconds as a date, and as given; a time past what a Date holds (year 275760) as given. */
function when(secs) {
  if (secs === null || secs === undefined) return '—';
  const d = new Date(secs * 1000);
  return Number.isNaN(d.getTime()) ? `${secs}` : `${d.toISOString().replace('.000Z', 'Z')} (${secs})`;
}
const mib = (n) => `${(n / 1048576).toFixed(n < 10485760 ? 2 : 0)} MiB`;
const size = (n) => (n < 1024 ? `${n} bytes` : n < 1048576 ? `${(n / 1024).toFixed(1)} KiB` : mib(n));

/** The verification time: the field (Unix seconds or a date), or the clock. */
function verificationTime() {
  const t = $('time').value.trim();
  if (!t || t === 'now') return Math.floor(Date.now() / 1000);
  const secs = /^\d+$/.test(t) ? Number(t) : Math.floor(Date.parse(t) / 1000);
  if (!Number.isSafeInteger(secs) || secs < 0) {
    throw Object.assign(new Error(`not a time after 1970: ${t}`), { code: 'malformed', class: 'error', field: 'time' });
  }
  return secs;
}

function show(stateName, ...nodes) {
  const v = $('verdict');
  v.dataset.state = stateName;
  v.replaceChildren(...nodes);
}

/**
 * Shows a failure. Whether the input is "invalid" (read, and not genuine) or an "error" (it
 * could not be checked) is the error's own `class`, set by cairn for every code: the page does
 * not keep a list of its own.
 */
function showError(title, err, extra = []) {
  const code = err && typeof err.code === 'string' ? err.code : null;
  const invalid = err && err.class === 'invalid';
  show(
    invalid ? 'invalid' : 'error',
    el('h2', {}, typeof title === 'function' ? title(invalid) : title),
    el('p', { class: 'reason', id: 'reason' }, (code && REASONS[code]) || 'Verification could not be completed.'),
    el('p', { class: 'detail' }, code ? `${code}: ${err.message}` : String(err && err.message ? err.message : err)),
    ...extra,
  );
}

function signerList(signers) {
  return el('ul', { class: 'checks' }, signers.map((s) =>
    el('li', {}, s.label || 'key', ' ', el('span', { class: 'key', title: s.key_id }, short(s.key_id)),
      s.algorithm ? ` · ${s.algorithm}` : '', s.roles.map((r) => el('span', { class: 'role' }, r)))));
}

function rows(pairs) {
  return el('dl', {}, pairs.filter(Boolean).flatMap(([k, v]) => [el('dt', {}, k), el('dd', {}, v)]));
}

function renderBundleVerdict(v, now, root, unusedArtifact, stale = null) {
  const subject = v.kind === 'manifest'
    ? `manifest for “${v.manifest.claims.name}” (${size(v.manifest.claims.size)})`
    : `capability token (${v.token.claims.capabilities.join(', ')})`;
  const timeChecks = [`verified at ${when(now)}`];
  if (v.token) {
    timeChecks.push(`token valid from ${when(v.token.claims.not_before)} until ${when(v.token.claims.expires_at)}`);
  }
  timeChecks.push(`ledger entry recorded at ${when(v.entry.time)}; signer keys checked at that time`);
  if (root.view.version === v.trust_root.version) {
    timeChecks.push(`trust root valid until ${when(root.view.expires_at)}`);
  }
  const seen = stale ? sizeOf(stale.lastSeen) : null;
  show(
    stale ? 'stale' : 'valid',
    el('h2', {}, stale ? `⚠ Signed ${v.kind}, but older than what this page has seen` : `✓ Valid ${v.kind}`),
    stale && el('p', { class: 'warning', id: 'freshness-warning', role: 'alert' },
      stale.err.code === 'replayed'
        ? `Warning: this bundle's checkpoint (tree size ${v.checkpoint.size}) is older than the last one this page verified for ${v.checkpoint.origin} (tree size ${seen}). Someone may be replaying an old state of the log, from before a revocation: ask for a current bundle.`
        : `Warning: this bundle's checkpoint has tree size ${v.checkpoint.size}, like the last one this page verified for ${v.checkpoint.origin}, but another root: the log shows different histories to different verifiers (a split view).`,
      el('span', { class: 'detail' }, ` (${stale.err.code}: ${stale.err.message})`)),
    el('p', { class: 'reason', id: 'reason' },
      v.kind === 'manifest'
        ? (v.artifact_checked
          ? 'The artifact is exactly the one the manifest describes, the manifest is signed by authorised keys, and it is recorded in the registry’s log.'
          : 'The manifest is signed by authorised keys and recorded in the registry’s log. No artifact was given, so its bytes were not compared.')
        : 'The token is signed by an authorised issuer, valid at the verification time, and recorded in the registry’s log.'),
    unusedArtifact && el('p', { class: 'hint', id: 'artifact-unused' },
      `The artifact “${unusedArtifact.name}” was not compared: a token bundle vouches for no artifact.`),
    rows([
      ['Subject', subject],
      ['Subject id', el('span', { class: 'key' }, v.subject_id)],
      v.manifest && ['Artifact SHA-256', el('span', { class: 'key' }, v.manifest.claims.sha256)],
      v.token && ['Audience', v.token.claims.audience],
      v.token && ['Holder', el('span', { class: 'key' }, v.token.claims.holder_key_id)],
      ['Signed by', signerList(v.signers)],
      ['Checkpoint', `${v.checkpoint.origin}, tree size ${v.checkpoint.size}`],
      ['Freshness', el('span', { id: 'freshness' }, stale
        ? `older than, or a split view of, tree size ${seen} seen before`
        : v.checks.includes('checkpoint_freshness')
          ? `not older than the last checkpoint this page verified for this log`
          : 'first checkpoint this page has verified for this log')],
      ['Checkpoint signers', signerList(v.checkpoint.signers)],
      // What the bundle proves of revocation, and as of when: nothing, for a version 1 bundle.
      ['Revocation', el('span', { id: 'revocation' }, v.not_revoked_as_of
        ? `not revoked as of tree size ${v.not_revoked_as_of.size} (${when(v.not_revoked_as_of.time)}): a revocation logged since would not show here`
        : 'not proven by this bundle (version 1): ask the registry for a current bundle')],
      ['Ledger entry', `#${v.entry.seq}`],
      ['Trust root', `version ${v.trust_root.version}${v.trust_root.matches_bundle ? '' : ' (newer than the one the bundle was made with)'}`],
      ['Time checks', el('ul', { class: 'checks' }, timeChecks.map((t) => el('li', {}, t)))],
      ['Checks performed', el('ul', { class: 'checks', id: 'checks' }, v.checks.map((c) => el('li', {}, c.replaceAll('_', ' '))))],
    ]),
  );
}

/**
 * What failed, in a word: cairn's stable code, or the name of the browser's error (a
 * `DOMException`'s numeric `code` is a legacy number, not one of cairn's codes).
 */
const failure = (err) => (typeof err?.code === 'string' ? err.code : err?.name ?? 'error');

async function readBytes(file) {
  return new Uint8Array(await file.arrayBuffer());
}

/** Reads a bundle or trust root whole, refusing one larger than the verifier takes. */
async function readObject(file) {
  if (file.size > MAX_OBJECT_BYTES) {
    throw Object.assign(new Error(`${size(file.size)} is more than the verifier takes for one object (${size(MAX_OBJECT_BYTES)})`), { code: 'too_large', class: 'error' });
  }
  return readBytes(file);
}

async function setRoot(file) {
  // Cleared first; a read overtaken by a later choice is dropped (the last file chosen wins).
  invalidate();
  const turn = ++state.rootTurn;
  state.root = null;
  let info;
  try {
    const bytes = await readObject(file);
    if (turn !== state.rootTurn) return;
    const view = inspect(bytes);
    if (view.kind !== 'envelope' || view.object !== 'trust_root' || !view.decoded) {
      throw Object.assign(new Error('this file is not a trust root'), { code: 'domain_mismatch', class: 'error' });
    }
    info = `${file.name}: ${view.decoded.origin}, version ${view.decoded.version}, ${view.decoded.keys.length} keys, expires ${when(view.decoded.expires_at)}`;
    state.root = { name: file.name, bytes, view: view.decoded };
  } catch (err) {
    if (turn !== state.rootTurn) return;
    state.root = null;
    info = `${file.name}: not usable as a trust root (${failure(err)}: ${err.message})`;
  }
  $('root-info').textContent = info;
}

async function setBundle(file) {
  // Cleared first: a file that cannot be read leaves no earlier bundle in its place; a read
  // overtaken by a later choice is dropped (the last file chosen wins).
  invalidate();
  const turn = ++state.bundleTurn;
  state.bundle = null;
  try {
    const bytes = await readObject(file);
    if (turn !== state.bundleTurn) return;
    // What the bundle vouches for ('token' or 'manifest'): an artifact is compared with a
    // manifest only. One that does not decode is the verifier's to refuse.
    let kind = null;
    try {
      kind = inspect(bytes).subject?.object ?? null;
    } catch {
      // not a bundle: verifyBundle says why
    }
    state.bundle = { name: file.name, bytes, kind };
    $('bundle-info').textContent = `${file.name}, ${size(file.size)}`;
  } catch (err) {
    if (turn !== state.bundleTurn) return;
    $('bundle-info').textContent = `${file.name}: not usable as a bundle (${failure(err)}: ${err.message})`;
  }
}

function setArtifact(file) {
  invalidate();
  state.artifact = file;
  const how = file.size <= WEBCRYPTO_MAX_BYTES ? 'hashed with WebCrypto' : 'streamed through the wasm hasher';
  $('artifact-info').textContent = `${file.name}, ${size(file.size)} (${how})`;
}

/**
 * Sorts a dropped file by content: bundle magic, trust-root envelope, anything else =
 * artifact. A trust root is taken only when none is pinned: trust comes from the root the
 * person chose, and a root among dropped downloads could be anyone's. Returns a note for the
 * person when a dropped file was not used as what it is.
 */
async function classify(file) {
  const head = new Uint8Array(await file.slice(0, 4).arrayBuffer());
  const magic = String.fromCharCode(...head);
  if (magic === 'CBDL') return setBundle(file);
  if (file.size < (1 << 20) && (magic === 'CDSE' || magic.trimStart().startsWith('{'))) {
    let isRoot = false;
    try {
      const view = inspect(await readBytes(file));
      isRoot = view.kind === 'envelope' && view.object === 'trust_root';
    } catch {
      // not a cairn object: an artifact
    }
    if (isRoot) {
      if (state.root === null && state.rootTurn === 0) return setRoot(file);
      return `“${file.name}” is a trust root: it was not used. The pinned one is kept; choose a root in the trust-root field to pin another.`;
    }
  }
  return setArtifact(file);
}

async function hashArtifact(file) {
  const bar = $('hash-progress');
  const status = $('hash-status');
  bar.hidden = false;
  bar.value = 0;
  const started = performance.now();
  const digest = await hashBlob(file, {
    onProgress(done, total) {
      bar.value = total ? done / total : 1;
      status.textContent = `hashing ${mib(done)} of ${mib(total)}`;
    },
  });
  status.textContent = `hashed ${size(digest.size)} in ${((performance.now() - started) / 1000).toFixed(2)} s`;
  return digest;
}

async function verifyBundleClicked() {
  const button = $('verify');
  if (button.disabled) {
    // One verification at a time; the one asked for now runs next, on the inputs as they are.
    state.again = true;
    return;
  }
  button.disabled = true;
  state.again = false;
  // Working from the click on: no earlier verdict stands while a chosen file is still read.
  show('working', el('p', { class: 'hint' }, 'Verifying…'));
  // What was chosen when the files were read: a file chosen while the artifact is hashed
  // does not change what this verification checks.
  let bundle = null;
  let generation = null;
  // Shows a verdict only if the inputs are still those it checked; else the verification runs
  // again on the new ones.
  const render = (draw) => {
    if (generation === state.generation) draw();
    else state.again = true;
  };
  try {
    await state.reading;
    generation = state.generation;
    const { root } = state;
    ({ bundle } = state);
    const chosenArtifact = state.artifact;
    if (!root) return show('error', el('h2', {}, 'No trust root'), el('p', { class: 'reason', id: 'reason' }, 'Load the trust root you pinned first.'));
    if (!bundle) return show('error', el('h2', {}, 'No bundle'), el('p', { class: 'reason', id: 'reason' }, 'Load the bundle that came with the artifact.'));
    const now = verificationTime();
    // A token bundle vouches for no artifact: one left from an earlier check is not compared.
    const unused = chosenArtifact && bundle.kind === 'token' ? chosenArtifact : null;
    const artifact = chosenArtifact && !unused ? await hashArtifact(chosenArtifact) : undefined;
    const options = { now, artifact };
    let verdict = verifyBundle(bundle.bytes, root.bytes, options);
    // The bundle verified; now against what this page saw of the same log before.
    const known = lastSeen.get(verdict.checkpoint.origin);
    if (known) {
      try {
        verdict = verifyBundle(bundle.bytes, root.bytes, { ...options, lastSeen: known });
      } catch (err) {
        if (err.code === 'malformed') {
          // The page's own memory does not parse (edited by hand, or by another page version):
          // it is dropped and this checkpoint becomes the memory.
          lastSeen.forget(verdict.checkpoint.origin);
        } else if (err.code === 'replayed' || err.code === 'proof_invalid') {
          render(() => renderBundleVerdict(verdict, now, root, unused, { err, lastSeen: known }));
          return;
        } else {
          throw err;
        }
      }
    }
    lastSeen.remember(verdict.checkpoint);
    render(() => renderBundleVerdict(verdict, now, root, unused));
  } catch (err) {
    let extra = [];
    if (err.code === 'malformed' && bundle && err.field !== 'time') {
      extra = [el('p', { class: 'hint' }, `“${bundle.name}” could not be decoded as a bundle.`)];
    }
    render(() => showError((invalid) => (invalid ? '✗ Not valid' : 'Could not be checked'), err, extra));
  } finally {
    button.disabled = false;
    if (state.again) queueMicrotask(verifyBundleClicked);
  }
}

/** The keys of a verified trust root holding `role` and valid at `now` (not_after exclusive). */
function keysWithRole(root, role, now) {
  return root.keys
    .filter((k) => k.roles.includes(role) && k.not_before <= now && (k.not_after === null || now < k.not_after))
    .map((k) => ({ algorithm: k.algorithm, publicKey: k.public_key }));
}

function verifyPasted() {
  const text = $('paste').value;
  try {
    const view = inspect(text);
    const now = verificationTime();
    if (!state.root) {
      show('decoded', el('h2', {}, `Decoded ${view.kind} — not verified`),
        el('p', { class: 'reason', id: 'reason' }, 'Load a trust root to verify it; below is what it claims.'),
        el('pre', { class: 'detail' }, JSON.stringify(view, null, 2)));
      return;
    }
    // The trust root itself first, as a bundle's verification checks it: its signatures and
    // its expiry at the verification time (an expired root is refused, not used).
    const root = verifyTrustRootChain(state.root.bytes, [], now);
    if (view.kind === 'checkpoint') {
      const verifiers = keysWithRole(root, 'checkpoint', now).map((k) => ({ name: root.origin, ...k }));
      const v = verifyCheckpoint(text, verifiers, { origin: root.origin, threshold: root.thresholds.checkpoint || 1 });
      show('valid', el('h2', {}, '✓ Valid checkpoint'),
        el('p', { class: 'reason', id: 'reason' }, 'Signed by the checkpoint keys of your trust root.'),
        rows([['Origin', v.origin], ['Tree size', String(v.size)], ['Root', el('span', { class: 'key' }, v.root)],
          ['Signers', el('ul', { class: 'checks' }, v.signers.map((s) => el('li', { class: 'key' }, s)))]]));
      return;
    }
    if (view.kind === 'envelope' && view.object === 'token') {
      const v = verifyToken(text, keysWithRole(root, 'token-issuer', now), { now });
      show('valid', el('h2', {}, '✓ Valid capability token'),
        el('p', { class: 'reason', id: 'reason' }, 'Issued by a token issuer of your trust root and valid at the verification time (without a bundle, revocation in the log is not checked).'),
        rows([['Token id', el('span', { class: 'key' }, v.id)], ['Capabilities', v.claims.capabilities.join(', ')],
          ['Audience', v.claims.audience], ['Time checks', `valid from ${when(v.claims.not_before)} until ${when(v.claims.expires_at)}; verified at ${when(now)}`]]));
      return;
    }
    show('decoded', el('h2', {}, `Decoded ${view.kind}${view.object ? ` (${view.object})` : ''} — not verified`),
      el('p', { class: 'reason', id: 'reason' }, 'This page verifies bundles, checkpoints and tokens; below is what this object claims.'),
      el('pre', { class: 'detail' }, JSON.stringify(view, null, 2)));
  } catch (err) {
    showError((invalid) => (invalid ? '✗ Not valid' : 'Could not be checked'), err);
  }
}

/** Reading a chosen file takes a moment: a verification started meanwhile waits for it. */
function track(reading) {
  state.reading = Promise.all([state.reading, Promise.resolve(reading).catch(() => {})]);
  return state.reading;
}

function wireFile(id, handler) {
  $(id).addEventListener('change', (e) => {
    const f = e.target.files && e.target.files[0];
    if (f) track(handler(f));
  });
}

async function main() {
  // The page decodes what is dropped or pasted (inspect): both modules.
  await Promise.all([init(), initExtras()]);
  wireFile('root-file', setRoot);
  wireFile('bundle-file', setBundle);
  wireFile('artifact-file', setArtifact);
  $('verify').addEventListener('click', verifyBundleClicked);
  $('verify-paste').addEventListener('click', verifyPasted);
  const drop = $('drop');
  drop.addEventListener('dragover', (e) => {
    e.preventDefault();
    drop.classList.add('over');
  });
  drop.addEventListener('dragleave', () => drop.classList.remove('over'));
  drop.addEventListener('drop', async (e) => {
    e.preventDefault();
    drop.classList.remove('over');
    const notes = [];
    let unreadable = false;
    for (const f of e.dataTransfer.files) {
      try {
        const reading = classify(f);
        track(reading);
        const note = await reading;
        if (typeof note === 'string') notes.push(note);
      } catch (err) {
        // A folder, or a file the browser cannot read: nothing earlier is verified in its place.
        unreadable = true;
        invalidate();
        notes.push(`“${f.name}” could not be read (${failure(err)}: ${err.message}): nothing was verified.`);
      }
    }
    $('drop-info').textContent = notes.join(' ');
    if (!unreadable && state.root && state.bundle) verifyBundleClicked();
  });
  document.body.dataset.ready = 'true';
}

main().catch((err) => showError('The verifier could not start', err));
