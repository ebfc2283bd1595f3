// replies-text.js: a supervisor's lines become the set, and back.
import assert from "node:assert/strict";
import { test } from "node:test";

import { format, parse } from "../../safecall/web/replies-text.js";

test("lines become replies and back; a text may hold a bar", () => {
  const text = "en | Hello | I am here | to help\n\n ur | سلام | میں حاضر ہوں ";
  const { replies } = parse(text);
  assert.deepEqual(replies, [
    { language: "en", title: "Hello", text: "I am here | to help" },
    { language: "ur", title: "سلام", text: "میں حاضر ہوں" },
  ]);
  assert.deepEqual(parse(format(replies)).replies, replies);
});

test("a wrong line is named", () => {
  assert.match(parse("en | ok | fine\nfr | Bonjour | Salut").error, /^Line 2 /);
  assert.match(parse("en | no text").error, /^Line 1 /);
  assert.match(parse("en | " + "t".repeat(61) + " | x").error, /at most 60/);
  assert.deepEqual(parse(""), { replies: [] });
});
