// Shared by the tests: the repository's vector files and small converters.
import { readdirSync, readFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

export const here = dirname(fileURLToPath(import.meta.url));
export const repoRoot = join(here, '..', '..');
export const vectorsDir = join(repoRoot, 'tests', 'vectors');

/** Every tests/vectors/*.json file present, parsed. */
export function vectorFiles() {
  return readdirSync(vectorsDir)
    .filter((f) => f.endsWith('.json'))
    .sort()
    .map((f) => ({ file: f, doc: JSON.parse(readFileSync(join(vectorsDir, f), 'utf8')) }));
}

export const b64 = (s) => new Uint8Array(Buffer.from(s, 'base64'));
export const hexToB64 = (h) => Buffer.from(h, 'hex').toString('base64');
