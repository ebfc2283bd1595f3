// The field page's Children section: the alerts for missing children sent to this place
// (acknowledged one by one) and the report of a child found (with a photo). It asks the
// server every few seconds, like the referrals; field.js is untouched.
"use strict";

(function () {
  const POLL_MS = 8000;
  const $ = (id) => document.getElementById(id);
  const state = { timer: null };
  const list = (value) => value.split(",").map((s) => s.trim()).filter(Boolean);

  async function api(method, path, body, type) {
    const options = { method, headers: {}, credentials: "same-origin" };
    if (body !== undefined) {
      options.headers["Content-Type"] = type || "application/json";
      options.body = type ? body : JSON.stringify(body);
    }
    const response = await fetch(path, options);
    const data = await response.json().catch(() => null);
    if (!response.ok) {
      const error = new Error((data && data.error && data.error.message) || "It did not work; try again.");
      error.status = response.status;
      throw error;
    }
    return data;
  }

  function said(text) {
    $("field-found-said").textContent = text;
    $("field-found-said").hidden = !text;
  }

  function card(alert) {
    const item = document.createElement("li");
    item.className = "card emergency";
    item.dataset.testid = "field-child-alert";
    item.dataset.alert = alert.id;
    const head = document.createElement("strong");
    head.textContent = alert.reason === "abduction" ? "Missing child, abduction suspected: " : "Missing child: ";
    const text = document.createElement("span");
    text.textContent = alert.description;
    const ack = document.createElement("button");
    ack.className = "button block";
    ack.type = "button";
    ack.dataset.testid = "field-child-alert-ack";
    ack.textContent = "Acknowledge";
    ack.addEventListener("click", async () => {
      ack.disabled = true;
      try {
        await api("POST", "/api/children/alerts/" + alert.id + "/acknowledge");
        item.remove();
      } catch (error) {
        if (error.status === 409) item.remove();
        else { ack.disabled = false; text.textContent = alert.description + " (" + error.message + ")"; }
      }
    });
    item.append(head, text);
    if (alert.photos && alert.photos.length) {
      const photo = document.createElement("img");
      photo.className = "child-photo";
      photo.alt = "Photo of the missing child";
      photo.dataset.testid = "field-child-alert-photo";
      photo.src = "/api/children/reports/" + encodeURIComponent(alert.report_id) + "/photos/" +
        encodeURIComponent(alert.photos[0]);
      item.append(photo);
    }
    item.append(ack);
    return item;
  }

  async function alerts() {
    if ($("field-app").hidden) return;
    try {
      const listed = (await api("GET", "/api/children/alerts")).alerts;
      $("field-child-alerts").replaceChildren(...listed.map(card));
    } catch {
      // The referrals' poll says when the server cannot be reached.
    }
  }

  function where() {
    return new Promise((done) => {
      if (!$("field-found-here").checked || !navigator.geolocation) return done(null);
      navigator.geolocation.getCurrentPosition(
        (p) => done({ latitude: p.coords.latitude, longitude: p.coords.longitude }),
        () => done(null), { timeout: 10000, maximumAge: 60000 });
    });
  }

  $("field-found-form").addEventListener("submit", async (event) => {
    event.preventDefault();
    said("Filing…");
    const value = (id) => $(id).value.trim();
    const number = (id) => (value(id) === "" ? null : Number(value(id)));
    const at = value("field-found-at");
    const height = number("field-found-height");
    const found = {
      at: at ? new Date(at).toISOString() : new Date().toISOString(),
      area: value("field-found-area") || null,
      ...(await where()),
    };
    const body = {
      child: {
        names: list(value("field-found-names")),
        parent_names: list(value("field-found-parents")),
        age_min: number("field-found-age-min"),
        age_max: number("field-found-age-max"),
        gender: value("field-found-gender") || null,
        height_min_cm: height === null ? null : Math.max(30, height - 5),
        height_max_cm: height === null ? null : Math.min(200, height + 5),
        clothing: value("field-found-clothing") || null,
        marks: value("field-found-marks") || null,
        languages: list(value("field-found-languages")),
      },
      found,
      child_says: value("field-found-says") || null,
      custody: { contact: value("field-found-contact") || null },
    };
    let report;
    try {
      report = await api("POST", "/api/children/found", body);
    } catch (error) {
      said(error.message);
      return;
    }
    const photo = $("field-found-photo").files[0];
    let note = "";
    if (photo) {
      try {
        await api("POST", "/api/children/reports/" + report.id + "/photos", photo, photo.type || "image/jpeg");
      } catch (error) {
        note = " The photo was not kept: " + error.message;
      }
    }
    $("field-found-form").reset();
    said("Filed. The centre is matching it against the missing children now." + note);
  });

  // Start polling once the page shows the app (after login).
  const watch = setInterval(() => {
    if ($("field-app").hidden) return;
    clearInterval(watch);
    alerts();
    state.timer = setInterval(alerts, POLL_MS);
  }, 500);
})();
