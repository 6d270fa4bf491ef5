// A tiny static server for the built dashboard, at /dashboard/, that also
// forwards the reference server's read API (GET /meters...) to --api, so
// that the page and the API share one origin: no CORS needed. This is the
// deployment the reference server itself would give by serving /dashboard.
//
//   node serve.mjs [--port 8080] [--api http://127.0.0.1:8000] [--host 127.0.0.1]
//
// Prints "listening on http://HOST:PORT/dashboard/" once ready.
import { createReadStream, statSync } from "node:fs";
import { createServer, request } from "node:http";
import { dirname, extname, join, normalize, sep } from "node:path";
import { fileURLToPath } from "node:url";
import { parseArgs } from "node:util";

const { values } = parseArgs({
  options: {
    port: { type: "string", default: "8080" },
    host: { type: "string", default: "127.0.0.1" },
    api: { type: "string", default: "http://127.0.0.1:8000" },
    root: { type: "string", default: join(dirname(fileURLToPath(import.meta.url)), "dist") },
  },
});
const api = new URL(values.api);
const root = normalize(values.root);
const TYPES = {
  ".html": "text/html; charset=utf-8",
  ".js": "text/javascript; charset=utf-8",
  ".css": "text/css; charset=utf-8",
  ".wasm": "application/wasm",
  ".map": "application/json",
  ".svg": "image/svg+xml",
};
const SECURITY = {
  // No inline script, no third-party origin: the page loads only itself.
  "Content-Security-Policy":
    "default-src 'self'; script-src 'self' 'wasm-unsafe-eval'; style-src 'self' 'unsafe-inline'; connect-src *",
  "Referrer-Policy": "no-referrer",
  "X-Content-Type-Options": "nosniff",
};

function proxy(req, res) {
  const upstream = request(
    { host: api.hostname, port: api.port || 80, method: req.method, path: req.url, headers: { ...req.headers, host: api.host } },
    (up) => {
      res.writeHead(up.statusCode ?? 502, up.headers);
      up.pipe(res);
    },
  );
  upstream.on("error", (e) => {
    res.writeHead(502, { "Content-Type": "application/json" });
    res.end(JSON.stringify({ error: "bad_gateway", message: e.message }));
  });
  req.pipe(upstream);
}

createServer((req, res) => {
  const url = new URL(req.url ?? "/", "http://localhost");
  if (url.pathname === "/meters" || url.pathname.startsWith("/meters/") || url.pathname === "/health") {
    if (req.method !== "GET") {
      res.writeHead(405).end();
      return;
    }
    proxy(req, res);
    return;
  }
  if (url.pathname === "/" || url.pathname === "/dashboard") {
    res.writeHead(302, { Location: "/dashboard/" }).end();
    return;
  }
  if (!url.pathname.startsWith("/dashboard/")) {
    res.writeHead(404).end();
    return;
  }
  const rel = decodeURIComponent(url.pathname.slice("/dashboard/".length)) || "index.html";
  const file = normalize(join(root, rel));
  if (!file.startsWith(root + sep)) {
    res.writeHead(404).end();
    return;
  }
  let size;
  try {
    const st = statSync(file);
    if (!st.isFile()) throw new Error("not a file");
    size = st.size;
  } catch {
    res.writeHead(404).end();
    return;
  }
  res.writeHead(200, {
    "Content-Type": TYPES[extname(file)] ?? "application/octet-stream",
    "Content-Length": size,
    "Cache-Control": "no-cache",
    ...SECURITY,
  });
  createReadStream(file).pipe(res);
}).listen(Number(values.port), values.host, function () {
  const { address, port } = this.address();
  console.log(`listening on http://${address}:${port}/dashboard/`);
});
