// Records a video call in the officer's console and uploads it as it goes.
//
// Her video and both voices (hers and the officer's, mixed) go through the browser's
// MediaRecorder; every few seconds a chunk is sent with PUT /api/recordings/{id}/chunks/{n}
// over the officer's own login. The server hashes and chains each chunk on arrival. Chunks
// wait in memory only (never on disk) until the server has them; when the network breaks,
// uploads resume where the server says (X-Next-Chunk) without losing or repeating a chunk.
// A recording that cannot start or breaks is reported with its reason; the call goes on.
// A session recorded by an earlier page (the console reloaded mid-call) is not appended
// to: a new MediaRecorder starts a new WebM file, which glued after the first would not
// play. Its open recording is closed instead and the new one continues it (`continues`:
// the server closes the earlier part, complete up to its last chunk, naming this one).
//
//   SafecallRecorder.start(sessionId, remoteStream, localStream, caseId)  when her media arrives
//   SafecallRecorder.stop(sessionId)                                       when the call ends
// One recording a session; the console's call and a phone call's video leg each have theirs.
"use strict";

(function () {
  const CHUNK_MS = 4000;
  const TYPES = ["video/webm;codecs=vp8,opus", "video/webm;codecs=vp9,opus", "video/webm"];
  const MAX_WAIT_MS = 15000;
  const current = new Map();  // session id -> its recording in this page
  const mine = new Set();  // ids of the recordings this page started (it closes them itself)

  async function send(method, path, body, raw) {
    const options = { method, credentials: "same-origin", headers: { Accept: "application/json" } };
    if (raw !== undefined) {
      options.headers["Content-Type"] = "application/octet-stream";
      options.body = raw;
    } else if (body !== undefined) {
      options.headers["Content-Type"] = "application/json";
      options.body = JSON.stringify(body);
    }
    try {
      const response = await fetch(path, options);
      let data = null;
      if (response.status !== 204) {
        try { data = await response.json(); } catch (err) { data = null; }
      }
      return { status: response.status, data, next: response.headers.get("X-Next-Chunk") };
    } catch (err) {
      return { status: 0, data: null, next: null };
    }
  }

  function reasonOf(result, fallback) {
    if (result.data && result.data.error) return result.data.error.message;
    return fallback;
  }

  function report(rec, reason) {
    rec.failed = true;
    const text = String(reason).slice(0, 200);
    if (rec.recorder && rec.recorder.state !== "inactive") {
      try { rec.recorder.stop(); } catch (err) { /* already stopped */ }
    }
    if (rec.id) {
      send("POST", "/api/recordings/" + rec.id + "/fail", { reason: text });
    } else {
      send("POST", "/api/sessions/" + encodeURIComponent(rec.sessionId) + "/recording-failures",
           { kind: "video", reason: text });
    }
    document.dispatchEvent(new CustomEvent("safecall:recording", { detail: { state: "failed", reason: text } }));
  }

  /** Her video and one audio track mixing both voices (or hers alone: see below). */
  async function mixed(rec, remote, local) {
    const audio = new AudioContext();
    rec.audio = audio;
    // A console reloaded mid-call has had no click yet, and the browser keeps its sound
    // suspended until one comes: nothing would be mixed. Her voice is recorded alone then.
    if (audio.state !== "running") {
      await Promise.race([audio.resume(), new Promise((resolve) => setTimeout(resolve, 1000))]);
    }
    if (audio.state !== "running") {
      audio.close().catch(() => {});
      rec.audio = null;
      rec.tracks = ["her video", "her voice"];
      return new MediaStream([...remote.getVideoTracks().slice(0, 1), ...remote.getAudioTracks().slice(0, 1)]);
    }
    const out = audio.createMediaStreamDestination();
    for (const stream of [remote, local]) {
      if (stream && stream.getAudioTracks().length) audio.createMediaStreamSource(stream).connect(out);
    }
    return new MediaStream([...remote.getVideoTracks().slice(0, 1), ...out.stream.getAudioTracks()]);
  }

  async function begin(rec, remote, local) {
    if (rec.stopped) return;
    if (typeof MediaRecorder === "undefined") return report(rec, "This browser cannot record (no MediaRecorder).");
    const type = TYPES.find((t) => MediaRecorder.isTypeSupported(t));
    if (!type) return report(rec, "This browser cannot record WebM video.");
    let stream;
    try {
      stream = await mixed(rec, remote, local);
    } catch (err) {
      return report(rec, "The call's media could not be mixed for recording: " + err.name);
    }
    if (rec.stopped) {
      if (rec.audio) rec.audio.close().catch(() => {});
      return;
    }
    const body = { kind: "video", media_type: type, tracks: rec.tracks };
    const earlier = await leftOpen(rec);
    if (earlier) body.continues = earlier;
    const made = await send("POST", "/api/sessions/" + encodeURIComponent(rec.sessionId) + "/recordings", body);
    if (made.status !== 201) return report(rec, reasonOf(made, "The server did not start the recording."));
    rec.id = made.data.id;
    mine.add(rec.id);
    if (rec.stopped) return close(rec);
    const recorder = new MediaRecorder(stream, { mimeType: type, videoBitsPerSecond: 600000 });
    rec.recorder = recorder;
    recorder.ondataavailable = (e) => {
      if (e.data && e.data.size) {
        rec.queue.push({ index: rec.next++, blob: e.data });
        pump(rec);
      }
    };
    recorder.onerror = (e) => report(rec, "The recorder stopped: " + ((e.error && e.error.name) || "error"));
    recorder.onstop = () => { rec.recorderDone = true; pump(rec); };
    rec.started = performance.now();
    recorder.start(CHUNK_MS);
    document.dispatchEvent(new CustomEvent("safecall:recording", { detail: { state: "recording" } }));
  }

  /** The open video recording of this session that an earlier page left (a reload), if any. */
  async function leftOpen(rec) {
    if (rec.caseId == null) return null;
    const listed = await send("GET", "/api/cases/" + encodeURIComponent(rec.caseId) + "/recordings");
    if (listed.status !== 200 || !listed.data) return null;
    const open = listed.data.recordings.filter((r) => r.session_id === rec.sessionId
      && r.kind === "video" && r.state === "open" && !mine.has(r.id));
    return open.length ? open[open.length - 1].id : null;
  }

  /** Uploads queued chunks in order; on a broken network waits and resumes. */
  async function pump(rec) {
    if (rec.uploading || rec.failed) return;
    rec.uploading = true;
    let wait = 500;
    while (rec.queue.length && !rec.failed) {
      const item = rec.queue[0];
      const result = await send("PUT", "/api/recordings/" + rec.id + "/chunks/" + item.index, undefined, item.blob);
      if (result.status === 200 || result.status === 201) {
        rec.queue.shift();
        wait = 500;
      } else if (result.status === 409 && result.data && result.data.error.code === "chunk_out_of_order"
                 && Number(result.next) < item.index) {
        // The server is missing a chunk this page no longer holds: it cannot be made whole.
        report(rec, "Chunk " + result.next + " was lost before the server had it.");
      } else if (result.status === 0 || result.status >= 500 || result.status === 401 || result.status === 429) {
        await new Promise((resolve) => setTimeout(resolve, wait));
        wait = Math.min(wait * 2, MAX_WAIT_MS);
      } else {
        report(rec, reasonOf(result, "The server refused a chunk (" + result.status + ")."));
      }
    }
    rec.uploading = false;
    if (rec.recorderDone && !rec.queue.length && !rec.failed) close(rec);
  }

  async function close(rec) {
    if (rec.closing) return;
    rec.closing = true;
    if (rec.audio) rec.audio.close().catch(() => {});
    const seconds = rec.started ? ((rec.stoppedAt || performance.now()) - rec.started) / 1000 : 0;
    const result = await send("POST", "/api/recordings/" + rec.id + "/close",
                              { duration_seconds: Math.min(seconds, 86400) });
    document.dispatchEvent(new CustomEvent("safecall:recording",
      { detail: { state: result.status === 200 ? "complete" : "incomplete", id: rec.id } }));
  }

  function start(sessionId, remote, local, caseId) {
    // Her audio and video come as two tracks of one stream: one recording. A new stream
    // (the call's media restarted after a reconnection) closes this one and starts the next.
    const now = current.get(sessionId);
    if (now && now.remote === remote) return;
    if (now) stop(sessionId);
    const rec = { sessionId, caseId, remote, tracks: ["her video", "both voices"], id: null, queue: [], next: 0, uploading: false,
                  failed: false, stopped: false, recorderDone: false, closing: false,
                  recorder: null, audio: null };
    current.set(sessionId, rec);
    // Her audio and video tracks arrive one after the other: let both come.
    setTimeout(() => begin(rec, remote, local), 500);
  }

  /** Stops the session's recording (every one without a session id); the last chunk goes up, then it closes. */
  function stop(sessionId) {
    for (const [id, rec] of [...current]) {
      if (sessionId !== undefined && id !== sessionId) continue;
      current.delete(id);
      rec.stopped = true;
      rec.stoppedAt = performance.now();
      if (rec.recorder && rec.recorder.state !== "inactive") rec.recorder.stop();
    }
  }

  window.SafecallRecorder = { start, stop, current: (sessionId) => current.get(sessionId) || null };
})();
