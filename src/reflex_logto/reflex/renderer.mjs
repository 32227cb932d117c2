// Renders the app's pages, each with the first state its response carries (rendering.py).
//
//   node renderer.mjs <web dir> <socket path>
//
// Reflex's production build leaves React Router's server build (from its prerender) in
// <web dir>/build/server/index.js. Its state provider reads the compiled initial state, an
// object the first-state script hands over as the build loads (first_state.py); each render
// sets the carried substates in it, renders, and puts the defaults back. Renders therefore run
// one at a time. Listens on a Unix socket only the backend can reach: POST / with
// {"url": ..., "state": {name: delta}} answers the page's HTML, or a status other than 200.
import { createServer } from "node:http";
import { createRequire } from "node:module";
import { unlinkSync } from "node:fs";
import { join, resolve } from "node:path";
import { pathToFileURL } from "node:url";

const [webDir, socketPath] = process.argv.slice(2).map((arg) => resolve(arg));
const fromWeb = createRequire(join(webDir, "package.json"));
// The React Router the build imports, so that both share one set of contexts.
const { createRequestHandler } = await import(pathToFileURL(fromWeb.resolve("react-router")).href);
const build = await import(pathToFileURL(join(webDir, "build", "server", "index.js")).href);
const initialState = globalThis[Symbol.for("reflex_logto.initial_state")];
if (!initialState) {
  console.error("renderer: the build does not hand over its initial state (not built with reflex-logto?)");
  process.exit(2);
}
const defaults = { ...initialState };
const handle = createRequestHandler(build, "production");
const MAX_BODY = 1 << 20;

async function render(url, state) {
  const names = Object.keys(state);
  if (!names.every((name) => Object.hasOwn(defaults, name))) return { status: 409, html: "" }; // another build's
  try {
    for (const name of names) initialState[name] = { ...defaults[name], ...state[name] };
    const response = await handle(new Request(url, { headers: { accept: "text/html" } }));
    return { status: response.status, html: await response.text() };
  } finally {
    for (const name of names) initialState[name] = defaults[name];
  }
}

// A few renders before saying ready: a process's first renders take several times as long.
for (let i = 0; i < 3; i++) await render(`http://localhost${build.basename ?? "/"}`, {});
let queue = Promise.resolve();

function answer(res, status, body, type = "text/plain") {
  res.writeHead(status, { "content-type": type, "content-length": Buffer.byteLength(body) });
  res.end(body);
}

const server = createServer((req, res) => {
  if (req.method !== "POST") return answer(res, 405, "");
  const chunks = [];
  let size = 0;
  req.on("data", (chunk) => {
    size += chunk.length;
    if (size > MAX_BODY) req.destroy();
    else chunks.push(chunk);
  });
  req.on("end", () => {
    let request;
    try {
      request = JSON.parse(Buffer.concat(chunks).toString("utf8"));
    } catch {
      return answer(res, 400, "not JSON");
    }
    const { url, state } = request ?? {};
    if (typeof url !== "string" || typeof state !== "object" || state === null) return answer(res, 400, "no url or state");
    queue = queue
      .then(() => render(url, state))
      .then(
        ({ status, html }) => answer(res, status, html, "text/html; charset=utf-8"),
        (err) => {
          console.error("renderer: a render failed:", err?.stack ?? err);
          answer(res, 500, "");
        },
      );
  });
});

try {
  unlinkSync(socketPath);
} catch {}
server.listen(socketPath, () => console.log("ready"));
const stop = () => server.close(() => process.exit(0));
process.on("SIGTERM", stop);
process.on("SIGINT", stop);
// The backend that started this process is gone: so is the reason to render.
process.stdin.on("end", () => process.exit(0));
process.stdin.resume();
