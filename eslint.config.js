// ESLint for the browser code (safecall/web) and its unit tests (tests/js): `make check`.
import js from "@eslint/js";

const browser = Object.fromEntries([
  "window", "document", "navigator", "fetch", "console", "setTimeout", "clearTimeout",
  "setInterval", "clearInterval", "performance", "EventSource", "WebSocket", "Notification",
  "AudioContext", "MediaRecorder", "MediaStream", "RTCPeerConnection", "URLSearchParams",
  "CustomEvent", "EventTarget", "Intl", "Blob", "URL", "history", "location", "globalThis",
  "requestAnimationFrame", "HTMLElement", "CSS", "SafecallSignal", "MutationObserver",
].map((name) => [name, "readonly"]));

export default [
  js.configs.recommended,
  {
    files: ["safecall/web/**/*.js"],
    languageOptions: { ecmaVersion: 2022, sourceType: "module", globals: browser },
    rules: { "no-unused-vars": ["error", { args: "none", caughtErrors: "none" }] },
  },
  {
    // The classic scripts (loaded with <script defer>, not modules).
    files: ["safecall/web/signal.js", "safecall/web/recorder.js", "safecall/web/citizen.js",
            "safecall/web/track.js", "safecall/web/wallboard.js"],
    languageOptions: { sourceType: "script" },
  },
  {
    files: ["tests/js/**/*.js", "tests/calls/*.js", "eslint.config.js"],
    languageOptions: {
      ecmaVersion: 2022, sourceType: "module",
      globals: { ...browser, process: "readonly" },
    },
  },
];
