// Builds the dashboard into dist/:
//   - every asset under src/ (except HTML pages) is written as name.<hash>.ext,
//     where <hash> is the first 8 hex digits of the SHA-256 of its final content;
//   - relative ES module imports and CSS url() references are rewritten to the
//     fingerprinted names, dependencies first, so a change in a module changes
//     the hash of everything that imports it (and nothing else);
//   - HTML pages are copied under their own names with src/href rewritten;
//   - dist/manifest.json maps source names to fingerprinted names.
// Output depends only on the sources: no timestamps, sorted traversal.
// References are found by pattern, not by parsing: keep import statements
// out of comments and strings.
//
// Usage: node build.mjs            (src/ -> dist/)

import { createHash } from "node:crypto";
import { mkdir, readdir, readFile, rm, writeFile } from "node:fs/promises";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const JS_IMPORT = /(\bfrom\s*|\bimport\s*\(\s*|\bimport\s+)(["'])(\.{1,2}\/[^"'\n]+)\2/g;
const CSS_URL = /url\(\s*(["']?)((?:\.{1,2}\/)?[^"')\s:]+)\1\s*\)/g;
const HTML_REF = /\b(src|href)=(["'])([^"']+)\2/g;

const posix = path.posix;

/** "app.js" + content -> "app.3f2a1c9e.js" */
export function fingerprint(name, content) {
  const hash = createHash("sha256").update(content).digest("hex").slice(0, 8);
  const ext = posix.extname(name);
  return `${name.slice(0, name.length - ext.length)}.${hash}${ext}`;
}

async function listFiles(dir, prefix = "") {
  const entries = await readdir(dir, { withFileTypes: true });
  entries.sort((a, b) => (a.name < b.name ? -1 : a.name > b.name ? 1 : 0));
  const out = [];
  for (const e of entries) {
    const rel = prefix ? `${prefix}/${e.name}` : e.name;
    if (e.isDirectory()) out.push(...(await listFiles(path.join(dir, e.name), rel)));
    else if (e.isFile()) out.push(rel);
  }
  return out;
}

function isLocal(ref) {
  return !/^([a-z][a-z0-9+.-]*:|\/\/|\/|#)/i.test(ref);
}

/** The pattern whose matches are references to other assets, by file type. */
function refPattern(file) {
  const ext = posix.extname(file);
  if (ext === ".js" || ext === ".mjs") return { re: JS_IMPORT, group: 3 };
  if (ext === ".css") return { re: CSS_URL, group: 2 };
  return null;
}

function resolveRef(fromFile, ref) {
  const clean = ref.split(/[?#]/)[0];
  return posix.normalize(posix.join(posix.dirname(fromFile), clean));
}

/** Local references in text as { ref, dep } with dep resolved against fromFile. */
function references(text, fromFile, { re, group }) {
  const found = [];
  for (const m of text.matchAll(new RegExp(re.source, re.flags))) {
    if (isLocal(m[group])) found.push({ ref: m[group], dep: resolveRef(fromFile, m[group]) });
  }
  return found;
}

/** Replace each local reference in text via map(resolvedPath) -> newRef. */
function rewrite(text, fromFile, { re, group }, map) {
  return text.replace(new RegExp(re.source, re.flags), (...m) => {
    const ref = m[group];
    if (!isLocal(ref)) return m[0];
    const replacement = map(resolveRef(fromFile, ref), ref);
    return m[0].replace(ref, replacement);
  });
}

function relativeRef(fromFile, toFile) {
  const rel = posix.relative(posix.dirname(fromFile), toFile);
  return rel.startsWith(".") ? rel : `./${rel}`;
}

/**
 * Build srcDir into outDir (which is emptied first). Returns the manifest.
 */
export async function build({ srcDir, outDir }) {
  const src = path.resolve(srcDir);
  const out = path.resolve(outDir);
  if (src === out || src.startsWith(out + path.sep)) {
    throw new Error(`refusing to build into ${out}: it contains the sources`);
  }
  const files = await listFiles(src);
  const contents = new Map();
  for (const f of files) contents.set(f, await readFile(path.join(src, f)));
  const pages = files.filter((f) => posix.extname(f) === ".html");
  const assets = files.filter((f) => !pages.includes(f));

  // Fingerprint assets dependencies-first (depth-first, sorted, cycle-checked).
  const hashed = new Map(); // source name -> fingerprinted name
  const output = new Map(); // fingerprinted name -> final content
  const visiting = new Set();
  const visit = (file, chain) => {
    if (hashed.has(file)) return;
    if (visiting.has(file)) throw new Error(`import cycle: ${[...chain, file].join(" -> ")}`);
    visiting.add(file);
    let content = contents.get(file);
    const pattern = refPattern(file);
    if (pattern) {
      const text = content.toString("utf8");
      for (const { dep, ref } of references(text, file, pattern)) {
        if (!contents.has(dep) || pages.includes(dep)) throw new Error(`${file}: cannot resolve "${ref}"`);
        visit(dep, [...chain, file]);
      }
      content = Buffer.from(rewrite(text, file, pattern, (dep) => relativeRef(file, hashed.get(dep))));
    }
    const name = fingerprint(file, content);
    hashed.set(file, name);
    output.set(name, content);
    visiting.delete(file);
  };
  for (const f of assets) visit(f, []);

  for (const page of pages) {
    const html = contents.get(page).toString("utf8");
    const rewritten = rewrite(html, page, { re: HTML_REF, group: 3 }, (dep, ref) => {
      if (pages.includes(dep)) return ref; // links between pages keep their names
      if (!hashed.has(dep)) throw new Error(`${page}: "${ref}" is not a built asset`);
      return relativeRef(page, hashed.get(dep));
    });
    output.set(page, Buffer.from(rewritten));
  }

  const manifest = Object.fromEntries([...hashed.entries()].sort(([a], [b]) => (a < b ? -1 : 1)));
  output.set("manifest.json", Buffer.from(JSON.stringify(manifest, null, 2) + "\n"));

  await rm(out, { recursive: true, force: true });
  for (const [name, content] of [...output.entries()].sort(([a], [b]) => (a < b ? -1 : 1))) {
    const dest = path.join(out, ...name.split("/"));
    await mkdir(path.dirname(dest), { recursive: true });
    await writeFile(dest, content);
  }
  return manifest;
}

const invoked = process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invoked) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const manifest = await build({ srcDir: path.join(here, "src"), outDir: path.join(here, "dist") });
  for (const [from, to] of Object.entries(manifest)) console.log(`${from} -> dist/${to}`);
}
