// Slippy-map arithmetic (Web Mercator, 256-pixel tiles), pure: node --test runs it.
// The console draws her place from a tile server's images with it; no map library.

export const TILE = 256;
const EARTH = 156543.03392;  // metres a pixel at the equator at zoom 0

/** World pixel coordinates of a place at `zoom`. */
export function pixel(latitude, longitude, zoom) {
  const scale = TILE * 2 ** zoom;
  const lat = Math.max(-85.05112878, Math.min(85.05112878, latitude)) * Math.PI / 180;
  return {
    x: ((longitude + 180) / 360) * scale,
    y: ((1 - Math.log(Math.tan(lat) + 1 / Math.cos(lat)) / Math.PI) / 2) * scale,
  };
}

/** Metres one pixel covers at `latitude` and `zoom`. */
export function metresPerPixel(latitude, zoom) {
  return (EARTH * Math.cos((latitude * Math.PI) / 180)) / 2 ** zoom;
}

/** The closest zoom (within min..max) at which `accuracy` metres fit in `pixels` pixels. */
export function zoomFor(latitude, accuracy, pixels, min = 3, max = 17) {
  const metres = Math.max(accuracy || 0, 25) * 2.5;
  const zoom = Math.floor(Math.log2((EARTH * Math.cos((latitude * Math.PI) / 180) * pixels) / metres));
  return Math.max(min, Math.min(max, zoom));
}

/**
 * The tiles that cover a `width`×`height` view centred on a place: [{z, x, y, left, top}]
 * with `left`/`top` the tile's offset in the view, and the place's `centre` in the view.
 */
export function tilesFor(latitude, longitude, zoom, width, height) {
  const centre = pixel(latitude, longitude, zoom);
  const originX = centre.x - width / 2;
  const originY = centre.y - height / 2;
  const count = 2 ** zoom;
  const tiles = [];
  for (let ty = Math.floor(originY / TILE); ty * TILE < originY + height; ty += 1) {
    if (ty < 0 || ty >= count) continue;
    for (let tx = Math.floor(originX / TILE); tx * TILE < originX + width; tx += 1) {
      const wrapped = ((tx % count) + count) % count;
      tiles.push({ z: zoom, x: wrapped, y: ty, left: Math.round(tx * TILE - originX), top: Math.round(ty * TILE - originY) });
    }
  }
  return { tiles, centre: { x: width / 2, y: height / 2 } };
}

/** A tile's address from a template with {z}, {x} and {y}. */
export function tileUrl(template, tile) {
  return template.replace("{z}", tile.z).replace("{x}", tile.x).replace("{y}", tile.y);
}

/** "12 s ago", "3 min ago": how old a place is. */
export function age(seconds) {
  const s = Math.max(0, Math.round(seconds));
  if (s < 60) return s + " s ago";
  if (s < 3600) return Math.floor(s / 60) + " min ago";
  return Math.floor(s / 3600) + " h ago";
}
