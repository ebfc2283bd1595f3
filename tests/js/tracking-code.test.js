// tracking-code.js reads a code as cases/tracking_code.py does.
import assert from "node:assert/strict";
import { test } from "node:test";

import { checkDigit, display, isValid, normalise, read } from "../../safecall/web/tracking-code.js";

const body = "12345678901";
const code = body + checkDigit(body);

test("a valid code has a check digit that makes the Damm sum zero", () => {
  assert.equal(isValid(code), true);
  // Every single wrong digit and every swap of neighbours is caught.
  for (let i = 0; i < 12; i += 1) {
    for (let d = 0; d < 10; d += 1) {
      if (String(d) === code[i]) continue;
      assert.equal(isValid(code.slice(0, i) + d + code.slice(i + 1)), false);
    }
    if (i < 11 && code[i] !== code[i + 1]) {
      assert.equal(isValid(code.slice(0, i) + code[i + 1] + code[i] + code.slice(i + 2)), false);
    }
  }
});

test("Urdu and Arabic-Indic digits, spaces, dashes and direction marks are read", () => {
  const urdu = [...code].map((c) => String.fromCharCode(0x06f0 + Number(c))).join("");
  const arabic = [...code].map((c) => String.fromCharCode(0x0660 + Number(c))).join("");
  assert.equal(normalise(urdu), code);
  assert.equal(normalise(arabic), code);
  assert.equal(normalise(code.slice(0, 4) + "\u2013" + code.slice(4, 8) + "\u00a0" + code.slice(8)), code);
  assert.equal(normalise("\u200f" + code + "\u200e"), code);
  assert.equal(read(display(code)), code);
});

test("wrong lengths and other characters are not codes", () => {
  for (const typed of ["", "123", code + "1", code.slice(1), code.slice(0, 11) + "x", "abcd efgh ijkl"]) {
    assert.equal(read(typed), null, typed);
  }
  assert.equal(normalise(code.slice(0, 11) + "x"), null);
});

test("a code is shown in three groups of four", () => {
  assert.equal(display("123456789012"), "1234 5678 9012");
  assert.equal(display("1234-5678-9012"), "1234 5678 9012");
  assert.equal(display(""), "");
  assert.equal(display(null), "");
});
