// eddy chat page: the browser's own EventSource for the room stream (one per room, shared by the tabs), fetch for everything else.
// The contract (routes, events, ids) is docs/PROTOCOL.md. No framework, no build step.
//
// Rules this file keeps:
// - user-supplied text only ever goes through textContent / Text nodes / anchor elements built with
//   DOM APIs, never innerHTML;
// - every message id is rendered at most once (a Set), so replays after a reconnect are harmless;
// - the page shows what the server has: no message cache; after a `reset` the page drops what the
//   server no longer keeps and says so where the kept history begins;
// - "mine" is decided by the session's user id (GET /session), never by the name typed.

// =================================================================================================
// UI strings: one file per language in web/i18n/ (en.js is the reference), listed in
// web/i18n/languages.js. The page picks the first of navigator.languages it has a file for (by
// primary subtag), else English. A static import: the strings are in place before the first frame.
// =================================================================================================

import * as STRINGS from "./i18n/languages.js";

/** The UI language (a key of STRINGS) and the locale for dates and times, from the browser's list. */
function pickLanguage(languages) {
  for (const tag of languages) {
    const primary = String(tag).toLowerCase().split("-")[0];
    if (Object.hasOwn(STRINGS, primary)) return { lang: primary, locale: String(tag) };
  }
  return { lang: "en", locale: "en" };
}

const { lang: LANG, locale: LOCALE } = pickLanguage(
  navigator.languages?.length ? navigator.languages : [navigator.language ?? "en"],
);
// biome-ignore lint/performance/noDynamicNamespaceImportAccess: no bundler here; the key is picked at run time.
const T = STRINGS[LANG];

// =================================================================================================
// The page
// =================================================================================================

/** Rooms: Unicode letters (with their marks, not first), decimal digits, _ and -, 1–64 code points, NFC.
 * The server also refuses invisible letters (a Hangul filler); the page shows its reason then. */
const ROOM_PATTERN = /^[\p{L}\p{Nd}_-][\p{L}\p{M}\p{Nd}_-]{0,63}$/u;
const DEFAULT_ROOM = "lobby";
const NAME_MAX = 32;
const PAGE_SIZE = 50; // messages per "load older" request
const OFFLINE_AFTER_MS = 4_000; // no connection for this long: say "offline", not just "reconnecting"
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
const REPLAY_SETTLE_MS = 1_500; // when no presence event marks the end of the first replay
const TYPING_SEND_EVERY_MS = 2_000;
const TYPING_SHOW_MS = 4_000;
const GROUP_WITHIN_MS = 5 * 60_000; // one author's messages this close together share one header
const NEAR_BOTTOM_PX = 48; // closer than this to the end counts as "reading the newest"
const LOAD_AHEAD_PX = 400; // start loading older messages this far before the top is reached
const BOT = "bot";
/** The event types of the room stream (`message`: a stored chat message), as PROTOCOL.md lists them. */
const STREAM_EVENTS = ["message", "reset", "presence", "reply-start", "reply-delta", "typing"];

const timeFormat = new Intl.DateTimeFormat(LOCALE, { timeStyle: "short" });
const fullFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "full", timeStyle: "short" });
const dayFormat = new Intl.DateTimeFormat(LOCALE, { weekday: "long", month: "long", day: "numeric" });
const dayYearFormat = new Intl.DateTimeFormat(LOCALE, { dateStyle: "full" });
const collator = new Intl.Collator(LOCALE);

const ui = {
  roomTitle: byId("room-title"),
  people: byId("people"),
  peopleCount: byId("people-count"),
  peopleNames: byId("people-names"),
  peopleList: byId("people-list"),
  status: byId("status"),
  statusText: byId("status-text"),
  identity: byId("identity"),
  name: byId("name"),
  room: byId("room"),
  identityError: byId("identity-error"),
  offline: byId("offline"),
  retryNow: byId("retry-now"),
  welcome: byId("welcome"),
  log: byId("messages"),
  empty: byId("empty"),
  typing: byId("typing"),
  jump: byId("jump"),
  sendForm: byId("send-form"),
  text: byId("text"),
  send: byId("send"),
  error: byId("error"),
  /** The first item of the log: "load older" while there may be more, else where history starts. */
  edge: document.createElement("li"),
  edgeText: document.createElement("span"),
  edgeButton: document.createElement("button"),
  /** "New since you left", placed before the first message that arrived while you were away. */
  divider: document.createElement("li"),
};

const state = {
  joined: false,
  room: "",
  /** @type {EventSource | null} */
  source: null,
  /** The name the open stream gave the server for the presence list (`?user=`), and our id then. */
  streamUser: "",
  streamMe: "",
  /** Bumped whenever the log is cleared: answers meant for the old log are dropped. */
  generation: 0,
  /** connecting | live | reconnecting | offline | idle (not joined) */
  conn: "idle",
  /** The room's stream was open at least once since joining. */
  everLive: false,
  /** The first replay is over (first presence event, or a moment after opening). */
  initialDone: false,
  settleTimer: 0,
  offlineTimer: 0,
  retryTimer: 0,
  backoff: BACKOFF_MIN_MS,
  /** Message ids already in the DOM: a replay after a reconnect must not show one twice. */
  seen: new Set(),
  /** Ids the server gave our own POSTs: "own" even before the session id is known. */
  mine: new Set(),
  /** Our user id, from the session the server keeps in an HttpOnly cookie (GET /session). */
  me: "",
  /** Display name -> the user ids seen posting under it: two people sharing a name are told apart. */
  authors: new Map(),
  /** replyId -> the growing bot bubble (its <li>). */
  replies: new Map(),
  /** replyIds whose final message is already shown: a late reply-start must not resurrect them. */
  finished: new Set(),
  /** The newest message id seen in this room: the resume cursor when the stream is reopened. */
  lastId: "",
  /** Paging state of the log's top: idle (more may exist) | loading | error | done | reset */
  history: { mode: "idle", complete: false },
  /** Whether to keep the view pinned to the newest message (false once the user scrolls up). */
  stick: true,
  /** Where the view was last put at the bottom by the page. */
  pinnedTop: 0,
  scrollQueued: false,
  sending: false,
  /** Messages written while not connected (or whose post could not reach the server), oldest first. */
  outbox: [],
  flushing: false,
  flushTimer: 0,
  /** The day the day separators were labelled on ("Today" is relative). */
  today: "",
  /** Messages from others that arrived while the tab was hidden. */
  unread: 0,
  /** The last message seen before leaving (from localStorage at join, or when the tab was hidden). */
  leftAt: "",
  hiddenAt: "",
  seenTimer: 0,
  typingSentAt: 0,
  typingUnsupported: false,
  /** key (user id, or name) -> { user, timer }: who is typing right now. */
  typers: new Map(),
  /** The last presence event: { count, users: [{userId, user}] | null }. */
  presence: null,
  /** What the error line shows: "send", "identity", "connection", "room"; "" when hidden. */
  errorKind: "",
};

