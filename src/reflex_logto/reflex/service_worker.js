// reflex-logto: keeps the app's content-hashed build files (/assets/<name>-<hash>.js|css|woff2)
// in Cache Storage, and touches nothing else.
//
// Why: a page opened by the sign-in provider's redirect (the callback), or by the provider
// after sign-out, gets a fresh partition of the browser's HTTP cache, so it fetched every
// script again although the app's pages had them already. Cache Storage is not split that
// way. Pages, events, cookies and API calls never pass through here: with the Static Routing
// API (Chromium) the browser sends them straight to the network without starting this worker.
const PREFIX = "reflex-logto-assets-";
const CACHE = PREFIX + "v1";
const HASHED = /^\/assets\/[^/]+-[A-Za-z0-9_-]{8}\.(?:js|css|woff2?)$/;
const ASSETS = new URLPattern({ pathname: "/assets/*", baseURL: self.location.origin });

const isAsset = (url) => url.origin === self.location.origin && HASHED.test(url.pathname);

// Stored without `Vary`: the server's CORS layer varies on Origin, which a module script's
// request sends and a stylesheet's doesn't, and Cache Storage would then miss; a hashed
// file's bytes are the same for every request.
// At low priority: the provider's page, loading meanwhile, comes first.
const keep = async (cache, url) => {
  const response = await fetch(url, { credentials: "same-origin", priority: "low" });
  if (!response.ok) return;
  const headers = new Headers(response.headers);
  headers.delete("Vary");
  await cache.put(url, new Response(await response.blob(), { status: response.status, headers }));
};

// The build's files, filled in by the route that serves this script: a new build is a new
// worker, which stores its files as it installs (the browser compiles scripts stored then
// ahead of their first use) and, once active, drops those of the build before.
const BUILD = __BUILD__.map((path) => new URL(path, self.location.origin).href);

const routes = (event) => {
  if (!event.addRoutes) return Promise.resolve(); // no static routing: the fetch handler does the same
  const assets = { condition: { urlPattern: ASSETS, requestMethod: "GET" }, source: { cacheName: CACHE } };
  return event
    .addRoutes([assets, { condition: { not: { urlPattern: ASSETS } }, source: "network" }])
    .catch(() => event.addRoutes([assets, { condition: { requestMode: "navigate" }, source: "network" }]))
    .catch(() => {});
};

self.addEventListener("install", (event) => {
  self.skipWaiting();
  event.waitUntil(
    Promise.all([
      routes(event),
      caches.open(CACHE).then(async (cache) => {
        const kept = new Set((await cache.keys()).map((request) => request.url));
        // All at once: the worker is registered as the tab leaves, so the page being left
        // doesn't wait on these, and the sooner it is active the likelier it serves the page
        // the provider sends back (bench/asset_cache.py).
        await Promise.all(BUILD.filter((url) => !kept.has(url)).map((url) => keep(cache, url).catch(() => {})));
      }),
    ]),
  );
});

self.addEventListener("activate", (event) => {
  const current = new Set(BUILD);
  event.waitUntil(
    (async () => {
      for (const name of await caches.keys()) if (name.startsWith(PREFIX) && name !== CACHE) await caches.delete(name);
      const cache = await caches.open(CACHE);
      for (const request of await cache.keys()) if (!current.has(request.url)) await cache.delete(request);
      await self.clients.claim();
    })(),
  );
});

// Browsers without static routing: cache first for the hashed files, the network for the rest.
self.addEventListener("fetch", (event) => {
  const url = new URL(event.request.url);
  if (event.request.method !== "GET" || !isAsset(url)) return;
  event.respondWith(
    caches.open(CACHE).then(async (cache) => {
      const cached = await cache.match(event.request, { ignoreVary: true });
      if (cached) return cached;
      const response = await fetch(event.request);
      if (response.ok) keep(cache, url.href).catch(() => {});
      return response;
    }),
  );
});
