// Keyboard shortcuts (Alt with a letter, so typing in the chat never triggers them):
// Alt+A accept, Alt+D decline, Alt+H hang up the contact on screen, Alt+M mute.

import { toggleMute } from "./console-call.js";
import { hangup } from "./console-contacts.js";
import { $ } from "./console-dom.js";
import { accept, decline } from "./console-offer.js";

const KEYS = {
  KeyA: () => !$("offer").hidden && accept(),
  KeyD: () => !$("offer").hidden && decline(),
  KeyH: () => hangup(),
  KeyM: () => toggleMute(),
};

document.addEventListener("keydown", (event) => {
  if (!event.altKey || event.ctrlKey || event.metaKey || $("app-view").hidden) return;
  const action = KEYS[event.code];
  if (!action) return;
  event.preventDefault();
  action();
});
