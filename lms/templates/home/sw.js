/* Vanguard's service worker: the app shell and static files from the cache, pages from the network
   (an offline page when there is none), and never video, media or anything but GET. */
"use strict";
var VERSION = "vanguard-{{ version }}";
var SHELL = {{ shell | tojson }};
var OFFLINE = {{ offline | tojson }};

self.addEventListener("install", function (event) {
  event.waitUntil(caches.open(VERSION).then(function (cache) { return cache.addAll(SHELL); }).then(function () {
    return self.skipWaiting();
  }));
});

self.addEventListener("activate", function (event) {
  event.waitUntil(caches.keys().then(function (names) {
    return Promise.all(names.filter(function (name) { return name !== VERSION; }).map(function (name) {
      return caches.delete(name);
    }));
  }).then(function () { return self.clients.claim(); }));
});

function isStatic(url) {
  return url.origin === self.location.origin && url.pathname.indexOf("/static/") === 0 &&
    !/\.(m3u8|ts|mp4|m4s|webm|mp3)$/.test(url.pathname);
}

self.addEventListener("fetch", function (event) {
  var request = event.request;
  if (request.method !== "GET") return;
  var url = new URL(request.url);
  if (request.mode === "navigate") {
    // Pages hold personal data: never cached, only replaced by the offline page when the network fails.
    event.respondWith(fetch(request).catch(function () {
      return caches.match(OFFLINE);
    }));
    return;
  }
  if (!isStatic(url)) return;
  // Static files: from the cache at once, refreshed in the background (stale-while-revalidate).
  event.respondWith(caches.open(VERSION).then(function (cache) {
    return cache.match(request).then(function (cached) {
      var fresh = fetch(request).then(function (response) {
        if (response.ok) cache.put(request, response.clone());
        return response;
      });
      if (cached) {
        fresh.catch(function () {});
        return cached;
      }
      return fresh;
    });
  }));
});