/** This tab's part in the room's one stream for all tabs (see connectRoom). */
const share = {
  /** The channel of this room's tabs; null when not sharing. */
  channel: null,
  /** Aborting it gives the lock up, held or still queued for. */
  abort: null,
  /** Whether this tab holds the room's stream. */
  leader: false,
  /** What the leader tells a tab that comes later: the last presence event (its JSON)... */
  presence: null,
  /** ...and the replies still growing: replyId -> the reply-start event with the text so far. */
  running: new Map(),
  /** ...or why the server refused the room's stream, if it did. */
  refused: "",
};

const SHARE_PREFIX = "eddy.stream.";

init();

// -------------------------------------------------------------------------------------------------
// Start-up, name and room

function init() {
  applyStrings();
  forgetOldCaches();

  ui.edge.className = "history-edge";
  ui.edgeText.className = "edge-text";
  ui.edgeButton.type = "button";
  ui.edgeButton.className = "edge-button";
  ui.edge.append(ui.edgeText, ui.edgeButton);
  ui.edgeButton.addEventListener("click", () => void loadOlder());
  ui.divider.className = "divider-new";
  ui.divider.append(textSpan(T.newSince));

  ui.identity.addEventListener("submit", onIdentitySubmit);
  ui.name.addEventListener("input", onNameInput);
  ui.name.addEventListener("change", onNameChange);
  ui.room.addEventListener("input", () => clearFieldError(ui.room));
  ui.sendForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void send();
  });
  ui.text.addEventListener("keydown", onComposerKeydown);
  ui.text.addEventListener("input", onComposerInput);
  ui.log.addEventListener("scroll", onScroll, { passive: true });
  ui.jump.addEventListener("click", () => {
    scrollToNewest();
    ui.log.focus({ preventScroll: true }); // the button is gone: keep the keyboard where the news is
  });
  ui.retryNow.addEventListener("click", () => {
    if (!state.joined) return;
    state.backoff = BACKOFF_MIN_MS;
    openStream();
  });
  new IntersectionObserver((entries) => entries.some((entry) => entry.isIntersecting) && maybeLoadOlder(), {
    root: ui.log,
    rootMargin: `${LOAD_AHEAD_PX}px 0px 0px 0px`,
  }).observe(ui.edge);
  new ResizeObserver(() => state.stick && pinToBottom()).observe(ui.log);
  window.addEventListener("pagehide", storeSeen);
  document.addEventListener("visibilitychange", onVisibilityChange);
  window.addEventListener("offline", () => state.joined && state.conn !== "live" && setConn("offline"));
  window.addEventListener("online", () => state.joined && !state.source && openStream());
  window.addEventListener("popstate", () => {
    const room = roomFromUrl();
    if (room && state.joined && room !== state.room) joinRoom(room);
  });

  const name = (storageGet("eddy.name") ?? "").trim();
  ui.name.value = name;
  const room = roomFromUrl() ?? validRoom(storageGet("eddy.room") ?? "") ?? DEFAULT_ROOM;
  ui.room.value = room;
  const session = loadSession(); // before the stream: the room lists only people with a session

  ui.log.replaceChildren(ui.edge);
  setConn("idle");
  renderEdge();
  // Someone who joined before comes straight back in; a newcomer joins in one step (name, room, Join).
  if (name !== "" && nameProblem(name) === "") {
    ui.welcome.hidden = true;
    ui.text.focus();
    void session.then(() => state.joined || joinRoom(room));
  } else {
    ui.welcome.hidden = false;
    ui.name.focus();
  }
}

/** Puts the UI language's strings into the static page (data-i18n attributes). */
function applyStrings() {
  document.documentElement.lang = LANG;
  for (const element of document.querySelectorAll("[data-i18n]")) element.textContent = T[element.dataset.i18n];
  for (const element of document.querySelectorAll("[data-i18n-placeholder]")) {
    element.placeholder = T[element.dataset.i18nPlaceholder];
  }
  for (const element of document.querySelectorAll("[data-i18n-label]")) {
    element.setAttribute("aria-label", T[element.dataset.i18nLabel]);
  }
  document.title = T.appTitle;
}

/**
 * Who we are: "mine" is decided by this id, never by the name in the box (anyone can type a
 * name). The answer also sets the session cookie the stream needs to list us in the room.
 */
async function loadSession() {
  try {
    const response = await fetch("/session");
    const body = await response.json();
    if (typeof body?.userId === "string") setMe(body.userId);
  } catch {
    // Offline: own messages are still known by the ids our posts get back.
  }
}

function setMe(userId) {
  if (state.me === userId) return;
  state.me = userId;
  for (const item of ui.log.querySelectorAll(".msg")) markOwn(item);
  if (state.presence) renderPeople();
  // A stream opened without this session is counted but not listed: reopen it (it resumes by id).
  if (state.source && state.streamMe !== userId) openStream();
}

/** The room named by the address (`?room=x`, `#x` or `#room=x`), NFC; null if none or invalid. */
function roomFromUrl() {
  const fromQuery = new URLSearchParams(location.search).get("room");
  let fromHash = decodeURIComponentSafe(location.hash.slice(1));
  if (fromHash.startsWith("room=")) fromHash = fromHash.slice(5);
  return validRoom(fromQuery || fromHash);
}

function validRoom(text) {
  const room = String(text ?? "")
    .trim()
    .normalize("NFC");
  return ROOM_PATTERN.test(room) ? room : null;
}

/** Why a name cannot be used, in the UI language; "" if it can (the server has the last word). */
function nameProblem(name) {
  if (name === "") return T.needName;
  if ([...name].length > NAME_MAX) return T.nameTooLong;
  return "";
}

/** The name to list us under in the room (`?user=`): the name box, when it looks acceptable. */
function presenceName() {
  const name = ui.name.value.trim().normalize("NFC");
  return nameProblem(name) === "" && name.toLowerCase() !== BOT ? name : "";
}

function onIdentitySubmit(event) {
  event.preventDefault();
  const name = ui.name.value.trim().normalize("NFC");
  const room = ui.room.value.trim().normalize("NFC");
  const problem = nameProblem(name);
  if (problem !== "") return showFieldError(ui.name, problem);
  if (!ROOM_PATTERN.test(room)) return showFieldError(ui.room, T.badRoom);
  clearFieldError(ui.name);
  clearFieldError(ui.room);
  ui.name.value = name;
  ui.room.value = room;
  storageSet("eddy.name", name);
  if (!state.joined || room !== state.room) joinRoom(room);
  else if (presenceName() !== state.streamUser) openStream(); // same room, new name for the list
  ui.text.focus();
}

function onNameInput() {
  storageSet("eddy.name", ui.name.value.trim());
  clearFieldError(ui.name);
  if (state.errorKind === "send" || state.errorKind === "identity") clearError();
}

/** A name edited after joining: the room's list of who is here follows (the stream resumes by id). */
function onNameChange() {
  if (state.joined && presenceName() !== state.streamUser) openStream();
}

function showFieldError(input, text) {
  input.setAttribute("aria-invalid", "true");
  ui.identityError.textContent = text;
  ui.identityError.hidden = false;
  ui.identityError.dataset.for = input.id;
  input.focus();
}

function clearFieldError(input) {
  input.removeAttribute("aria-invalid");
  if (ui.identityError.dataset.for === input.id) {
    ui.identityError.hidden = true;
    ui.identityError.textContent = "";
    delete ui.identityError.dataset.for;
  }
}

