// `node tests/same_program.mjs A1 B1 A2 B2 ...`: prints each A whose program differs from
// its B (parsed with espree, ESLint's parser, as a module, else as a script; positions and
// comments aside) and exits 1 if any does. tests/test_assets.py runs it on every script of
// safecall/web against its slimmed form.
/* global process, console */
import { readFileSync } from "node:fs";
import { createRequire } from "node:module";

const espree = createRequire(import.meta.url)("espree");
const POSITIONS = new Set(["start", "end", "range", "loc"]);

function program(file) {
  const text = readFileSync(file, "utf8");
  for (const sourceType of ["module", "script"]) {
    try {
      const tree = espree.parse(text, { ecmaVersion: "latest", sourceType });
      return JSON.stringify(tree, (key, value) => (POSITIONS.has(key) ? undefined : value));
    } catch { /* the other kind */ }
  }
  return "unparsable";
}

const files = process.argv.slice(2);
let differ = 0;
for (let i = 0; i < files.length; i += 2) {
  const original = program(files[i]);
  if (original === "unparsable" || original !== program(files[i + 1])) {
    console.log(files[i]);
    differ += 1;
  }
}
process.exit(differ ? 1 : 0);
