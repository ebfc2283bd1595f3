// The citizen pages' words (safecall/web/citizen-i18n.js, a classic script run in a vm
// context): every key in Urdu, Punjabi and English, none empty; the page's language from
// the browser's, Urdu when unsure.
import { test } from "node:test";
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import vm from "node:vm";

const source = readFileSync(new URL("../../safecall/web/citizen-i18n.js", import.meta.url), "utf8");
const context = {};
vm.runInNewContext(source, context);
const { TEXT, LANGUAGES, RTL, pick, say } = context.SafecallText;

test("every key is in all three languages, and none is empty", () => {
  assert.deepEqual([...LANGUAGES].sort(), ["en", "pa", "ur"]);
  const keys = new Set(LANGUAGES.flatMap((lang) => Object.keys(TEXT[lang])));
  for (const lang of LANGUAGES) {
    for (const key of keys) {
      assert.equal(typeof TEXT[lang][key], "string", `${lang} lacks ${key}`);
      assert.ok(TEXT[lang][key].trim(), `${lang} ${key} is empty`);
    }
  }
});

test("Urdu and Punjabi are written in Arabic script, right to left; English is not", () => {
  for (const lang of ["ur", "pa"]) {
    assert.equal(RTL[lang], true);
    assert.match(TEXT[lang].title, /[\u0600-\u06FF]/);
  }
  assert.equal(RTL.en, false);
});

test("plain words: «لکھ کر بات» and «کیس نمبر», a child is «بچہ/بچی»", () => {
  assert.equal(TEXT.ur.chat, "لکھ کر بات");
  assert.match(TEXT.ur["your-code"], /کیس نمبر/);
  assert.equal(TEXT.ur.child, "بچہ/بچی");
  for (const lang of LANGUAGES) {
    for (const word of Object.values(TEXT[lang])) {
      assert.doesNotMatch(word, /تحریری گفتگو|ٹریکنگ کوڈ|Esc/);
    }
  }
});

test("the language is the browser's first one we speak; Urdu when unsure", () => {
  assert.equal(pick(["en-GB", "ur"]), "en");
  assert.equal(pick(["ur-PK"]), "ur");
  assert.equal(pick(["pa-PK"]), "pa");
  assert.equal(pick(["pa-Arab-PK"]), "pa");
  assert.equal(pick(["pa-IN", "fr"]), "ur"); // Gurmukhi is not ours
  assert.equal(pick(["fr-FR", "de"]), "ur");
  assert.equal(pick([]), "ur");
  assert.equal(pick(undefined), "ur");
});

test("say fills in values and falls back to English, then to the key", () => {
  assert.equal(say("en", "wait", { m: 3 }), "An officer should come in about 3 min.");
  assert.match(say("ur", "wait", { m: 3 }), /3 منٹ/);
  assert.equal(say("xx", "title"), TEXT.ur.title);
  assert.equal(say("ur", "no-such-key"), "no-such-key");
});

test("a language chosen on another page comes in the address; anything else is ignored", () => {
  const { chosen } = context.SafecallText;
  assert.equal(chosen("?lang=pa", ["en-GB"]), "pa");
  assert.equal(chosen("?x=1&lang=en", ["ur"]), "en");
  assert.equal(chosen("?lang=xx", ["fr"]), "ur");
  assert.equal(chosen("?lang=<script>", ["en-US"]), "en");
  assert.equal(chosen("", []), "ur");
});