function joinRoom(room) {
  closeStream();
  disarmOfflineTimer();
  setConn("connecting");
  if (state.errorKind === "room" || state.errorKind === "connection") clearError();
  returnOutboxToComposer(); // unsent messages belong to the room we leave: give them back
  storeSeen();
  state.joined = true;
  state.room = room;
  storageSet("eddy.room", room);
  ui.room.value = room;
  ui.roomTitle.textContent = `#${room}`;
  ui.welcome.hidden = true;
  state.unread = 0;
  updateTitle();
  // Keep the address shareable: it names the room we are in (URLSearchParams percent-encodes it).
  const url = new URL(location.href);
  url.searchParams.set("room", room);
  url.hash = "";
  history.replaceState(null, "", url);

  state.presence = null;
  ui.people.hidden = true;
  clearTypers();
  clearLog();
  state.lastId = "";
  state.leftAt = storageGet(seenKey(room)) ?? "";
  state.everLive = false;
  state.initialDone = false;
  connectRoom(room);
}

/** Empties the log (room switch, or a `reset`: the server no longer has what it showed). */
function clearLog() {
  state.generation++;
  ui.log.replaceChildren(ui.edge, ...state.outbox.map((entry) => entry.item));
  state.seen.clear();
  state.replies.clear();
  state.finished.clear();
  state.authors.clear();
  state.history = { mode: "idle", complete: false };
  state.stick = true;
  ui.jump.hidden = true;
  renderEdge();
  updateEmpty();
}

// -------------------------------------------------------------------------------------------------
// The event stream and the connection state

function openStream() {
  closeStream();
  // Another tab holds the room's stream: ask it how things stand instead (see connectRoom).
  if (share.channel && !share.leader) return share.channel.postMessage({ kind: "hello" });
  share.refused = "";
  const url = streamUrl();
  const source = new EventSource(url);
  state.source = source;
  state.streamUser = presenceName();
  state.streamMe = state.me;
  if (state.conn !== "offline") setConn(state.everLive ? "reconnecting" : "connecting");
  armOfflineTimer();

  // Events of a stream we have since closed (room switch, retry) must not touch the page.
  const live = (handler) => (event) => {
    if (source === state.source) handler(event);
  };
  // Each event goes to the room's other tabs first (when this tab leads them), then to this page.
  const on = (type) =>
    source.addEventListener(
      type,
      live((event) =>
        withJson(event, (data) => {
          relay(type, event.data, data);
          handlerOf(type)(data);
        }),
      ),
    );
  source.onopen = live(onOpen);
  source.onerror = live(() => onStreamError(source, url));
  for (const type of STREAM_EVENTS) on(type);
}

function handlerOf(type) {
  switch (type) {
    case "message":
      return onChatMessage;
    case "reset":
      return onReset;
    case "presence":
      return onPresence;
    case "reply-start":
      return onReplyStart;
    case "reply-delta":
      return onReplyDelta;
    case "typing":
      return onTyping;
    default:
      return () => {};
  }
}

function streamUrl() {
  const url = new URL(`/rooms/${encodeURIComponent(state.room)}/events`, location.origin);
  // Resume after what this page already shows. The browser sends Last-Event-ID by itself on its
  // own reconnects; this query parameter covers a fresh EventSource (retry, new name).
  if (state.lastId) url.searchParams.set("lastEventId", state.lastId);
  const user = presenceName();
  if (user) url.searchParams.set("user", user);
  return url;
}

function closeStream() {
  clearTimeout(state.retryTimer);
  state.source?.close();
  state.source = null;
}

function onOpen() {
  disarmOfflineTimer();
  state.backoff = BACKOFF_MIN_MS;
  state.everLive = true;
  setConn("live");
  if (state.errorKind === "connection") clearError();
  if (!state.initialDone) {
    clearTimeout(state.settleTimer);
    state.settleTimer = setTimeout(markInitialDone, REPLAY_SETTLE_MS);
  }
  void flushOutbox();
}

function onStreamError(source, url) {
  interruptReplies(); // whatever was streaming will not grow until we are back
  clearTypers();
  armOfflineTimer();
  if (state.conn === "live" || state.conn === "connecting") setConn(state.everLive ? "reconnecting" : "connecting");
  // CONNECTING: the browser is already retrying by itself (server restart, network blip).
  if (source.readyState === EventSource.CONNECTING) return;
  // CLOSED: the browser gave up (an error status, e.g. a room the server refuses). Find out why;
  // if it is worth retrying, reopen ourselves later, with a growing delay and some jitter.
  closeStream();
  void explainRefusal(url).then((refused) => {
    if (refused || state.source || !state.joined) return;
    const delay = state.backoff * (0.75 + Math.random() * 0.5);
    state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX_MS);
    state.retryTimer = setTimeout(openStream, delay);
  });
}

/** Asks the stream URL again with fetch, which can read a refusal's reason; true if refused for good. */
async function explainRefusal(url) {
  const generation = state.generation;
  try {
    const response = await fetch(url, { headers: { accept: "text/event-stream" } });
    if (response.ok) {
      void response.body?.cancel();
      return false;
    }
    if (response.status === 429 || response.status >= 500) return false;
    const body = await response.json().catch(() => null);
    if (generation !== state.generation) return true;
    const reason = typeof body?.error === "string" ? body.error : `HTTP ${response.status}`;
    showRefusal(reason);
    // The room's other tabs wait on this stream: they say why too.
    if (share.leader && share.channel) {
      share.refused = reason;
      share.channel.postMessage({ kind: "refused", reason });
    }
    return true;
  } catch {
    return false;
  }
}

/** The server refuses the room's stream for good (its reason, in its words): no retrying. */
function showRefusal(reason) {
  showError(T.roomRefused(reason), "room");
  disarmOfflineTimer();
  setConn("offline");
  ui.offline.hidden = true; // not a connection problem: the error line says what is wrong
}

function armOfflineTimer() {
  if (state.offlineTimer) return;
  state.offlineTimer = setTimeout(() => {
    state.offlineTimer = 0;
    if (state.joined && state.conn !== "live") setConn("offline");
  }, OFFLINE_AFTER_MS);
}

function disarmOfflineTimer() {
  clearTimeout(state.offlineTimer);
  state.offlineTimer = 0;
}

function setConn(name) {
  if (share.leader && share.channel) share.channel.postMessage({ kind: "conn", conn: name });
  state.conn = name;
  ui.status.dataset.state = name;
  ui.statusText.textContent = T.status[name];
  document.body.dataset.connection = name;
  ui.offline.hidden = name !== "offline";
  for (const entry of state.outbox) renderPending(entry);
}

// -------------------------------------------------------------------------------------------------
// One stream for all of this browser's tabs in a room
//
// A browser opens at most six HTTP/1.1 connections to one server: a seventh tab of the chat would
// wait for ever, and every tab's stream is one more connection for the server to feed. So the tabs
// of a room elect a leader with a Web Lock: it alone holds the EventSource and relays each event on
// a BroadcastChannel. The others show what it relays, and load the history themselves (GET
// /rooms/:room/messages, as on scrolling back). When the leader goes (its tab closed, or it left
// the room), the next tab in the lock's queue opens its own stream, resuming after the last id it
// showed: nothing is lost in the handover. Without Web Locks or BroadcastChannel each tab keeps its
// own stream.

