// Tracking codes, read and shown the way the server does (cases/tracking_code.py):
// 12 digits, the last a Damm check digit; Urdu and Arabic-Indic digits count as digits;
// spaces, dashes and invisible direction marks are ignored; shown as "1234 5678 9012".
// A native ES module, pure: node --test runs it (tests/js/tracking-code.test.js).

export const LENGTH = 12;

const DAMM = [
  [0, 3, 1, 7, 5, 9, 8, 6, 4, 2], [7, 0, 9, 2, 1, 5, 4, 8, 6, 3],
  [4, 2, 0, 6, 8, 7, 1, 3, 5, 9], [1, 7, 5, 0, 9, 8, 3, 4, 2, 6],
  [6, 1, 2, 3, 0, 4, 5, 9, 7, 8], [3, 6, 7, 4, 2, 0, 9, 5, 8, 1],
  [5, 8, 6, 9, 7, 2, 0, 1, 3, 4], [8, 9, 4, 5, 3, 6, 2, 0, 1, 7],
  [9, 4, 3, 8, 6, 1, 7, 2, 0, 5], [2, 5, 8, 1, 4, 3, 6, 7, 9, 0],
];
const DASHES = new Set("-\u2010\u2011\u2012\u2013\u2014\u2212\ufe63\uff0d\u0640");
const INVISIBLE = new Set("\u200b\u200c\u200d\u200e\u200f\u2066\u2067\u2068\u2069\ufeff");

/** Urdu (U+06F0..) and Arabic-Indic (U+0660..) digits as ASCII ones. */
export function asciiDigits(text) {
  return String(text).replace(/[\u06F0-\u06F9\u0660-\u0669]/g, (c) => {
    const code = c.charCodeAt(0);
    return String(code >= 0x06f0 ? code - 0x06f0 : code - 0x0660);
  });
}

/** The 12 ASCII digits of a typed code, or null (the check digit is not looked at). */
export function normalise(text) {
  let digits = "";
  for (const c of asciiDigits(text)) {
    if (/\s/.test(c) || DASHES.has(c) || INVISIBLE.has(c)) continue;
    digits += c;
  }
  return digits.length === LENGTH && /^[0-9]+$/.test(digits) ? digits : null;
}

export function checkDigit(digits) {
  let interim = 0;
  for (const c of digits) interim = DAMM[interim][Number(c)];
  return String(interim);
}

/** True for 12 digits whose check digit matches. */
export function isValid(code) {
  return typeof code === "string" && /^[0-9]{12}$/.test(code) && checkDigit(code) === "0";
}

/** The code if `text` is one (right length and check digit), else null. */
export function read(text) {
  const digits = normalise(text);
  return digits !== null && isValid(digits) ? digits : null;
}

/** "123456789012" (or any typed form) -> "1234 5678 9012"; "" for nothing. */
export function display(code) {
  const digits = normalise(code || "") || String(code || "").replace(/\D/g, "");
  return digits.replace(/(\d{4})(?=\d)/g, "$1 ");
}
