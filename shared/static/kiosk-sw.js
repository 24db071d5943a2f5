// The kiosk's service worker, served at /survey/sw.js (services/survey/kiosk_pages.py).
// It serves only what kiosk.js put in its cache: the kiosk page, its name index and the
// shared files. The page and index are asked of the network first (a few seconds at
// most, venue Wi-Fi hangs rather than fails) and refreshed in the cache; without an
// answer, or with a refusal (an expired pass), the cached copy keeps the kiosk working.
// Other pages and every POST pass by untouched. Locking deletes the cache and unregisters
// this worker (kiosk.js `clearEverything`).
"use strict";
var CACHE = "jejak-kiosk";
var WAIT_MS = 4000;
var scope = new URL(self.registration.scope).pathname;

self.addEventListener("install", function () { self.skipWaiting(); });
self.addEventListener("activate", function (event) { event.waitUntil(self.clients.claim()); });

function networkFirst(request) {
  var network = new Promise(function (resolve, reject) {
    var timer = setTimeout(function () { reject(new Error("slow")); }, WAIT_MS);
    fetch(request).then(function (response) { clearTimeout(timer); resolve(response); },
      function (error) { clearTimeout(timer); reject(error); });
  });
  return network.then(function (response) {
    if (response.ok && !response.redirected) {
      var copy = response.clone();
      caches.has(CACHE).then(function (kept) {
        if (kept) caches.open(CACHE).then(function (cache) { cache.put(request.url.split("?")[0], copy); });
      });
      return response;
    }
    return caches.match(request, {ignoreSearch: true}).then(function (cached) {
      return cached || response;
    });
  }, function () {
    return caches.match(request, {ignoreSearch: true}).then(function (cached) {
      return cached || Response.error();
    });
  });
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  var url = new URL(request.url);
  if (request.method !== "GET" || url.origin !== self.location.origin) return;
  if (url.pathname.indexOf(scope + "kiosk/") === 0) {
    event.respondWith(networkFirst(request));
  } else if (url.pathname.indexOf(scope + "_jejak/") === 0) {
    // Versioned static files never change under their URL: the cache first.
    event.respondWith(caches.match(request).then(function (cached) {
      return cached || fetch(request);
    }));
  }
});
