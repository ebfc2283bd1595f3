// Where she is: the place her page shares (with her consent) during the contact, drawn on
// a map from the configured tile server (GET /api/map), with its accuracy and age. The
// console asks for a newer place every few seconds while the contact lasts; the server
// answers 204 when there is none (and only a place shown is an audited read).

import { api } from "./api.js";
import { $, el, hear } from "./console-dom.js";
import { held, view } from "./console-state.js";
import { age, metresPerPixel, tileUrl, tilesFor, zoomFor } from "./map-tiles.js";

const POLL_MS = 4000;
const map = { tiles: null, attribution: "", contact: null, place: null, updates: 0, timer: null };
window.safecallMap = map;

async function tileServer() {
  if (map.tiles) return map.tiles;
  const result = await api("GET", "/api/map");
  if (result.status !== 200) return null;
  map.tiles = result.data.tiles;
  map.attribution = result.data.attribution;
  return map.tiles;
}

function follow(contact) {
  clearInterval(map.timer);
  map.contact = contact;
  map.place = null;
  map.updates = 0;
  $("location").hidden = true;
  if (!contact) return;
  const first = contact.place || contact.info.location;
  if (first) place({ ...first, at: first.at || null, updates: first.updates || 0 });
  if (!contact.ended) {
    ask();
    map.timer = setInterval(ask, POLL_MS);
  }
}
hear("contact", (contact) => { if (contact.id === view.selected) follow(contact); });
hear("selected", follow);
hear("forgotten", () => follow(held.get(view.selected) || null));
hear("ended", (contact) => { if (contact === map.contact) clearInterval(map.timer); });

async function ask() {
  const contact = map.contact;
  if (!contact || contact.ended) return;
  const result = await api("GET", "/api/contacts/" + encodeURIComponent(contact.id) +
    "/location?after=" + map.updates);
  if (contact !== map.contact || result.status !== 200) return;
  contact.place = result.data;
  place(result.data);
}

function place(where) {
  map.place = where;
  map.updates = Math.max(map.updates, where.updates || 0);
  // Its age from when this console got it (the server's `at` is the same moment give or
  // take one poll, and this computer's clock may differ from the server's).
  map.receivedAt = Date.now();
  $("location").hidden = false;
  draw();
}

async function draw() {
  const where = map.place;
  if (!where) return;
  const box = $("location-map");
  const template = await tileServer();
  const width = box.clientWidth || 320;
  const height = box.clientHeight || 180;
  const zoom = zoomFor(where.latitude, where.accuracy, Math.min(width, height));
  const { tiles, centre } = tilesFor(where.latitude, where.longitude, zoom, width, height);
  const layer = el("div", null, { class: "map-layer" });
  if (template) {
    for (const tile of tiles) {
      const img = el("img", null, { src: tileUrl(template, tile), alt: "", class: "map-tile",
                                    testid: "map-tile", draggable: "false" });
      img.style.left = tile.left + "px";
      img.style.top = tile.top + "px";
      layer.append(img);
    }
  }
  if (where.accuracy) {
    const radius = Math.max(6, where.accuracy / metresPerPixel(where.latitude, zoom));
    const ring = el("div", null, { class: "map-accuracy", testid: "map-accuracy" });
    Object.assign(ring.style, { left: centre.x - radius + "px", top: centre.y - radius + "px",
                                width: 2 * radius + "px", height: 2 * radius + "px" });
    layer.append(ring);
  }
  const marker = el("div", null, { class: "map-marker", testid: "map-marker",
                                   "data-latitude": String(where.latitude), "data-longitude": String(where.longitude) });
  Object.assign(marker.style, { left: centre.x + "px", top: centre.y + "px" });
  layer.append(marker);
  if (map.attribution) layer.append(el("span", map.attribution, { class: "map-credit" }));
  box.replaceChildren(layer);
  box.setAttribute("aria-label", "Map: she is near " + where.latitude.toFixed(5) + ", " + where.longitude.toFixed(5));
  said();
}

function said() {
  const where = map.place;
  if (!where) return;
  const parts = [where.latitude.toFixed(5) + ", " + where.longitude.toFixed(5)];
  if (where.accuracy) parts.push("within " + Math.round(where.accuracy) + " m");
  parts.push(map.updates ? "updated " + age((Date.now() - map.receivedAt) / 1000) + " (" + map.updates +
             (map.updates === 1 ? " update)" : " updates)") : "given when she started");
  $("location-said").textContent = parts.join(" · ");
}
setInterval(said, 1000);
