// Static server for dist/ with /healthz. Fingerprinted assets are cached
// forever; index.html and manifest.json are revalidated on every load.
//
// Usage: node server.mjs   (PORT default 3000, DIST_DIR default ./dist)

import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import http from "node:http";
import path from "node:path";
import { fileURLToPath, pathToFileURL } from "node:url";

const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".mjs": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".json": "application/json",
  ".svg": "image/svg+xml",
  ".png": "image/png",
  ".ico": "image/x-icon",
  ".txt": "text/plain; charset=utf-8",
};

const FINGERPRINTED = /\.[0-9a-f]{8}\.[a-z0-9]+$/;

const SECURITY_HEADERS = {
  "X-Content-Type-Options": "nosniff",
  "Referrer-Policy": "no-referrer",
  "Content-Security-Policy":
    "default-src 'self'; object-src 'none'; base-uri 'none'; frame-ancestors 'none'",
};

function send(res, status, type, body, extra = {}) {
  res.writeHead(status, { "Content-Type": type, "Content-Length": Buffer.byteLength(body), ...SECURITY_HEADERS, ...extra });
  res.end(res.req.method === "HEAD" ? undefined : body);
}

/** Map a request path to a file under root, or null if it escapes root. */
export function resolvePath(root, urlPath) {
  let decoded;
  try {
    decoded = decodeURIComponent(urlPath.split("?")[0]);
  } catch {
    return null;
  }
  if (decoded.includes("\0") || decoded.includes("\\")) return null;
  const rel = path.posix.normalize(decoded).replace(/^\/+/, "");
  if (rel.startsWith("..")) return null;
  const file = path.resolve(root, rel === "" ? "index.html" : rel);
  return file === root || file.startsWith(root + path.sep) ? file : null;
}

export function createServer({ root }) {
  const base = path.resolve(root);
  return http.createServer(async (req, res) => {
    if (req.method !== "GET" && req.method !== "HEAD") {
      send(res, 405, "application/json", '{"error":"method not allowed"}\n', { Allow: "GET, HEAD" });
      return;
    }
    const urlPath = req.url.split("?")[0];
    if (urlPath === "/healthz") {
      send(res, 200, "application/json", '{"status":"ok"}\n', { "Cache-Control": "no-store" });
      return;
    }
    const file = resolvePath(base, req.url);
    if (file === null) {
      send(res, 400, "application/json", '{"error":"bad path"}\n');
      return;
    }
    let info;
    try {
      info = await stat(file);
    } catch {
      info = null;
    }
    if (!info?.isFile()) {
      send(res, 404, "application/json", '{"error":"not found"}\n');
      return;
    }
    const name = path.basename(file);
    res.writeHead(200, {
      "Content-Type": TYPES[path.extname(name)] ?? "application/octet-stream",
      "Content-Length": info.size,
      "Cache-Control": FINGERPRINTED.test(name) ? "public, max-age=31536000, immutable" : "no-cache",
      ...SECURITY_HEADERS,
    });
    if (req.method === "HEAD") {
      res.end();
      return;
    }
    createReadStream(file).pipe(res);
  });
}

const invoked = process.argv[1] && import.meta.url === pathToFileURL(path.resolve(process.argv[1])).href;
if (invoked) {
  const here = path.dirname(fileURLToPath(import.meta.url));
  const root = path.resolve(process.env.DIST_DIR || path.join(here, "dist"));
  const port = Number.parseInt(process.env.PORT || "3000", 10);
  const server = createServer({ root });
  server.listen(port, () => {
    console.log(JSON.stringify({ level: "info", msg: "listening", service: "frontend", port: server.address().port, root }));
  });
  const stop = () => server.close(() => process.exit(0));
  process.on("SIGTERM", stop);
  process.on("SIGINT", stop);
}
