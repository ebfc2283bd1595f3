// The citizen page as an installed app (a module: engines too old for modules skip it, and
// the page works as before). The app starts at /?app=1 (the manifest's start_url); the page
// is "the app" there or when it runs standalone. Only then is the service worker registered
// (/sw.js: the shell and an offline page, nothing of hers): a visit in a browser tab leaves
// no worker and no cache behind.

export function runsAsApp(win = window) {
  const asked = new URLSearchParams(win.location.search).get("app") === "1";
  const standalone = Boolean(win.matchMedia && win.matchMedia("(display-mode: standalone)").matches);
  return asked || standalone || win.navigator.standalone === true;
}

export async function registerWorker(nav = navigator) {
  if (!("serviceWorker" in nav)) return null;  // old engines: the page works online only
  try {
    return await nav.serviceWorker.register("/sw.js", { scope: "/" });
  } catch {
    return null;  // a private window may refuse it; the page works all the same
  }
}

if (runsAsApp()) {
  document.documentElement.dataset.app = "1";
  registerWorker();
  // One-tap SOS, in the app only (loaded on demand: a browser tab does not fetch it).
  import("./sos.js").then((sos) => sos.addButton()).catch(() => {});
}
