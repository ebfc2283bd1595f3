// Ready replies as text a supervisor edits: one reply a line, "language | title | text".
// Pure (node --test): the reports page shows the set with format() and saves parse()'s.

export const LANGUAGES = ["ur", "en", "pa"];

/** The set as lines. */
export function format(replies) {
  return replies.map((r) => [r.language, r.title, r.text].join(" | ")).join("\n");
}

/** {replies} from the lines, or {error} naming the first line that is not right. */
export function parse(text) {
  const replies = [];
  const lines = String(text).split(/\r?\n/);
  for (let i = 0; i < lines.length; i += 1) {
    const line = lines[i].trim();
    if (!line) continue;
    // The first two bars part the line; a text may hold bars of its own.
    const first = line.indexOf("|");
    const second = first < 0 ? -1 : line.indexOf("|", first + 1);
    const language = first < 0 ? line : line.slice(0, first).trim();
    const title = second < 0 ? "" : line.slice(first + 1, second).trim();
    const body = second < 0 ? "" : line.slice(second + 1).trim();
    if (!LANGUAGES.includes(language) || !title || !body) {
      return { error: "Line " + (i + 1) + " is not \"language | title | text\" (language: ur, en or pa)." };
    }
    if (title.length > 60 || body.length > 2000) {
      return { error: "Line " + (i + 1) + ": a title has at most 60 characters, a text 2,000." };
    }
    replies.push({ language, title, text: body });
  }
  return { replies };
}
