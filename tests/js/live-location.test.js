// live-location.js: places are sent at most every few seconds, the latest kept, and a
// refusal (the contact ended) stops the sharing.
import assert from "node:assert/strict";
import { test } from "node:test";

import { shareLocation } from "../../safecall/web/live-location.js";

function phone() {
  const watchers = new Map();
  let next = 1;
  return {
    watchers,
    watchPosition(ok) { watchers.set(next, ok); return next++; },
    clearWatch(id) { watchers.delete(id); },
    move(latitude, longitude, accuracy = 20) {
      for (const ok of watchers.values()) ok({ coords: { latitude, longitude, accuracy } });
    },
  };
}

test("the first place goes at once, later ones at most every interval, the latest kept", async () => {
  const geolocation = phone();
  let clock = 0;
  const sent = [];
  const send = async (method, path, body, options) => {
    sent.push({ path, body, token: options.token });
    return { status: 200 };
  };
  const sharing = shareLocation({ sessionId: "s1", token: "tok", geolocation, everyMs: 30, send, now: () => clock });
  geolocation.move(31.5, 74.3);
  await Promise.resolve();
  assert.deepEqual(sent, [{ path: "/api/contacts/s1/location", body: { latitude: 31.5, longitude: 74.3, accuracy: 20 }, token: "tok" }]);
  clock = 10;
  geolocation.move(31.6, 74.3);
  geolocation.move(31.7, 74.3);  // replaces the one waiting
  assert.equal(sent.length, 1);
  await new Promise((done) => setTimeout(done, 60));
  assert.equal(sent.length, 2);
  assert.equal(sent[1].body.latitude, 31.7);
  sharing.stop();
  assert.equal(geolocation.watchers.size, 0);
});

test("a refused place (the contact ended) stops the sharing; a throttle does not", async () => {
  const geolocation = phone();
  let clock = 0;
  const answers = [{ status: 429 }, { status: 409 }];
  const sharing = shareLocation({ sessionId: "s", token: "t", geolocation, everyMs: 0,
                                  send: async () => answers.shift(), now: () => clock++ });
  geolocation.move(1, 2);
  await new Promise((done) => setTimeout(done, 5));
  assert.equal(sharing.state.stopped, false);
  geolocation.move(1, 3);
  await new Promise((done) => setTimeout(done, 5));
  assert.equal(sharing.state.stopped, true);
  assert.equal(geolocation.watchers.size, 0);
});

test("without geolocation nothing happens", () => {
  const sharing = shareLocation({ sessionId: "s", token: "t", geolocation: null });
  assert.doesNotThrow(() => sharing.stop());
});
