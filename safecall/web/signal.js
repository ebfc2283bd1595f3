// One page's side of a session: the signaling protocol of docs/signaling.md, once for
// every page (the citizen page, the console's call, the console's video leg).
//
//   const signal = SafecallSignal.open({ session, token });
//   const socket = SafecallSignal.warm();  // a socket opened ahead (then: open({..., socket}))
//   signal.on("offer", async (message) => { ... });   // one handler per type
//   signal.send({ type: "answer", sdp });              // numbered, kept until acked
//   signal.hangup();                                   // ends it for both sides
//   signal.close();                                    // done: no more reconnects
//
// Handlers get what the server sent: "joined" (with { resumed } as a second argument),
// "peer-joined", "peer-left", "offer", "answer", "candidate", "chat", "hangup", "dtmf",
// "queue", "session-ended" and "error"; and "reconnecting" when the socket was lost and
// a new one is on its way. Handlers run one at a time in the order the messages came
// (an async handler is awaited before the next message is handled), so a candidate is
// never handled before the offer that came first.
//
// The rest is done here: join, then resume after a lost socket (within the grace
// period, with growing delays); acks both ways; what the server has not acknowledged is
// sent again after a resume, numbered on from joined.last_seq (a reloaded page too);
// what comes again after a resume is skipped; a ping every 10 s, and a socket silent for
// two rounds is dropped and resumed. The join and resume tokens live in memory only.
"use strict";

