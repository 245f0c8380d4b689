// Shared by the tests: the repository's vector files and small converters.
import { execFileSync } from 'node:child_process';
import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
export const vectorsDir = join(repoRoot, 'tests', 'vectors');

/** Every tests/vectors/*.json file present, parsed. */
// Ops that belong to the native store, not to the offline verifier compiled to wasm. They are
// listed by name (the vector test reports their files as skipped), so a new op can never be
// skipped silently.
export const NATIVE_ONLY = {};

// Ops whose code is in cairn-core but not exported by the package (none at the moment). Listed
// by name with the reason, so the vector test reports their files as skipped, never silently.
export const NOT_EXPORTED_YET = {};

const isNativeOnly = (doc) =>
  Object.keys(doc.ops ?? {}).some((op) => op in NATIVE_ONLY || op in NOT_EXPORTED_YET);

export function vectorFiles({ includeNative = false } = {}) {
  return readdirSync(vectorsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: f, doc: JSON.parse(readFileSync(join(vectorsDir, f), 'utf8')) }))
    .filter(({ doc }) => includeNative || !isNativeOnly(doc));
}

export const b64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
export const hexToB64 = (h) => Buffer.from(h, 'hex').toString('base64');

/** The `cairn` CLI binary of this checkout (built by cargo if it is not there yet). */
export function cairnBinary() {
  for (const profile of ['debug', 'release']) {
    const bin = join(repoRoot, 'target', profile, 'cairn');
    if (existsSync(bin)) return bin;
  }
  execFileSync('cargo', ['build', '--quiet', '--bin', 'cairn'], { cwd: repoRoot, stdio: 'inherit' });
  return join(repoRoot, 'target', 'debug', 'cairn');
}
