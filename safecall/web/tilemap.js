// A small slippy map: tiles from the configured server around one point, and a marker.
// Web Mercator tile maths (the same as every OSM-style tile server); no library, no build.
"use strict";

window.TileMap = (function () {
  const SIZE = 256;

  function project(lat, lon, zoom) {
    const scale = SIZE * Math.pow(2, zoom);
    const sin = Math.sin((lat * Math.PI) / 180);
    return {
      x: ((lon + 180) / 360) * scale,
      y: (0.5 - Math.log((1 + sin) / (1 - sin)) / (4 * Math.PI)) * scale,
    };
  }

  function metresPerPixel(lat, zoom) {
    return (156543.03392 * Math.cos((lat * Math.PI) / 180)) / Math.pow(2, zoom);
  }

  // Draws the map of `where` ({latitude, longitude, accuracy}) into `box`.
  function draw(box, template, where, zoom) {
    zoom = zoom || 16;
    const width = box.clientWidth || 320;
    const height = box.clientHeight || 256;
    const centre = project(where.latitude, where.longitude, zoom);
    const left = centre.x - width / 2;
    const top = centre.y - height / 2;
    const max = Math.pow(2, zoom);
    const parts = [];
    for (let tx = Math.floor(left / SIZE); tx <= Math.floor((left + width) / SIZE); tx++) {
      for (let ty = Math.floor(top / SIZE); ty <= Math.floor((top + height) / SIZE); ty++) {
        if (ty < 0 || ty >= max) continue;
        const wrapped = ((tx % max) + max) % max;
        const img = document.createElement("img");
        img.className = "tile";
        img.alt = "";
        img.dataset.testid = "map-tile";
        img.setAttribute("data-testid", "map-tile");
        img.src = template.replace("{z}", zoom).replace("{x}", wrapped).replace("{y}", ty);
        img.style.left = Math.round(tx * SIZE - left) + "px";
        img.style.top = Math.round(ty * SIZE - top) + "px";
        parts.push(img);
      }
    }
    if (where.accuracy) {
      const radius = where.accuracy / metresPerPixel(where.latitude, zoom);
      const ring = document.createElement("div");
      ring.className = "accuracy";
      ring.style.width = ring.style.height = Math.round(2 * radius) + "px";
      ring.style.left = Math.round(width / 2 - radius) + "px";
      ring.style.top = Math.round(height / 2 - radius) + "px";
      parts.push(ring);
    }
    const marker = document.createElement("div");
    marker.className = "marker";
    marker.setAttribute("data-testid", "map-marker");
    marker.setAttribute("role", "img");
    marker.setAttribute("aria-label", "Her location");
    marker.style.left = Math.round(width / 2) + "px";
    marker.style.top = Math.round(height / 2) + "px";
    parts.push(marker);
    const credit = document.createElement("span");
    credit.className = "credit";
    credit.textContent = "map tiles: " + new URL(template.replace(/[{}]/g, "")).host;
    parts.push(credit);
    box.replaceChildren(...parts);
  }

  return { draw, project };
})();