function connectRoom(room) {
  leaveShare();
  if (typeof BroadcastChannel !== "function" || !navigator.locks) return openStream();
  const name = SHARE_PREFIX + room;
  const channel = new BroadcastChannel(name);
  const abort = new AbortController();
  Object.assign(share, { channel, abort, leader: false });
  channel.onmessage = (event) => {
    if (share.channel === channel) onShared(event.data);
  };
  const lead = () => {
    if (abort.signal.aborted) return undefined;
    share.leader = true;
    share.presence = null;
    share.refused = "";
    share.running.clear();
    openStream(); // resumes after state.lastId when this tab followed until now
    // Held until this tab leaves the room; closing the tab frees it too.
    return new Promise((resolve) => abort.signal.addEventListener("abort", resolve, { once: true }));
  };
  navigator.locks
    .request(name, { ifAvailable: true }, (lock) => {
      if (lock) return lead();
      if (abort.signal.aborted) return undefined;
      follow();
      // In line for the stream: when the leader goes, this tab takes over.
      navigator.locks.request(name, { signal: abort.signal }, lead).catch(() => {});
      return undefined;
    })
    .catch(() => {});
}

function leaveShare() {
  share.abort?.abort();
  share.channel?.close();
  Object.assign(share, { channel: null, abort: null, leader: false, presence: null, refused: "" });
  share.running.clear();
}

function follow() {
  setConn(state.everLive ? "reconnecting" : "connecting");
  armOfflineTimer();
  share.channel.postMessage({ kind: "hello" });
}

/** The leader's side: keeps what a later tab needs, and sends the event on. */
function relay(type, raw, data) {
  if (!share.leader || !share.channel) return;
  if (type === "presence") share.presence = raw;
  else if (type === "reset") share.running.clear();
  else if (type === "reply-start" && typeof data.replyId === "string") {
    share.running.set(data.replyId, { ...data, text: String(data.text ?? "") });
  } else if (type === "reply-delta" && typeof data.delta === "string") {
    const reply = share.running.get(data.replyId);
    if (reply) reply.text += data.delta;
  } else if (type === "message" && typeof data.replyId === "string") share.running.delete(data.replyId);
  share.channel.postMessage({ kind: "event", type, data: raw });
}

function onShared(message) {
  if (share.leader) {
    if (message?.kind !== "hello") return;
    const running = [...share.running.values()];
    const { presence, refused } = share;
    share.channel.postMessage({ kind: "state", conn: state.conn, presence, running, refused });
    return;
  }
  if (message?.kind === "refused" || (message?.kind === "state" && message.refused)) {
    return showRefusal(String(message.kind === "refused" ? message.reason : message.refused));
  }
  if (message?.kind === "event" && typeof message.data === "string") {
    withJson(message, handlerOf(message.type));
  } else if (message?.kind === "conn") {
    followConn(message.conn);
  } else if (message?.kind === "state") {
    followConn(message.conn);
    if (typeof message.presence === "string") withJson({ data: message.presence }, onPresence);
    // As the server does on a reconnect mid-reply: each with its whole text so far.
    if (Array.isArray(message.running)) for (const reply of message.running) onReplyStart(reply);
  }
}

/** A following tab's connection state is the leader's. */
function followConn(conn) {
  if (conn === "live") {
    if (state.errorKind === "room") clearError(); // the leader got in after all
    if (state.conn !== "live") onOpen();
  } else if (state.conn === "live") {
    interruptReplies();
    clearTypers();
    armOfflineTimer();
    setConn("reconnecting");
  }
}

function withJson(event, handler) {
  let data;
  try {
    data = JSON.parse(event.data);
  } catch {
    console.warn("eddy: ignoring an event whose data is not JSON", event.type, event.data);
    return;
  }
  if (data && typeof data === "object") handler(data);
}

/** The first replay is over: place the "new since you left" divider, look for older history. */
function markInitialDone() {
  clearTimeout(state.settleTimer);
  if (state.initialDone || !state.joined) return;
  state.initialDone = true;
  placeNewDivider();
  updateEmpty();
  maybeLoadOlder();
}

// -------------------------------------------------------------------------------------------------
// Stream events

function onChatMessage(message) {
  if (!isMessage(message)) return;
  state.lastId = message.id;
  if (state.seen.has(message.id)) return; // a replay of something already on screen
  state.seen.add(message.id);
  forgetTyper(message.userId, message.user);
  const item = renderMessage(message);
  const growing = message.replyId ? state.replies.get(message.replyId) : undefined;
  if (message.replyId) {
    state.finished.add(message.replyId);
    state.replies.delete(message.replyId);
  }
  settleOutbox(message.id); // our own queued message is now in the room: its placeholder goes
  if (growing?.isConnected) {
    item.classList.toggle("cont", growing.classList.contains("cont"));
    growing.replaceWith(item);
  } else {
    appendMessage(item);
  }
  noteAuthor(item);
  if (state.initialDone && document.visibilityState === "hidden" && !item.classList.contains("own")) {
    state.unread++;
    updateTitle();
  }
  updateEmpty();
  contentChanged(true);
  scheduleSeen();
}

function isMessage(message) {
  return typeof message?.id === "string" && message.id !== "" && typeof message.text === "string";
}

function onReset(info) {
  // The server could not resume from our cursor. Everything this page shows is older than what the
  // server keeps: drop it, and say where the kept history begins (everything kept follows).
  clearLog();
  state.lastId = ""; // the cursor means nothing here any more; the replay brings the new one
  void loadSession(); // a restarted server may have a new session secret (setMe reopens the stream)
  state.history = { mode: "reset", complete: false };
  renderEdge();
  const notice = renderNotice(info.reason === "history-truncated" ? T.resetTruncated : T.resetUnknown);
  notice.classList.add("history-start");
  appendAtEnd(notice);
}

/** Bot replies that were growing stop (no caret) until their text comes again or they finish. */
function interruptReplies() {
  for (const item of state.replies.values()) setStreaming(item, false);
}

function onReplyStart(reply) {
  if (typeof reply.replyId !== "string" || state.finished.has(reply.replyId)) return;
  const existing = state.replies.get(reply.replyId);
  if (existing) {
    // Re-sent after a reconnect mid-reply: it carries the whole text so far.
    setStreaming(existing, true);
    textNodeOf(existing).data = String(reply.text ?? "");
    contentChanged(false);
    return;
  }
  const item = renderMessage({ ...reply, id: "", text: String(reply.text ?? "") }, true);
  setStreaming(item, true);
  state.replies.set(reply.replyId, item);
  appendMessage(item);
  updateEmpty();
  contentChanged(true);
}

function onReplyDelta(chunk) {
  const item = state.replies.get(chunk.replyId);
  if (!item || typeof chunk.delta !== "string") return;
  if (!item.classList.contains("streaming")) setStreaming(item, true);
  textNodeOf(item).appendData(chunk.delta);
  contentChanged(false);
}