(function () {
  const PING_MS = 10000;
  const ACK_MS = 50;  // the server wants an ack within 100 ms or 32 messages
  const ACK_EVERY = 32;
  const RETRY_MS = 500;
  const RETRY_MAX_MS = 5000;
  const RESEND_MS = 1000;
  // Closes after which coming back would be refused again: see the error that came first.
  const FINAL = [4401, 4403, 4409];
  // Types numbered with the page's seq (docs/signaling.md, "Sequence numbers and acks").
  const NUMBERED = ["offer", "answer", "candidate", "hangup", "chat", "dtmf"];

  class Signal {
    constructor({ session, token, socket }) {
      this.session = session;
      this.token = token;
      this.ws = null;
      /** A socket opened ahead (warm()), taken by the first connect while it is usable. */
      this._warm = socket || null;
      this.resumeToken = null;
      /** The last seq this page gave a message (numbering goes on across sockets). */
      this.seq = 0;
      /** The last server seq handled: a repeat after a resume is skipped. */
      this.lastIn = 0;
      /** Sent, not acknowledged yet: sent again after a resume. */
      this.unacked = [];
      this.retries = 0;
      this.resumes = 0;
      this.closed = false;
      /** Joined on this socket: numbered messages go out; before, they wait in `unacked`. */
      this.joined = false;
      this.handlers = {};
      this._retry = null;
      this._ack = null;
      this._unackedIn = 0;
      this._pinging = null;
      this._nonce = 0;
      this._resending = null;
      this._backlog = false;
      this._ackSeq = 0;
      this._handling = Promise.resolve();
    }

    /** One handler per type (a later one replaces an earlier one); returns this. */
    on(type, handler) {
      this.handlers[type] = handler;
      return this;
    }

    /** An offer, answer, candidate, chat, hangup or dtmf: numbered, resent until acked. */
    send(message) {
      if (!NUMBERED.includes(message.type)) throw new Error("not a relayed message: " + message.type);
      this.seq += 1;
      const numbered = Object.assign({ seq: this.seq }, message);
      this.unacked.push(numbered);
      if (this.joined) this._write(numbered);  // else it goes out on joined
    }

    /**
     * Hang up: the hangup goes out (again after a reconnection if need be) until the
     * server ends the session; the page hears nothing more of it.
     */
    hangup() {
      this.handlers = {};
      this.send({ type: "hangup" });
    }

    /** The page is done with the session: close the socket and stop reconnecting. */
    close() {
      this.closed = true;
      clearTimeout(this._retry);
      clearTimeout(this._ack);
      clearTimeout(this._resending);
      clearInterval(this._pinging);
      if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
    }

    /** Whether the socket is open now (joined or about to be). */
    get connected() {
      return Boolean(this.ws) && this.ws.readyState === WebSocket.OPEN;
    }

    connect() {
      if (this.closed) return;
      let ws = this._warm;
      this._warm = null;
      if (!ws || ws.readyState > WebSocket.OPEN) ws = socket();
      this.ws = ws;
      this.joined = false;
      const hello = () => {
        if (this.resumeToken) {
          this._write({ type: "resume", session: this.session, resume_token: this.resumeToken,
                        last_seq: this.lastIn });
        } else {
          this._write({ type: "join", session: this.session, token: this.token });
        }
      };
      if (ws.readyState === WebSocket.OPEN) hello();
      else ws.onopen = hello;
      // Every 10 s a ping; any frame proves the socket alive. Two silent rounds: a dead
      // socket the browser did not notice (a phone switching networks): drop it, resume.
      let silent = 0;
      ws.onmessage = (event) => {
        silent = 0;
        let message;
        try { message = JSON.parse(event.data); } catch (err) { return; }
        if (ws === this.ws) this._received(message);
      };
      ws.onclose = (event) => this._lost(ws, event.code);
      clearInterval(this._pinging);
      this._pinging = setInterval(() => {
        if (ws !== this.ws || ws.readyState !== WebSocket.OPEN) return;
        if (silent >= 2) {
          ws.onclose = null;
          ws.close();
          this._lost(ws, 1006);
          return;
        }
        silent += 1;
        this._nonce += 1;
        this._write({ type: "ping", nonce: this._nonce });
      }, PING_MS);
    }

    _write(message) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) {
        this.ws.send(JSON.stringify(Object.assign({ v: 1 }, message)));
      }
    }

    /** A lost socket reconnects (0.5 s, 1 s, 2 s ... at most 5 s) and resumes. */
    _lost(ws, code) {
      if (ws !== this.ws) return;
      this.joined = false;
      clearInterval(this._pinging);
      // (1000 alone does not say the session ended: a server echoes it to any close;
      // session-ended, which comes first when it did, has set `closed`.)
      if (this.closed || FINAL.includes(code)) return;
      this._emit("reconnecting", { code });
      const delay = Math.min(RETRY_MAX_MS, RETRY_MS * 2 ** this.retries);
      this.retries += 1;
      clearTimeout(this._retry);
      this._retry = setTimeout(() => this.connect(), delay);
    }

    _received(message) {
      if (typeof message.seq === "number" && message.type !== "ack") {
        this._ackSoon(message.seq);
        if (message.seq <= this.lastIn) return;  // sent again after a resume: handled already
        this.lastIn = message.seq;
      }
      switch (message.type) {
        case "joined":
          this._joined(message);
          return;
        case "ack":
          this.unacked = this.unacked.filter((m) => m.seq > message.seq);
          return;
        case "pong":
          return;
        case "session-ended":
          this.closed = true;  // the server closes with 1000 next: nothing to come back to
          clearTimeout(this._retry);
          break;
        case "peer-joined":
          // backlog_full: the other side had too much waiting; she is back, send again.
          if (this._backlog) { this._backlog = false; this.unacked.forEach((m) => this._write(m)); }
          break;
        case "error":
          this._refused(message);
          break;
        default:
          break;
      }
      this._emit(message.type, message);
    }

    _joined(message) {
      const resumed = Boolean(this.resumeToken);
      if (resumed) this.resumes += 1;
      this.resumeToken = message.resume_token;
      this.retries = 0;
      this.joined = true;
      // What the server holds is done; a page that started afresh (a reload) numbers on.
      this.seq = Math.max(this.seq, message.last_seq);
      this.unacked = this.unacked.filter((m) => m.seq > message.last_seq);
      this.unacked.forEach((m) => this._write(m));
      this._emit("joined", message, { resumed });
    }

    /** Errors the protocol itself answers; the page's handler hears of every error too. */
    _refused(message) {
      switch (message.code) {
        case "rate_limited":  // not taken (nor what followed it): still unacked
        case "bad_seq":  // one before it is missing there
          this._resendSoon();
          break;
        case "backlog_full":
          this._backlog = true;
          break;
        case "going_away":  // this process stops; another takes the session at once
          this.retries = 0;
          break;
        default:
          break;
      }
    }

    /** Everything unacked again in order, in a second (the server drops what it holds). */
    _resendSoon() {
      if (this._resending) return;
      this._resending = setTimeout(() => {
        this._resending = null;
        this.unacked.forEach((m) => this._write(m));
      }, RESEND_MS);
    }

    /** Cumulative acks: within 50 ms, or at once after 32 messages. */
    _ackSoon(seq) {
      this._ackSeq = Math.max(this._ackSeq, seq);
      this._unackedIn += 1;
      const flush = () => {
        clearTimeout(this._ack);
        this._ack = null;
        this._unackedIn = 0;
        this._write({ type: "ack", seq: this._ackSeq });
      };
      if (this._unackedIn >= ACK_EVERY) flush();
      else if (!this._ack) this._ack = setTimeout(flush, ACK_MS);
    }

    _emit(type, message, extra) {
      const handler = this.handlers[type];
      if (!handler) return;
      // One at a time, in order; a handler that throws does not stop the next.
      this._handling = this._handling
        .then(() => handler(message, extra))
        .catch((err) => { console.error("safecall: handling " + type + " failed", err); });
    }
  }

  function socket() {
    const scheme = window.location.protocol === "https:" ? "wss:" : "ws:";
    return new WebSocket(scheme + "//" + window.location.host + "/ws");
  }

  /**
   * A socket to /ws opened now, before the session is known (the console, while the server
   * takes the accept): give it to open() as `socket`, or close() it. The server closes a
   * socket that has not joined within 10 s.
   */
  function warm() {
    return socket();
  }

  /** A side of a session, connecting now (on `options.socket`, from warm(), if given). */
  function open(options) {
    const signal = new Signal(options);
    signal.connect();
    return signal;
  }

  window.SafecallSignal = { open, warm, Signal };
})();
