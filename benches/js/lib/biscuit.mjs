// Loads @biscuit-auth/biscuit-wasm in plain Node. The package is a bundler build
// (`import * as wasm from "./biscuit_bg.wasm"`), which Node 20 cannot import without
// --experimental-wasm-modules; this does by hand what a bundler does: compile the module, give
// it its JavaScript imports (the generated glue and its snippets), instantiate, hand the
// instance to the glue and run the start function.
import { readFileSync } from 'node:fs';
import { fileURLToPath } from 'node:url';

/** The package's module directory (imported by path: its exports map only names the entry). */
export const biscuitDir = new URL('../node_modules/@biscuit-auth/biscuit-wasm/module/', import.meta.url);

/** Path of the package's .wasm file. */
export const biscuitWasmPath = fileURLToPath(new URL('biscuit_bg.wasm', biscuitDir));

let loaded = null;

/**
 * Compiles and instantiates the module once per process (the glue is a singleton holding the
 * instance and views of its memory); resolves to the glue's exports (Biscuit, KeyPair,
 * AuthorizerBuilder, ...), ready to use.
 */
export function loadBiscuit() {
  loaded ??= instantiate();
  return loaded;
}

async function instantiate() {
  const glue = await import(new URL('biscuit_bg.js', biscuitDir).href);
  const module = await WebAssembly.compile(readFileSync(biscuitWasmPath));
  const imports = {};
  for (const { module: from } of WebAssembly.Module.imports(module)) {
    if (imports[from]) continue;
    imports[from] = from === './biscuit_bg.js' ? glue : await import(new URL(from, biscuitDir).href);
  }
  const instance = await WebAssembly.instantiate(module, imports);
  glue.__wbg_set_wasm(instance.exports);
  // The start function logs a line ("biscuit-wasm loading"); keep the bench output clean.
  const log = console.log;
  console.log = () => {};
  try {
    instance.exports.__wbindgen_start();
  } finally {
    console.log = log;
  }
  return glue;
}
