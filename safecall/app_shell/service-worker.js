// The installed app's service worker (served at /sw.js; the server puts SHELL, CACHE and
// PAGES above this line). It keeps the shell only: the citizen pages' static files, their
// icons and the offline page, all versioned and holding no one's data. It never keeps a
// page, an API answer or anything she typed: those always go to the network, untouched.
// When a citizen page cannot be reached (offline), it shows the offline page: call 15,
// or text the centre.
"use strict";

self.addEventListener("install", (event) => {
  event.waitUntil(
    caches.open(CACHE).then((cache) => cache.addAll(SHELL)).then(() => self.skipWaiting()),
  );
});

self.addEventListener("activate", (event) => {
  // An older shell is dropped once this one is in place.
  event.waitUntil(
    caches.keys()
      .then((names) => Promise.all(names.filter((n) => n !== CACHE).map((n) => caches.delete(n))))
      .then(() => self.clients.claim()),
  );
});

self.addEventListener("fetch", (event) => {
  const request = event.request;
  if (request.method !== "GET") return;
  const url = new URL(request.url);
  if (url.origin !== self.location.origin) return;
  if (request.mode === "navigate") {
    if (!PAGES.includes(url.pathname)) return;  // the officers' pages are not the app's
    event.respondWith(fetch(request).catch(() => caches.match(OFFLINE)));
    return;
  }
  if (SHELL.includes(url.pathname + url.search)) {
    event.respondWith(caches.match(request).then((kept) => kept || fetch(request)));
  }
  // Anything else (the API, the signaling socket, an unversioned file): the network only.
});
