// The lab's service worker (lab/dist/sw.js): the page works offline once loaded. On install it caches the app shell
// (index.html, style.css), the bundle, both WebAssembly builds, the models models.json lists and the test digits, in a cache
// named after the build's version (a hash of those files, written in by lab/build.ts); on activation it deletes the
// caches of other versions of this lab. The shell is answered from the cache first (the page is the version the
// cache holds until a new build is installed); models.json and `nablax lab --model-file` models come from the network
// first, so models added on the command line show up, and from the cache when offline. Cached responses keep their
// headers, so a page served offline by `nablax lab` stays cross-origin isolated. Paths are relative to the scope
// (the folder holding sw.js), so the static site works from any folder of any host.

/** Filled in by lab/build.ts (esbuild's define): the build's version and the files to cache, relative to the scope. */
declare const LAB_VERSION: string;
declare const LAB_FILES: string[];

/** The little of the service worker API used here (the page's tsconfig has the DOM types, not the worker's). */
interface ExtendableEvent extends Event { waitUntil(p: Promise<unknown>): void }
interface FetchEvent extends ExtendableEvent { request: Request; respondWith(r: Promise<Response>): void }
interface ServiceWorkerScope {
  registration: { scope: string };
  clients: { claim(): Promise<void> };
  skipWaiting(): Promise<void>;
  addEventListener(type: 'install' | 'activate', f: (e: ExtendableEvent) => void): void;
  addEventListener(type: 'fetch', f: (e: FetchEvent) => void): void;
}
const sw = self as unknown as ServiceWorkerScope;

const scope = new URL(sw.registration.scope);
const prefix = `nablax-lab ${scope.pathname} `;
const cacheName = prefix + LAB_VERSION;
/** Paths (relative to the scope) answered from the network first: they change with `nablax lab --model-file`. */
const networkFirst = (rel: string): boolean => rel === 'models.json' || rel.startsWith('user-models/');

sw.addEventListener('install', (e) => {
  e.waitUntil(precache().then(() => sw.skipWaiting()));
});

/** Cache the build's files, then every model models.json lists (`nablax lab --model-file` adds some of its own). */
async function precache(): Promise<void> {
  const cache = await caches.open(cacheName);
  // `cache: 'reload'`: the files themselves, not what the HTTP cache kept of an older build
  const get = (f: string) => new Request(new URL(f, scope), { cache: 'reload' });
  await cache.addAll(['./', ...LAB_FILES].map(get));
  const list = await (await cache.match(new URL('models.json', scope).href))!.json() as { url: string }[];
  await cache.addAll(list.map((m) => m.url).filter((u) => !LAB_FILES.includes(u)).map(get));
}

sw.addEventListener('activate', (e) => {
  e.waitUntil(caches.keys()
    .then((keys) => Promise.all(keys.filter((k) => k.startsWith(prefix) && k !== cacheName).map((k) => caches.delete(k))))
    .then(() => sw.clients.claim()));
});

sw.addEventListener('fetch', (e) => {
  const req = e.request;
  const url = new URL(req.url);
  if (req.method !== 'GET' || url.origin !== scope.origin || !url.pathname.startsWith(scope.pathname)) return;
  const rel = url.pathname.slice(scope.pathname.length);
  if (networkFirst(rel)) e.respondWith(fromNetwork(req));
  // a navigation (`?threads=1` and the like included) gets the cached page
  else if (req.mode === 'navigate' || rel === '' || rel === 'index.html') e.respondWith(fromCache(req, new URL('./', scope).href));
  else if (LAB_FILES.includes(rel)) e.respondWith(fromCache(req, req.url));
});

/** The cached response for `key`, else the network's. */
async function fromCache(req: Request, key: string): Promise<Response> {
  const hit = await (await caches.open(cacheName)).match(key);
  return hit ?? fetch(req);
}

/** The network's response (kept in the cache when it is good), else the cached one; offline with nothing cached, the error. */
async function fromNetwork(req: Request): Promise<Response> {
  const cache = await caches.open(cacheName);
  try {
    const res = await fetch(req);
    if (res.ok) await cache.put(req, res.clone());
    return res;
  } catch (err) {
    const hit = await cache.match(req);
    if (hit) return hit;
    throw err;
  }
}
