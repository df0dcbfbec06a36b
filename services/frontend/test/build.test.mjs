import assert from "node:assert/strict";
import { createHash } from "node:crypto";
import { mkdtemp, readdir, readFile, rm, writeFile, cp, mkdir } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { build, fingerprint } from "../build.mjs";

const here = path.dirname(fileURLToPath(import.meta.url));
const SRC = path.join(here, "..", "src");

let tmp;
before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "frontend-build-"));
});
after(async () => {
  await rm(tmp, { recursive: true, force: true });
});

async function snapshot(dir) {
  const out = {};
  for (const name of (await readdir(dir)).sort()) out[name] = (await readFile(path.join(dir, name))).toString("utf8");
  return out;
}

async function copySrc(name) {
  const dir = path.join(tmp, name);
  await cp(SRC, dir, { recursive: true });
  return dir;
}

describe("fingerprint", () => {
  it("inserts the first 8 hex digits of the SHA-256 before the extension", () => {
    const hash = createHash("sha256").update("x").digest("hex").slice(0, 8);
    assert.equal(fingerprint("app.js", "x"), `app.${hash}.js`);
    assert.equal(fingerprint("css/site.min.css", "x"), `css/site.min.${hash}.css`);
    assert.notEqual(fingerprint("app.js", "x"), fingerprint("app.js", "y"));
  });
});

describe("build", () => {
  it("is deterministic: two builds are byte-identical", async () => {
    const a = path.join(tmp, "out-a");
    const b = path.join(tmp, "out-b");
    const ma = await build({ srcDir: SRC, outDir: a });
    const mb = await build({ srcDir: SRC, outDir: b });
    assert.deepEqual(ma, mb);
    assert.deepEqual(await snapshot(a), await snapshot(b));
  });

  it("writes fingerprinted assets, a manifest and a rewritten index.html", async () => {
    const out = path.join(tmp, "out-shape");
    const manifest = await build({ srcDir: SRC, outDir: out });
    const files = await snapshot(out);
    assert.deepEqual(Object.keys(manifest), ["app.js", "demo-data.js", "format.js", "severity.js", "styles.css"]);
    assert.deepEqual(JSON.parse(files["manifest.json"]), manifest);
    for (const [source, built] of Object.entries(manifest)) {
      assert.match(built, /^[\w-]+\.[0-9a-f]{8}\.(js|css)$/, source);
      assert.equal(fingerprint(source, files[built]), built, `${built} hash matches its final content`);
    }
    assert.ok(files["index.html"].includes(`src="./${manifest["app.js"]}"`));
    assert.ok(files["index.html"].includes(`href="./${manifest["styles.css"]}"`));
    assert.ok(!files["index.html"].includes('"./app.js"'));
    assert.ok(files[manifest["app.js"]].includes(`from "./${manifest["severity.js"]}"`));
    assert.ok(!/from "\.\/severity\.js"/.test(files[manifest["app.js"]]));
    assert.equal(Object.keys(files).length, 7);
  });

  it("cascades a change to importers only", async () => {
    const src = await copySrc("src-cascade");
    const before = await build({ srcDir: src, outDir: path.join(tmp, "cascade-1") });
    const file = path.join(src, "severity.js");
    await writeFile(file, (await readFile(file, "utf8")) + "\n// changed\n");
    const after = await build({ srcDir: src, outDir: path.join(tmp, "cascade-2") });
    assert.notEqual(after["severity.js"], before["severity.js"]);
    assert.notEqual(after["app.js"], before["app.js"], "app.js imports severity.js");
    assert.equal(after["format.js"], before["format.js"]);
    assert.equal(after["styles.css"], before["styles.css"]);
  });

  it("empties the output folder first", async () => {
    const out = path.join(tmp, "out-stale");
    await mkdir(out, { recursive: true });
    await writeFile(path.join(out, "app.00000000.js"), "stale");
    await build({ srcDir: SRC, outDir: out });
    assert.ok(!(await readdir(out)).includes("app.00000000.js"));
  });

  it("rewrites CSS url() references and nested folders", async () => {
    const src = path.join(tmp, "src-css");
    await mkdir(path.join(src, "img"), { recursive: true });
    await writeFile(path.join(src, "img", "logo.svg"), "<svg/>");
    await writeFile(path.join(src, "site.css"), 'body { background: url("./img/logo.svg"); } a { background: url(https://cdn/x.png); }');
    await writeFile(path.join(src, "index.html"), '<link href="site.css"><a href="https://example.com">x</a><a href="#top">t</a>');
    const m = await build({ srcDir: src, outDir: path.join(tmp, "out-css") });
    const css = await readFile(path.join(tmp, "out-css", m["site.css"]), "utf8");
    assert.match(m["img/logo.svg"], /^img\/logo\.[0-9a-f]{8}\.svg$/);
    assert.ok(css.includes(`url("./${m["img/logo.svg"]}")`));
    assert.ok(css.includes("url(https://cdn/x.png)"));
    const html = await readFile(path.join(tmp, "out-css", "index.html"), "utf8");
    assert.ok(html.includes(`href="./${m["site.css"]}"`));
    assert.ok(html.includes('href="https://example.com"') && html.includes('href="#top"'));
  });

  it("keeps links between pages", async () => {
    const src = path.join(tmp, "src-pages");
    await mkdir(src, { recursive: true });
    await writeFile(path.join(src, "index.html"), '<a href="about.html">about</a>');
    await writeFile(path.join(src, "about.html"), '<a href="./index.html">home</a>');
    await build({ srcDir: src, outDir: path.join(tmp, "out-pages") });
    assert.equal(await readFile(path.join(tmp, "out-pages", "about.html"), "utf8"), '<a href="./index.html">home</a>');
  });

  it("fails on broken references, cycles and a dangerous outDir", async () => {
    const broken = path.join(tmp, "src-broken");
    await mkdir(broken, { recursive: true });
    await writeFile(path.join(broken, "a.js"), 'import { x } from "./missing.js";');
    await assert.rejects(build({ srcDir: broken, outDir: path.join(tmp, "o1") }), /cannot resolve "\.\/missing\.js"/);

    const cycle = path.join(tmp, "src-cycle");
    await mkdir(cycle, { recursive: true });
    await writeFile(path.join(cycle, "a.js"), 'import "./b.js";');
    await writeFile(path.join(cycle, "b.js"), 'export * from "./a.js";');
    await assert.rejects(build({ srcDir: cycle, outDir: path.join(tmp, "o2") }), /import cycle: a\.js -> b\.js -> a\.js/);

    const page = path.join(tmp, "src-page");
    await mkdir(page, { recursive: true });
    await writeFile(path.join(page, "index.html"), '<script src="./nope.js"></script>');
    await assert.rejects(build({ srcDir: page, outDir: path.join(tmp, "o3") }), /not a built asset/);

    await assert.rejects(build({ srcDir: SRC, outDir: path.join(SRC, "..") }), /refusing/);
    await assert.rejects(build({ srcDir: SRC, outDir: SRC }), /refusing/);
  });
});
