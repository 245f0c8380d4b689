#!/usr/bin/env node
// The napi-rs distribution convention: the main package (pure JS + wasm) names one optional
// dependency per platform package (npm/<triple>/, each holding one .node file), at its own
// version, so npm installs only the one whose os/cpu/libc match the machine. The names are
// added at publish time (`prepublishOnly`), as `napi prepublish` does, so the repository's
// package.json and lock file need no unpublished package.
//
//   node scripts/platform-packages.mjs          prints {optionalDependencies} as JSON
//   node scripts/platform-packages.mjs --write  writes them into package.json
import { existsSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { dirname, join } from 'node:path';
import { fileURLToPath } from 'node:url';

const root = join(dirname(fileURLToPath(import.meta.url)), '..');
const manifestPath = join(root, 'package.json');
const manifest = JSON.parse(readFileSync(manifestPath, 'utf8'));
const optionalDependencies = {};
for (const triple of readdirSync(join(root, 'npm')).sort()) {
  const p = join(root, 'npm', triple, 'package.json');
  if (!existsSync(p)) continue;
  const platform = JSON.parse(readFileSync(p, 'utf8'));
  if (platform.name !== `cairn-verify-${triple}`) throw new Error(`${p}: name must be cairn-verify-${triple}`);
  if (platform.version !== manifest.version) throw new Error(`${p}: version ${platform.version} is not ${manifest.version}`);
  optionalDependencies[platform.name] = manifest.version;
}
if (process.argv.includes('--write')) {
  manifest.optionalDependencies = optionalDependencies;
  writeFileSync(manifestPath, `${JSON.stringify(manifest, null, 2)}\n`);
}
console.log(JSON.stringify({ optionalDependencies }));