function setStreaming(item, streaming) {
  item.classList.toggle("streaming", streaming);
  item.classList.toggle("interrupted", !streaming);
  if (streaming)
    item.setAttribute("aria-busy", "true"); // screen readers wait for the final message
  else item.removeAttribute("aria-busy");
  const note = item.querySelector(".reply-note");
  if (note) note.hidden = streaming;
}

// -------------------------------------------------------------------------------------------------
// Rendering (text only through textContent, Text nodes and anchors built with DOM APIs)

/** One message bubble; `streaming`: a growing bot reply (one Text node that deltas append to). */
function renderMessage(message, streaming = false) {
  const item = document.createElement("li");
  item.className = "msg";
  if (message.id) item.dataset.id = message.id;
  if (message.replyId) item.dataset.replyId = message.replyId;
  const user = String(message.user ?? "");
  const userId = typeof message.userId === "string" ? message.userId : "";
  item.dataset.user = user;
  item.dataset.userId = userId;
  if (user === BOT && userId === "") item.classList.add("bot");
  if (message.error === true) item.classList.add("failed");
  const date = new Date(message.time);
  const time = document.createElement("time");
  if (!Number.isNaN(date.getTime())) {
    item.dataset.time = String(date.getTime());
    item.dataset.day = dayKey(date);
    time.dateTime = date.toISOString();
    time.title = fullFormat.format(date);
    time.textContent = timeFormat.format(date);
  }
  markOwn(item);

  const meta = document.createElement("div");
  meta.className = "meta";
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = user;
  const tag = document.createElement("span");
  tag.className = "author-tag";
  tag.hidden = true;
  meta.append(author, tag);
  if (item.classList.contains("failed")) meta.append(textSpan(T.replyFailed, "note"));
  meta.append(time);

  const body = document.createElement("p");
  body.className = "text";
  if (streaming) body.append(document.createTextNode(message.text));
  else appendLinkified(body, message.text);
  item.append(meta, body);
  if (streaming) {
    const note = textSpan(T.interrupted, "reply-note");
    note.hidden = true;
    item.append(note);
  }
  return item;
}

