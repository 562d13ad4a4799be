// Finishes Trunk's output (its staging directory, the only argument) for delivery:
//
// 1. Every file is named after its content (`cairn-<hash>.css`, `accounts-<hash>.js` with
//    `accounts-<hash>_bg.wasm`), so the server can let browsers keep it for a year: a new build
//    is new names, never a stale file under an old one.
// 2. `manifest.json` tells the server those names, and for each bundle (a wasm module and its JS
//    glue) the islands it can hydrate and its size on the wire; pages pick their bundles from it.
// 3. Each file gets a Brotli (`.br`) and a gzip (`.gz`) twin, compressed once (at the highest
//    settings for a release build), which the server sends to browsers that accept them.
import { createHash } from "node:crypto";
import { readdirSync, readFileSync, renameSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { brotliCompressSync, constants, gzipSync } from "node:zlib";

const dir = process.argv[2];
// Release bundles are compressed once at the highest settings; a development build (ten times
// larger, rebuilt often) at a quick level.
const release = process.env.TRUNK_PROFILE === "release";
if (!dir) {
  console.error("usage: finish-bundle.mjs <trunk staging directory>");
  process.exit(2);
}

const hashOf = (...contents) => {
  const hash = createHash("sha256");
  for (const content of contents) hash.update(content);
  return hash.digest("hex").slice(0, 16);
};

const files = readdirSync(dir);
const assets = {};
const bundles = [];

for (const wasm of files.filter((name) => name.endsWith("_bg.wasm"))) {
  const name = wasm.slice(0, -"_bg.wasm".length);
  const glue = `${name}.js`;
  const glueText = readFileSync(join(dir, glue), "utf8");
  const hash = hashOf(readFileSync(join(dir, glue)), readFileSync(join(dir, wasm)));
  const hashed = { js: `${name}-${hash}.js`, wasm: `${name}-${hash}_bg.wasm` };
  renameSync(join(dir, glue), join(dir, hashed.js));
  renameSync(join(dir, wasm), join(dir, hashed.wasm));
  // Islands are the exports named `<Component>_<hash of the island>`: `hydrate`, `initSync` and
  // the default export are the glue's own.
  const islands = [...glueText.matchAll(/export function (\w+_\d+)\(/g)].map((m) => m[1]).sort();
  // `bundle-projects` is the `projects` bundle: pages name it so.
  bundles.push({ name: name.replace(/^bundle-/, ""), ...hashed, islands });
}

for (const file of files) {
  if (file === "index.html" || file.endsWith(".js") || file.endsWith(".wasm")) continue;
  const dot = file.lastIndexOf(".");
  const hashed = `${file.slice(0, dot)}-${hashOf(readFileSync(join(dir, file)))}${file.slice(dot)}`;
  renameSync(join(dir, file), join(dir, hashed));
  assets[file] = hashed;
}

const wire = {};
for (const file of readdirSync(dir)) {
  if (file === "index.html") continue;
  const raw = readFileSync(join(dir, file));
  const br = brotliCompressSync(raw, {
    params: {
      [constants.BROTLI_PARAM_QUALITY]: release ? constants.BROTLI_MAX_QUALITY : 5,
      [constants.BROTLI_PARAM_SIZE_HINT]: raw.length,
    },
  });
  const gz = gzipSync(raw, { level: release ? 9 : 6 });
  // A twin that saves nothing (an already compressed image) is not worth a lookup.
  if (br.length < raw.length) writeFileSync(join(dir, `${file}.br`), br);
  if (gz.length < raw.length) writeFileSync(join(dir, `${file}.gz`), gz);
  wire[file] = Math.min(br.length, raw.length);
}

for (const bundle of bundles) bundle.bytes = wire[bundle.js] + wire[bundle.wasm];
bundles.sort((a, b) => a.name.localeCompare(b.name));
writeFileSync(join(dir, "manifest.json"), `${JSON.stringify({ assets, bundles }, null, 2)}\n`);
for (const bundle of bundles) {
  console.log(`${bundle.name}: ${bundle.islands.length} islands, ${bundle.bytes} B brotli`);
}
