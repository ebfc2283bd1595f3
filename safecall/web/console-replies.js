// Ready replies: short texts in Urdu and English (GET /api/ready-replies; supervisors
// replace them with PUT). A tap puts the text in the message box, to read and send.

import { api } from "./api.js";
import { $, el, hear } from "./console-dom.js";
import { held, view } from "./console-state.js";

const replies = { list: [] };
window.safecallReplies = replies;

export async function load() {
  const result = await api("GET", "/api/ready-replies");
  replies.list = result.status === 200 ? result.data.replies : [];
  render();
}

/** Her language's replies first, then the rest. */
function render() {
  const contact = held.get(view.selected);
  const language = contact ? contact.info.language : "ur";
  const box = $("ready-replies");
  box.replaceChildren();
  const ordered = [...replies.list].sort((a, b) => (a.language === language ? 0 : 1) - (b.language === language ? 0 : 1));
  for (const reply of ordered) {
    const button = el("button", reply.title, { type: "button", class: "reply", testid: "ready-reply",
                                                lang: reply.language, title: reply.text });
    if (reply.language === "ur") button.dir = "rtl";
    button.addEventListener("click", () => {
      $("chat-input").value = reply.text;
      $("chat-input").dir = reply.language === "ur" ? "rtl" : "auto";
      $("chat-input").focus();
    });
    box.append(button);
  }
}
hear("selected", render);
hear("contact", render);
