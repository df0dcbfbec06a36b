import assert from "node:assert/strict";
import http from "node:http";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import os from "node:os";
import path from "node:path";
import { after, before, describe, it } from "node:test";
import { fileURLToPath } from "node:url";

import { build } from "../build.mjs";
import { createServer, resolvePath } from "../server.mjs";

const SRC = path.join(path.dirname(fileURLToPath(import.meta.url)), "..", "src");
let tmp;
let server;
let port;
let manifest;

before(async () => {
  tmp = await mkdtemp(path.join(os.tmpdir(), "frontend-server-"));
  manifest = await build({ srcDir: SRC, outDir: path.join(tmp, "dist") });
  server = createServer({ root: path.join(tmp, "dist") });
  await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
  port = server.address().port;
});

after(async () => {
  await new Promise((resolve) => server.close(resolve));
  await rm(tmp, { recursive: true, force: true });
});

// raw requests, so paths like /../x reach the server unnormalised
function request(method, rawPath) {
  return new Promise((resolve, reject) => {
    const req = http.request({ host: "127.0.0.1", port, method, path: rawPath }, (res) => {
      const chunks = [];
      res.on("data", (c) => chunks.push(c));
      res.on("end", () => resolve({ status: res.statusCode, headers: res.headers, body: Buffer.concat(chunks).toString("utf8") }));
    });
    req.on("error", reject);
    req.end();
  });
}

describe("static server", () => {
  it("answers /healthz", async () => {
    const res = await request("GET", "/healthz");
    assert.equal(res.status, 200);
    assert.deepEqual(JSON.parse(res.body), { status: "ok" });
  });

  it("serves index.html at / without long caching", async () => {
    const res = await request("GET", "/");
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "text/html; charset=utf-8");
    assert.equal(res.headers["cache-control"], "no-cache");
    assert.equal(res.headers["x-content-type-options"], "nosniff");
    assert.match(res.headers["content-security-policy"], /default-src 'self'/);
    assert.ok(res.body.includes(manifest["app.js"]));
  });

  it("serves fingerprinted assets as immutable", async () => {
    const res = await request("GET", `/${manifest["app.js"]}?v=1`);
    assert.equal(res.status, 200);
    assert.equal(res.headers["content-type"], "text/javascript; charset=utf-8");
    assert.equal(res.headers["cache-control"], "public, max-age=31536000, immutable");
    assert.equal(res.body, await readFile(path.join(tmp, "dist", manifest["app.js"]), "utf8"));
  });

  it("answers HEAD without a body", async () => {
    const res = await request("HEAD", `/${manifest["styles.css"]}`);
    assert.equal(res.status, 200);
    assert.equal(res.body, "");
    assert.ok(Number(res.headers["content-length"]) > 0);
    const health = await request("HEAD", "/healthz");
    assert.equal(health.status, 200);
    assert.equal(health.body, "");
  });

  it("404s unknown files and directories, 405s other methods", async () => {
    assert.equal((await request("GET", "/nope.js")).status, 404);
    assert.equal((await request("GET", "/app.js")).status, 404, "only fingerprinted names exist");
    const res = await request("POST", "/");
    assert.equal(res.status, 405);
    assert.equal(res.headers.allow, "GET, HEAD");
  });

  it("never serves files outside the root", async () => {
    for (const p of ["/../package.json", "/%2e%2e/package.json", "/..%2fpackage.json", "/x%00.js", "/%E0%A4%A", "/..\\package.json"]) {
      const res = await request("GET", p);
      assert.ok(res.status === 400 || res.status === 404, `${p} -> ${res.status}`);
      assert.ok(!res.body.includes('"name": "frontend"'), p);
    }
  });
});

describe("resolvePath", () => {
  const root = path.resolve("/srv/dist");
  const cases = [
    ["/", path.join(root, "index.html")],
    ["/a/b.js", path.join(root, "a", "b.js")],
    ["/a/../b.js", path.join(root, "b.js")],
    ["//b.js", path.join(root, "b.js")],
    // like a browser, dot-dot is clamped at the root: it can never climb out
    ["/../etc/passwd", path.join(root, "etc", "passwd")],
    ["/%2e%2e/%2e%2e/etc/passwd", path.join(root, "etc", "passwd")],
    ["../etc/passwd", null],
    ["/a\\..\\..\\x", null],
    ["/a%00", null],
    ["/%zz", null],
  ];
  for (const [input, want] of cases) it(`${input}`, () => assert.equal(resolvePath(root, input), want));
});
