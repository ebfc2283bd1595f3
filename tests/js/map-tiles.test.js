// map-tiles.js: where a place falls on the tiles, how big its accuracy is.
import assert from "node:assert/strict";
import { test } from "node:test";

import { age, metresPerPixel, pixel, tileUrl, tilesFor, zoomFor } from "../../safecall/web/map-tiles.js";

test("the world's corners and centre in pixels", () => {
  assert.deepEqual(pixel(0, 0, 0), { x: 128, y: 128 });
  const corner = pixel(85.05112878, -180, 1);
  assert.equal(corner.x, 0);
  assert.ok(Math.abs(corner.y) < 1e-6);
});

test("Lahore lands on the tile OpenStreetMap has it on", () => {
  const { x, y } = pixel(31.5204, 74.3587, 12);
  assert.deepEqual([Math.floor(x / 256), Math.floor(y / 256)], [2894, 1669]);
});

test("the tiles cover the view, and the place is at its centre", () => {
  const { tiles, centre } = tilesFor(31.5204, 74.3587, 15, 400, 180);
  assert.deepEqual(centre, { x: 200, y: 90 });
  for (const tile of tiles) assert.ok(tile.left < 400 && tile.left + 256 > 0 && tile.top < 180 && tile.top + 256 > 0);
  const xs = new Set(tiles.map((t) => t.x));
  const ys = new Set(tiles.map((t) => t.y));
  assert.equal(tiles.length, xs.size * ys.size);
  assert.ok(xs.size >= 2 && xs.size <= 3 && ys.size >= 1 && ys.size <= 2);
  assert.equal(tileUrl("http://t/{z}/{x}/{y}.png", tiles[0]), `http://t/15/${tiles[0].x}/${tiles[0].y}.png`);
});

test("a coarser place is shown further out; metres a pixel halve with each zoom", () => {
  assert.ok(zoomFor(31.5, 2000, 180) < zoomFor(31.5, 20, 180));
  assert.ok(zoomFor(31.5, 1, 180) <= 17);
  assert.ok(Math.abs(metresPerPixel(0, 1) * 2 - metresPerPixel(0, 0)) < 1e-9);
});

test("ages are said in words", () => {
  assert.equal(age(4.4), "4 s ago");
  assert.equal(age(125), "2 min ago");
  assert.equal(age(7300), "2 h ago");
});