// http(s) URLs. The host is ASCII (so Korean right after a link, "https://example.com에서", is not
// taken in); path, query and fragment may hold any non-space character.
const URL_PATTERN = /\bhttps?:\/\/[A-Za-z0-9.-]+(?::\d{1,5})?(?:[/?#][^\s<>"'`]*)?/g;
const TRAILING = /[.,;:!?。、，．！？」』]$/u;

/** Appends `text` to `parent` as Text nodes, with http(s) URLs as anchors (never parsed as HTML). */
function appendLinkified(parent, text) {
  let last = 0;
  for (const match of text.matchAll(URL_PATTERN)) {
    const url = trimUrl(match[0]);
    let href;
    try {
      href = new URL(url).href;
    } catch {
      continue;
    }
    if (match.index > last) parent.append(document.createTextNode(text.slice(last, match.index)));
    const link = document.createElement("a");
    link.href = href;
    link.rel = "noopener noreferrer";
    link.target = "_blank";
    link.textContent = url;
    parent.append(link);
    last = match.index + url.length;
  }
  if (last < text.length || last === 0) parent.append(document.createTextNode(text.slice(last)));
}

/** Drops punctuation that ends the sentence rather than the URL, and unbalanced closing brackets. */
function trimUrl(url) {
  for (;;) {
    const end = url.at(-1);
    const pairs = { ")": "(", "]": "[", "}": "{" };
    if (TRAILING.test(url)) url = url.slice(0, -1);
    else if (end in pairs && count(url, pairs[end]) < count(url, end)) url = url.slice(0, -1);
    else return url;
  }
}

function count(text, char) {
  return text.split(char).length - 1;
}

function renderNotice(text) {
  const item = document.createElement("li");
  item.className = "notice";
  item.textContent = text;
  return item;
}

function renderDay(item) {
  const day = document.createElement("li");
  day.className = "day";
  day.dataset.day = item.dataset.day;
  day.append(textSpan(dayLabel(new Date(Number(item.dataset.time)))));
  return day;
}

/** A tab left open past midnight: "Today" has become "Yesterday" (and so on). */
function relabelDaysAfterMidnight() {
  const today = dayKey(new Date());
  if (state.today === today) return;
  state.today = today;
  for (const day of ui.log.querySelectorAll(".day")) {
    const item = day.nextElementSibling?.classList.contains("msg") ? day.nextElementSibling : null;
    if (item?.dataset.time) day.firstElementChild.textContent = dayLabel(new Date(Number(item.dataset.time)));
  }
}

function dayKey(date) {
  return `${date.getFullYear()}-${date.getMonth() + 1}-${date.getDate()}`;
}

function dayLabel(date) {
  const today = new Date();
  const yesterday = new Date(today.getFullYear(), today.getMonth(), today.getDate() - 1);
  if (dayKey(date) === dayKey(today)) return T.today;
  if (dayKey(date) === dayKey(yesterday)) return T.yesterday;
  return (date.getFullYear() === today.getFullYear() ? dayFormat : dayYearFormat).format(date);
}

function textSpan(text, className = "") {
  const span = document.createElement("span");
  if (className) span.className = className;
  span.textContent = text;
  return span;
}

function textNodeOf(item) {
  const body = item.querySelector(".text");
  if (!body.firstChild) body.append(document.createTextNode(""));
  return body.firstChild;
}

/** Own messages: ids we posted, or our session's user id (never just the same name). */
function markOwn(item) {
  if (item.classList.contains("pending")) return;
  const own = state.mine.has(item.dataset.id) || (state.me !== "" && item.dataset.userId === state.me);
  item.classList.toggle("own", own);
}

/** Who wrote a message, for grouping: the user id (the bot has none) and the name shown. */
function authorKey(item) {
  return `${item.dataset.userId || (item.classList.contains("bot") ? "~bot" : "")}\n${item.dataset.user}`;
}

/** Whether `item` continues `previous`'s group (same author, a few minutes apart, both plain). */
function groupable(previous, item) {
  if (!previous?.classList.contains("msg") || previous.classList.contains("pending")) return false;
  const gap = Number(item.dataset.time) - Number(previous.dataset.time);
  return authorKey(previous) === authorKey(item) && gap >= 0 && gap < GROUP_WITHIN_MS;
}

/** Adds a message at the end of the log (before our pending messages), with a day separator when
 * the day changes and grouped with the message before it when the same author continues. */
function appendMessage(item) {
  relabelDaysAfterMidnight();
  const anchor = tailAnchor();
  const before = anchor ? anchor.previousElementSibling : ui.log.lastElementChild;
  let previous = before;
  while (previous && !previous.classList.contains("msg")) previous = previous.previousElementSibling;
  if (item.dataset.day && previous?.dataset.day !== item.dataset.day) ui.log.insertBefore(renderDay(item), anchor);
  else if (before === previous && groupable(previous, item)) item.classList.add("cont");
  ui.log.insertBefore(item, anchor);
}

function appendAtEnd(node) {
  ui.log.insertBefore(node, tailAnchor());
}

/** The first pending (outbox) bubble: new messages go before it, so ours stay last until sent. */
function tailAnchor() {
  for (const entry of state.outbox) if (entry.item.parentNode === ui.log) return entry.item;
  return null;
}

/**
 * Remembers who posted under a name; once two different user ids share one, every message of
 * that name shows a short tag from its author's id, so they can be told apart.
 */
function noteAuthor(item) {
  const { user, userId } = item.dataset;
  if (!userId) return;
  const ids = state.authors.get(user) ?? new Set();
  state.authors.set(user, ids);
  const before = ids.size;
  ids.add(userId);
  if (ids.size > 1 && before !== ids.size) {
    for (const other of ui.log.querySelectorAll(".msg")) if (other.dataset.user === user) showTag(other);
  }
  if (ids.size > 1) showTag(item);
}

function showTag(item) {
  const tag = item.querySelector(".author-tag");
  if (!tag || !item.dataset.userId) return;
  tag.textContent = ` #${shortId(item.dataset.userId)}`;
  tag.title = T.sharedName;
  tag.hidden = false;
}

function shortId(userId) {
  return userId.slice(0, 4);
}

function updateEmpty() {
  ui.empty.hidden = !(state.joined && state.initialDone && ui.log.querySelector(".msg") === null);
}

// -------------------------------------------------------------------------------------------------
// Older history: "load older" at the top of the log, down to where the room's history starts

function renderEdge() {
  const { mode, complete } = state.history;
  ui.edge.dataset.state = mode;
  ui.edge.hidden = !state.joined || mode === "reset";
  const text = {
    idle: "",
    loading: T.loadingOlder,
    error: T.loadFailed,
    done: complete ? T.startOfRoom : T.startNotKept,
    reset: "",
  }[mode];
  ui.edgeText.textContent = text;
  ui.edgeText.hidden = text === "";
  const hide = mode === "done" || mode === "reset" || ui.edge.hidden;
  // A focused button that hides would drop the focus to the page body: hand it to the log.
  if (hide && document.activeElement === ui.edgeButton) ui.log.focus({ preventScroll: true });
  ui.edgeButton.hidden = mode === "done" || mode === "reset";
  ui.edgeButton.textContent = ui.edgeButton.hidden
    ? ""
    : mode === "error"
      ? T.retry
      : mode === "loading"
        ? T.loadingOlder
        : T.loadOlder;
  ui.edgeButton.setAttribute("aria-disabled", String(mode === "loading"));
  if (mode === "loading") ui.edgeText.hidden = true; // the button says it
}

/** Loads the next older page if the top of the log is (nearly) in view. */
function maybeLoadOlder() {
  if (!state.joined || state.history.mode !== "idle" || ui.edge.hidden) return;
  if (state.stick) pinToBottom(); // where the view is about to be (the scroll waits for a frame)
  const edge = ui.edge.getBoundingClientRect();
  const view = ui.log.getBoundingClientRect();
  if (edge.bottom >= view.top - LOAD_AHEAD_PX) void loadOlder();
}

async function loadOlder() {
  const history = state.history;
  if (!state.joined || history.mode === "loading" || history.mode === "done" || history.mode === "reset") return;
  const first = ui.log.querySelector(".msg[data-id]")?.dataset.id;
  // An empty log asks for the newest page only once the stream's own replay is over (it would
  // bring the same messages, maybe in between).
  if (!first && !state.initialDone) return;
  const generation = state.generation;
  const hadFocus = document.activeElement === ui.edgeButton;
  history.mode = "loading";
  renderEdge();
  const url = new URL(`/rooms/${encodeURIComponent(state.room)}/messages`, location.origin);
  if (first) url.searchParams.set("before", first);
  url.searchParams.set("limit", String(PAGE_SIZE));
  let next = { mode: "error", complete: false };
  try {
    const response = await fetch(url, { headers: { accept: "application/json" } });
    const body = await response.json().catch(() => null);
    if (generation !== state.generation) return;
    if (response.ok && Array.isArray(body?.messages)) {
      prependMessages(body.messages.filter(isMessage));
      next =
        body.hasMore === true ? { mode: "idle", complete: false } : { mode: "done", complete: body.complete === true };
    }
  } catch {
    // offline: the error state offers a retry
  }
  if (generation !== state.generation) return;
  state.history = next;
  renderEdge();
  if (hadFocus && ui.edgeButton.hidden) ui.log.focus({ preventScroll: true });
  if (next.mode === "idle") requestAnimationFrame(maybeLoadOlder);
}

/** Puts a page of older messages (oldest first) above the log, keeping what the reader sees still. */
function prependMessages(messages) {
  const fragment = document.createDocumentFragment();
  const added = [];
  let previous = null;
  for (const message of messages) {
    if (state.seen.has(message.id)) continue;
    state.seen.add(message.id);
    if (message.replyId) state.finished.add(message.replyId);
    const item = renderMessage(message);
    if (item.dataset.day && previous?.dataset.day !== item.dataset.day) fragment.append(renderDay(item));
    else if (groupable(previous, item)) item.classList.add("cont");
    fragment.append(item);
    added.push(item);
    previous = item;
  }
  if (previous === null) return;
  // No live message yet (a following tab): the newest of the page is the cursor to resume after.
  if (state.lastId === "") state.lastId = added.at(-1).dataset.id;
  // Where the page meets the log: one day separator, and one group if the author continues.
  let next = ui.edge.nextElementSibling;
  if (next?.classList.contains("day") && next.dataset.day === previous.dataset.day) {
    next.remove();
    next = ui.edge.nextElementSibling;
    if (next?.classList.contains("msg") && groupable(previous, next)) next.classList.add("cont");
  }
  const log = ui.log;
  const fromBottom = log.scrollHeight - log.scrollTop;
  log.setAttribute("aria-busy", "true"); // screen readers: older history is not news
  ui.edge.after(fragment);
  for (const item of added) noteAuthor(item);
  if (state.stick) pinToBottom();
  else log.scrollTop = log.scrollHeight - fromBottom;
  requestAnimationFrame(() => log.removeAttribute("aria-busy"));
  placeNewDivider();
  updateEmpty();
}

// -------------------------------------------------------------------------------------------------
// Scrolling: follow the newest message unless the user scrolled up to read

function onScroll() {
  const log = ui.log;
  const atBottom = log.scrollHeight - log.scrollTop - log.clientHeight < NEAR_BOTTOM_PX;
  // The event of our own scroll to the bottom may come after more content arrived: still pinned
  // unless the reader moved up from where we put the view.
  state.stick = atBottom || (state.stick && log.scrollTop >= state.pinnedTop - 2);
  if (state.stick) {
    ui.jump.hidden = true;
    scheduleSeen();
  }
  // Near the top: older history, whether or not the edge's intersection changed (an observer
  // only reports changes, and one computed before the first scroll may never report this one).
  if (log.scrollTop < LOAD_AHEAD_PX) maybeLoadOlder();
}

/** Something was added or grew: follow it if reading the newest, else offer the pill (for news). */
function contentChanged(news) {
  if (state.stick) {
    if (state.scrollQueued) return;
    state.scrollQueued = true; // once per frame, however many messages came in it
    requestAnimationFrame(() => {
      state.scrollQueued = false;
      if (state.stick) pinToBottom();
    });
  } else if (news) {
    ui.jump.hidden = false;
  }
}

function pinToBottom() {
  ui.log.scrollTop = ui.log.scrollHeight;
  state.pinnedTop = ui.log.scrollTop;
}

function scrollToNewest() {
  pinToBottom();
  state.stick = true;
  ui.jump.hidden = true;
  scheduleSeen();
}

// -------------------------------------------------------------------------------------------------
// Unread count, last seen message, "new since you left"

function onVisibilityChange() {
  if (document.visibilityState === "hidden") {
    state.hiddenAt = state.lastId;
    storeSeen();
    return;
  }
  if (state.unread > 0 && state.hiddenAt) {
    state.leftAt = state.hiddenAt;
    placeNewDivider();
  }
  state.unread = 0;
  updateTitle();
  scheduleSeen();
  relabelDaysAfterMidnight();
}

function updateTitle() {
  if (!state.joined) return;
  document.title = state.unread > 0 ? T.unreadTitle(state.unread, state.room) : T.pageTitle(state.room);
}

/** Remembers the newest message as seen, while the tab is visible and the reader at the bottom. */
function scheduleSeen() {
  if (state.seenTimer || document.visibilityState === "hidden" || !state.stick) return;
  state.seenTimer = setTimeout(storeSeen, 300);
}

function storeSeen() {
  clearTimeout(state.seenTimer);
  state.seenTimer = 0;
  if (state.joined && state.lastId && document.visibilityState !== "hidden" && state.stick) {
    storageSet(seenKey(state.room), state.lastId);
  }
}

function seenKey(room) {
  return `eddy.seen.${room}`;
}

/** Puts the divider before the first message from someone else after the last one seen. */
function placeNewDivider() {
  if (!state.leftAt) return;
  const anchor = ui.log.querySelector(`.msg[data-id="${CSS.escape(state.leftAt)}"]`);
  if (!anchor) return;
  let next = anchor.nextElementSibling;
  while (next && !(next.matches(".msg[data-id]") && !next.classList.contains("own"))) next = next.nextElementSibling;
  if (!next) return;
  const day = next.previousElementSibling;
  ui.log.insertBefore(ui.divider, day?.classList.contains("day") ? day : next);
  next.classList.remove("cont"); // the divider starts a new group
}

// -------------------------------------------------------------------------------------------------
// Sending, and the outbox of messages written while not connected

function onComposerKeydown(event) {
  // Enter sends, Shift+Enter is a new line; Enter that confirms an IME composition is neither.
  if (event.key !== "Enter" || event.shiftKey || event.isComposing || event.keyCode === 229) return;
  event.preventDefault();
  void send();
}

async function send() {
  const text = ui.text.value;
  if (text.trim() === "") return;
  if (!state.joined) {
    showError(T.needJoin, "identity");
    ui.name.focus();
    return;
  }
  const user = ui.name.value.trim();
  const problem = nameProblem(user);
  if (problem !== "") {
    showError(problem, "identity");
    ui.name.focus();
    return;
  }
  state.typingSentAt = 0; // the next message's first keystroke says "typing" again
  if (state.conn !== "live") {
    enqueue(text, user); // not connected: it waits, visibly, and goes out when we are back
    ui.text.value = "";
    return;
  }
  if (state.sending) return;
  state.sending = true;
  ui.send.disabled = true;
  try {
    const key = newKey();
    const result = await post(state.room, text, user, key);
    if (result.ok) {
      if (ui.text.value === text) ui.text.value = "";
      if (state.errorKind === "send") clearError();
      scrollToNewest();
    } else if (result.network) {
      enqueue(text, user, key); // the post may have arrived: its retry says so with the same key
      if (ui.text.value === text) ui.text.value = "";
      showError(T.unreachable, "connection");
      flushLater();
    } else {
      showError(T.refused(result.error), "send"); // the text stays in the box, to fix and resend
    }
  } finally {
    state.sending = false;
    ui.send.disabled = false;
    ui.text.focus();
  }
}

/**
 * POSTs one message; the answer as { ok, id } or { ok: false, error, transient, network }. `key`
 * (Idempotency-Key) names the message across retries: a post whose answer was lost and is sent
 * again is stored once, and answered with the first one's id.
 */
async function post(room, text, user, key) {
  try {
    const response = await fetch(`/rooms/${encodeURIComponent(room)}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json", "idempotency-key": key },
      body: JSON.stringify({ user, text }),
    });
    const body = await response.json().catch(() => null);
    if (response.ok) {
      if (typeof body?.userId === "string") setMe(body.userId);
      if (typeof body?.id === "string") claimOwn(body.id);
      return { ok: true, id: typeof body?.id === "string" ? body.id : "" };
    }
    const transient = response.status === 429 || response.status >= 500;
    return { ok: false, transient, error: body?.error ?? T.sendFailed(response.status) };
  } catch {
    return { ok: false, transient: true, network: true, error: T.unreachable };
  }
}

/** The stream may deliver our message before the POST answers: mark it wherever it is. */
function claimOwn(id) {
  state.mine.add(id);
  const item = ui.log.querySelector(`.msg[data-id="${CSS.escape(id)}"]`);
  if (item) item.classList.add("own");
}

/** A new Idempotency-Key: 128 random bits in hex (crypto.randomUUID needs a secure context). */
function newKey() {
  return Array.from(crypto.getRandomValues(new Uint8Array(16)), (byte) => byte.toString(16).padStart(2, "0")).join("");
}

function enqueue(text, user, key = newKey()) {
  const item = document.createElement("li");
  item.className = "msg own pending";
  const meta = document.createElement("div");
  meta.className = "meta";
  meta.append(textSpan(user, "author"));
  const body = document.createElement("p");
  body.className = "text";
  body.append(document.createTextNode(text));
  const status = document.createElement("div");
  status.className = "pending-status";
  const label = textSpan("", "pending-label");
  const button = document.createElement("button");
  button.type = "button";
  button.className = "pending-button";
  status.append(label, button);
  item.append(meta, body, status);
  const entry = { room: state.room, text, user, key, item, status: "waiting", id: "", error: "" };
  button.addEventListener("click", () => returnToComposer(entry));
  state.outbox.push(entry);
  renderPending(entry);
  ui.log.append(item);
  updateEmpty();
  scrollToNewest();
}

function renderPending(entry) {
  const [label, button] = entry.item.querySelector(".pending-status").children;
  const failed = entry.status === "failed";
  entry.item.classList.toggle("failed", failed);
  label.textContent = failed
    ? T.notSent(entry.error)
    : entry.status !== "waiting"
      ? T.sending
      : state.conn === "live"
        ? T.retrying
        : T.pending;
  button.textContent = failed ? T.edit : T.cancel;
  button.hidden = entry.status === "sending" || entry.status === "awaiting";
}

async function flushOutbox() {
  if (state.flushing) return;
  state.flushing = true;
  clearTimeout(state.flushTimer);
  try {
    for (;;) {
      const entry = state.outbox.find((candidate) => candidate.status === "waiting");
      if (!entry || state.conn !== "live") return;
      entry.status = "sending";
      renderPending(entry);
      const result = await post(entry.room, entry.text, entry.user, entry.key);
      if (!state.outbox.includes(entry)) continue; // cancelled meanwhile
      if (result.ok) {
        if (state.errorKind === "connection") clearError(); // the server is reachable again
        entry.id = result.id;
        entry.status = "awaiting"; // its bubble goes when the stream brings the real message
        if (!result.id || state.seen.has(result.id)) dropEntry(entry);
        else renderPending(entry);
      } else if (result.transient) {
        entry.status = "waiting";
        renderPending(entry);
        flushLater();
        return;
      } else {
        entry.status = "failed";
        entry.error = result.error;
        renderPending(entry);
      }
    }
  } finally {
    state.flushing = false;
  }
}

/** Tries the outbox again in a moment (the stream reopening also flushes it at once). */
function flushLater() {
  clearTimeout(state.flushTimer);
  state.flushTimer = setTimeout(() => void flushOutbox(), 2_000);
}

/** A message with this id reached the stream: the placeholder of the post that made it goes. */
function settleOutbox(id) {
  const entry = state.outbox.find((candidate) => candidate.id === id);
  if (entry) dropEntry(entry);
}

function dropEntry(entry) {
  state.outbox = state.outbox.filter((candidate) => candidate !== entry);
  entry.item.remove();
}

/** Cancel / Edit on a queued message: it leaves the queue and its text goes back into the box. */
function returnToComposer(entry) {
  dropEntry(entry);
  ui.text.value = ui.text.value.trim() === "" ? entry.text : `${entry.text}\n${ui.text.value}`;
  ui.text.focus();
  updateEmpty();
}

function returnOutboxToComposer() {
  const texts = state.outbox.filter((entry) => entry.status !== "awaiting").map((entry) => entry.text);
  for (const entry of state.outbox) entry.item.remove();
  state.outbox = [];
  if (texts.length > 0) ui.text.value = [...texts, ui.text.value].filter((text) => text.trim() !== "").join("\n");
}

function showError(text, kind) {
  ui.error.textContent = text;
  ui.error.hidden = false;
  state.errorKind = kind;
}

function clearError() {
  ui.error.textContent = "";
  ui.error.hidden = true;
  state.errorKind = "";
}

// -------------------------------------------------------------------------------------------------
// Typing indicator

/** Tells the room we are typing: at most once every 2 s, only while connected and with a name. */
function onComposerInput() {
  if (!state.joined || state.conn !== "live" || state.typingUnsupported) return;
  if (ui.text.value.trim() === "") return;
  const user = presenceName();
  if (!user) return;
  const now = Date.now();
  if (now - state.typingSentAt < TYPING_SEND_EVERY_MS) return;
  state.typingSentAt = now;
  fetch(`/rooms/${encodeURIComponent(state.room)}/typing`, {
    method: "POST",
    headers: { "content-type": "application/json" },
    body: JSON.stringify({ user }),
  }).then(
    (response) => {
      if (response.status === 404 || response.status === 405) state.typingUnsupported = true;
    },
    () => {},
  );
}

function onTyping(info) {
  const user = typeof info.user === "string" ? info.user : "";
  const userId = typeof info.userId === "string" ? info.userId : "";
  if (user === "" || (userId !== "" && userId === state.me)) return; // never our own
  const key = userId || `name:${user}`;
  clearTimeout(state.typers.get(key)?.timer);
  const timer = setTimeout(() => {
    state.typers.delete(key);
    renderTyping();
  }, TYPING_SHOW_MS);
  state.typers.set(key, { user, timer });
  renderTyping();
}

/** Their message arrived: they are no longer typing it. */
function forgetTyper(userId, user) {
  const key = typeof userId === "string" && userId !== "" ? userId : `name:${user}`;
  const typer = state.typers.get(key);
  if (!typer) return;
  clearTimeout(typer.timer);
  state.typers.delete(key);
  renderTyping();
}

function clearTypers() {
  for (const typer of state.typers.values()) clearTimeout(typer.timer);
  state.typers.clear();
  renderTyping();
}

function renderTyping() {
  const names = [...state.typers.values()].map((typer) => typer.user);
  ui.typing.textContent =
    names.length === 0
      ? ""
      : names.length === 1
        ? T.typingOne(names[0])
        : names.length === 2
          ? T.typingTwo(names[0], names[1])
          : T.typingMany;
}

// -------------------------------------------------------------------------------------------------
// Who is here

function onPresence(info) {
  markInitialDone(); // our own presence comes right after the replay
  const count = Number(info.subscribers);
  if (!Number.isFinite(count)) return;
  const users = Array.isArray(info.users)
    ? info.users.filter((entry) => typeof entry?.user === "string" && entry.user !== "")
    : null;
  state.presence = { count, users };
  renderPeople();
}

function renderPeople() {
  const { count, users } = state.presence;
  ui.people.hidden = false;
  ui.peopleCount.textContent = T.people(count);
  const people = [];
  const ids = new Set();
  for (const entry of users ?? []) {
    const id = typeof entry.userId === "string" ? entry.userId : "";
    if (id !== "" && ids.has(id)) continue; // one person with two tabs
    ids.add(id);
    people.push({ user: entry.user, userId: id, you: id !== "" && id === state.me });
  }
  people.sort((a, b) => Number(b.you) - Number(a.you) || collator.compare(a.user, b.user));
  const byName = new Map();
  for (const person of people) byName.set(person.user, (byName.get(person.user) ?? 0) + 1);
  const label = (person) =>
    `${person.user}${(byName.get(person.user) ?? 0) > 1 && person.userId ? ` #${shortId(person.userId)}` : ""}`;
  ui.peopleNames.textContent = people.length > 0 ? ` · ${people.map(label).join(", ")}` : "";
  const items = people.map((person) => {
    const item = document.createElement("li");
    item.textContent = person.you ? `${label(person)} (${T.you})` : label(person);
    if (person.you) item.className = "you";
    return item;
  });
  const others = users ? count - people.length : 0; // unnamed, or past the 50 names the server lists
  if (others > 0) {
    const item = document.createElement("li");
    item.className = "others";
    item.textContent = T.others(others);
    items.push(item);
  }
  ui.peopleList.replaceChildren(...items);
  ui.people.classList.toggle("no-list", items.length === 0);
}

// -------------------------------------------------------------------------------------------------
// Storage (localStorage; every failure there is harmless) and helpers

/** Earlier versions kept a copy of each room's messages here; the page now shows the server's. */
function forgetOldCaches() {
  try {
    for (const key of Object.keys(localStorage)) if (key.startsWith("eddy.log.")) localStorage.removeItem(key);
  } catch {
    // storage disabled
  }
}

function storageGet(key) {
  try {
    return localStorage.getItem(key);
  } catch {
    return null; // storage disabled (privacy mode): the page still works, it just forgets
  }
}

function storageSet(key, value) {
  try {
    localStorage.setItem(key, value);
  } catch {
    // full or disabled: nothing to do
  }
}

function byId(id) {
  const element = document.getElementById(id);
  if (!element) throw new Error(`eddy: the page has no #${id}`);
  return element;
}

function decodeURIComponentSafe(text) {
  try {
    return decodeURIComponent(text);
  } catch {
    return "";
  }
}
