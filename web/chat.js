// eddy chat page: the browser's own EventSource for the room stream, fetch for sending.
// The contract (routes, events, ids) is docs/PROTOCOL.md. No framework, no build step.
//
// Rules this file keeps:
// - user-supplied text only ever goes through textContent / Text nodes, never innerHTML;
// - every message id is rendered at most once (a Set), so replays after a reconnect are harmless;
// - the last seen message id is remembered per room, so a reload resumes instead of starting over.

const ROOM_PATTERN = /^[A-Za-z0-9_-]{1,64}$/;
const DEFAULT_ROOM = "lobby";
const CACHE_LIMIT = 100; // messages kept per room in localStorage, to redraw the log on reload
const BACKOFF_MIN_MS = 1_000;
const BACKOFF_MAX_MS = 30_000;
const NEAR_BOTTOM_PX = 48; // closer than this to the end counts as "reading the newest"

const STATUS_TEXT = {
  connecting: "connecting…",
  live: "live",
  reconnecting: "reconnecting…",
  offline: "offline",
};

const ui = {
  roomTitle: byId("room-title"),
  presence: byId("presence"),
  status: byId("status"),
  statusText: byId("status-text"),
  identity: byId("identity"),
  name: byId("name"),
  room: byId("room"),
  scroller: byId("scroller"),
  empty: byId("empty"),
  log: byId("messages"),
  jump: byId("jump"),
  sendForm: byId("send-form"),
  text: byId("text"),
  send: byId("send"),
  error: byId("error"),
};

const state = {
  name: "",
  room: "",
  /** @type {EventSource | null} */
  source: null,
  /** Message ids already in the DOM: a replay after a reconnect must not show one twice. */
  seen: new Set(),
  /** Ids the server gave our own POSTs: "own" even if the name was changed since. */
  mine: new Set(),
  /** Our user id, from the session the server keeps in an HttpOnly cookie (GET /session). */
  me: "",
  /** Display name -> the user ids seen posting under it: two people sharing a name are told apart. */
  authors: new Map(),
  /** replyId -> the growing bot bubble (its <li>). */
  replies: new Map(),
  /** replyIds whose final message is already shown: a late reply-start must not resurrect them. */
  finished: new Set(),
  /** The newest message id seen in this room: the resume cursor for reopening the stream. */
  lastId: "",
  /** The messages kept for redrawing the room after a reload (newest last). */
  cache: [],
  cacheTimer: 0,
  backoff: BACKOFF_MIN_MS,
  retryTimer: 0,
  /** Whether to keep the view pinned to the newest message (false once the user scrolls up). */
  stick: true,
  sending: false,
};

init();

// ---------------------------------------------------------------------------------------------
// Start-up and room switching

function init() {
  state.name = (storageGet("eddy.name") ?? "").trim();
  ui.name.value = state.name;

  ui.identity.addEventListener("submit", onIdentitySubmit);
  ui.name.addEventListener("input", onNameInput);
  ui.sendForm.addEventListener("submit", (event) => {
    event.preventDefault();
    void send();
  });
  ui.text.addEventListener("keydown", onComposerKeydown);
  ui.scroller.addEventListener("scroll", onScroll, { passive: true });
  ui.jump.addEventListener("click", () => scrollToNewest("smooth"));
  window.addEventListener("resize", () => state.stick && scrollToNewest());
  window.addEventListener("hashchange", () => {
    const room = roomFromUrl();
    if (room && room !== state.room) joinRoom(room);
  });
  window.addEventListener("pagehide", flushCache);
  // Back online: no point waiting for the backoff timer.
  window.addEventListener("online", () => {
    if (!state.source) openStream("reconnecting");
  });

  const wanted = roomFromUrl() ?? storageGet("eddy.room") ?? DEFAULT_ROOM;
  joinRoom(ROOM_PATTERN.test(wanted) ? wanted : DEFAULT_ROOM);
  void loadSession();
  (state.name ? ui.text : ui.name).focus();
}

/** Who we are: "mine" is decided by this id, never by the name in the box (anyone can type a name). */
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
}

/** The room named by the address: `?room=x`, `#x` or `#room=x`; null if none or invalid. */
function roomFromUrl() {
  const fromQuery = new URLSearchParams(location.search).get("room");
  let fromHash = decodeURIComponentSafe(location.hash.slice(1));
  if (fromHash.startsWith("room=")) fromHash = fromHash.slice(5);
  const room = fromQuery || fromHash;
  return room && ROOM_PATTERN.test(room) ? room : null;
}

function joinRoom(room) {
  closeStream();
  flushCache(); // the room we leave keeps its log (before state.room changes)
  state.room = room;
  storageSet("eddy.room", room);

  ui.room.value = room;
  ui.roomTitle.textContent = `#${room}`;
  document.title = `#${room} · eddy chat`;
  ui.presence.textContent = "";
  // Keep the address shareable: it names the room we are in.
  const url = new URL(location.href);
  url.searchParams.set("room", room);
  url.hash = "";
  history.replaceState(null, "", url);

  clearLog();
  restoreCache();
  openStream("connecting");
}

function clearLog() {
  ui.log.replaceChildren();
  state.seen.clear();
  state.replies.clear();
  state.finished.clear();
  state.lastId = "";
  state.cache = [];
  state.stick = true;
  ui.jump.hidden = true;
  updateEmpty();
}

// ---------------------------------------------------------------------------------------------
// The event stream and the connection state

function openStream(status) {
  clearTimeout(state.retryTimer);
  const url = new URL(`/rooms/${encodeURIComponent(state.room)}/events`, location.origin);
  // Resume after what this page already shows. The browser sends Last-Event-ID by itself on its
  // own reconnects; this query parameter covers a fresh EventSource (reload, room switch, retry).
  if (state.lastId) url.searchParams.set("lastEventId", state.lastId);

  const source = new EventSource(url);
  state.source = source;
  setStatus(status);

  // Events of a stream we have since closed (room switch, retry) must not touch the page.
  const live = (handler) => (event) => {
    if (source === state.source) handler(event);
  };
  source.onopen = live(() => {
    state.backoff = BACKOFF_MIN_MS;
    setStatus("live");
  });
  source.onerror = live(() => onStreamError(source));
  source.onmessage = live((event) => withJson(event, onChatMessage));
  source.addEventListener(
    "reset",
    live((event) => withJson(event, onReset)),
  );
  source.addEventListener(
    "presence",
    live((event) => withJson(event, onPresence)),
  );
  source.addEventListener(
    "reply-start",
    live((event) => withJson(event, onReplyStart)),
  );
  source.addEventListener(
    "reply-delta",
    live((event) => withJson(event, onReplyDelta)),
  );
}

function closeStream() {
  clearTimeout(state.retryTimer);
  state.source?.close();
  state.source = null;
}

function onStreamError(source) {
  // CONNECTING: the browser is already retrying by itself (server restart, network blip).
  if (source.readyState === EventSource.CONNECTING) {
    setStatus("reconnecting");
    return;
  }
  // CLOSED: the browser gave up (e.g. an error status or a wrong content type). Reopen ourselves
  // later, with a growing delay and some jitter so a crowd does not come back all at once.
  closeStream();
  setStatus("offline");
  const delay = state.backoff * (0.75 + Math.random() * 0.5);
  state.backoff = Math.min(state.backoff * 2, BACKOFF_MAX_MS);
  state.retryTimer = setTimeout(() => openStream("reconnecting"), delay);
}

function setStatus(name) {
  ui.status.dataset.state = name;
  ui.statusText.textContent = STATUS_TEXT[name];
  document.body.dataset.connection = name;
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

// ---------------------------------------------------------------------------------------------
// Stream events

function onChatMessage(message) {
  if (typeof message.id !== "string" || typeof message.text !== "string") return;
  state.lastId = message.id;
  if (state.seen.has(message.id)) return; // a replay of something already on screen
  showMessage(message);
  remember(message);
}

/** Puts a finished message on screen; a bot reply's final message replaces its growing bubble. */
function showMessage(message) {
  state.seen.add(message.id);
  const item = renderMessage(message);
  const growing = message.replyId ? state.replies.get(message.replyId) : undefined;
  if (message.replyId) {
    state.finished.add(message.replyId);
    state.replies.delete(message.replyId);
  }
  if (growing) {
    growing.replaceWith(item);
    contentChanged();
  } else {
    append(item);
  }
}

function onReset(info) {
  // The server could not resume from our cursor: what it still holds follows, the rest is lost.
  const why =
    info.reason === "unknown-cursor"
      ? "The server no longer knows where this page left off (it may have restarted)"
      : "You were away longer than the room's history reaches";
  append(renderNotice(`${why}: older messages were dropped, so some may be missing here.`));
  if (info.reason === "unknown-cursor") interruptReplies();
}

/**
 * A server that does not know our cursor is probably a new instance: replies that were growing
 * will never finish. Say so instead of leaving a caret blinking forever. They stay in the map, so
 * a re-sent reply-start (same server after all) or their final message still takes over.
 */
function interruptReplies() {
  for (const item of state.replies.values()) {
    item.classList.remove("streaming");
    item.classList.add("interrupted");
    item.removeAttribute("aria-busy");
  }
}

function onPresence(info) {
  const n = Number(info.subscribers);
  if (!Number.isFinite(n)) return;
  ui.presence.textContent = n === 1 ? "1 person here" : `${n} people here`;
}

function onReplyStart(reply) {
  if (typeof reply.replyId !== "string" || state.finished.has(reply.replyId)) return;
  const existing = state.replies.get(reply.replyId);
  if (existing) {
    // Re-sent after a reconnect mid-reply: it carries the whole text so far.
    existing.classList.replace("interrupted", "streaming");
    existing.setAttribute("aria-busy", "true");
    textNodeOf(existing).data = String(reply.text ?? "");
    contentChanged();
    return;
  }
  const item = renderMessage({ ...reply, id: "", text: String(reply.text ?? "") });
  item.classList.add("streaming");
  item.setAttribute("aria-busy", "true"); // screen readers wait for the final message
  state.replies.set(reply.replyId, item);
  append(item);
}

function onReplyDelta(chunk) {
  const item = state.replies.get(chunk.replyId);
  if (!item || typeof chunk.delta !== "string") return;
  textNodeOf(item).appendData(chunk.delta);
  contentChanged();
}

// ---------------------------------------------------------------------------------------------
// Rendering (text only through textContent / Text nodes)

function renderMessage(message) {
  const item = document.createElement("li");
  item.className = "msg";
  if (message.id) item.dataset.id = message.id;
  if (message.replyId) item.dataset.replyId = message.replyId;
  item.dataset.user = String(message.user ?? "");
  item.dataset.userId = typeof message.userId === "string" ? message.userId : "";
  if (message.user === "bot" && !item.dataset.userId) item.classList.add("bot");
  if (message.error === true) item.classList.add("failed");
  markOwn(item);

  const meta = document.createElement("div");
  meta.className = "meta";
  const author = document.createElement("span");
  author.className = "author";
  author.textContent = item.dataset.user;
  const tag = document.createElement("span");
  tag.className = "author-tag";
  tag.hidden = true;
  meta.append(author, tag, " ", renderTime(message.time));

  const body = document.createElement("p");
  body.className = "text";
  body.append(document.createTextNode(message.text)); // exactly one Text node: deltas append to it

  item.append(meta, body);
  return item;
}

function renderTime(iso) {
  const time = document.createElement("time");
  const date = new Date(iso);
  if (Number.isNaN(date.getTime())) return time;
  time.dateTime = date.toISOString();
  time.title = date.toLocaleString();
  const clock = date.toLocaleTimeString([], { hour: "2-digit", minute: "2-digit" });
  const sameDay = date.toDateString() === new Date().toDateString();
  time.textContent = sameDay ? clock : `${date.toLocaleDateString([], { month: "short", day: "numeric" })} ${clock}`;
  return time;
}

function renderNotice(text) {
  const item = document.createElement("li");
  item.className = "notice";
  item.textContent = text;
  return item;
}

function textNodeOf(item) {
  const body = item.querySelector(".text");
  if (!body.firstChild) body.append(document.createTextNode(""));
  return body.firstChild;
}

/** Own messages: ids we posted, or our session's user id (never just the same name). */
function markOwn(item) {
  const own = state.mine.has(item.dataset.id) || (state.me !== "" && item.dataset.userId === state.me);
  item.classList.toggle("own", own);
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
  tag.textContent = ` #${item.dataset.userId.slice(0, 4)}`;
  tag.title = "Another person uses the same name";
  tag.hidden = false;
}

function append(item) {
  ui.log.append(item);
  if (item.classList.contains("msg")) noteAuthor(item);
  updateEmpty();
  contentChanged();
}

function updateEmpty() {
  ui.empty.hidden = ui.log.childElementCount > 0;
}

// ---------------------------------------------------------------------------------------------
// Scrolling: follow the newest message unless the user scrolled up to read

function onScroll() {
  const s = ui.scroller;
  state.stick = s.scrollHeight - s.scrollTop - s.clientHeight < NEAR_BOTTOM_PX;
  if (state.stick) ui.jump.hidden = true;
}

function contentChanged() {
  if (state.stick) scrollToNewest();
  else ui.jump.hidden = false;
}

function scrollToNewest(behavior = "auto") {
  ui.scroller.scrollTo({ top: ui.scroller.scrollHeight, behavior });
  state.stick = true;
  ui.jump.hidden = true;
}

// ---------------------------------------------------------------------------------------------
// Sending

function onComposerKeydown(event) {
  // Enter sends, Shift+Enter is a new line; Enter that confirms an IME composition is neither.
  if (event.key !== "Enter" || event.shiftKey || event.isComposing) return;
  event.preventDefault();
  void send();
}

async function send() {
  const text = ui.text.value;
  if (state.sending || text.trim() === "") return;
  const user = ui.name.value.trim();
  if (user === "") {
    showError("Pick a name first.");
    ui.name.focus();
    return;
  }
  state.sending = true;
  ui.send.disabled = true;
  try {
    const response = await fetch(`/rooms/${encodeURIComponent(state.room)}/messages`, {
      method: "POST",
      headers: { "content-type": "application/json" },
      body: JSON.stringify({ user, text }),
    });
    const body = await response.json().catch(() => null);
    if (!response.ok) {
      // The server says what is wrong in one sentence: show it as it is.
      showError(body?.error ?? `Could not send the message (HTTP ${response.status}).`);
      return;
    }
    if (typeof body?.userId === "string") setMe(body.userId);
    if (typeof body?.id === "string") claimOwn(body.id);
    ui.text.value = "";
    clearError();
    scrollToNewest();
  } catch {
    showError("Could not reach the server; the message was not sent and is still in the box.");
  } finally {
    state.sending = false;
    ui.send.disabled = false;
    ui.text.focus();
  }
}

/** The stream may deliver our message before the POST answers: mark it wherever it is. */
function claimOwn(id) {
  state.mine.add(id);
  const item = ui.log.querySelector(`[data-id="${CSS.escape(id)}"]`);
  if (item) item.classList.add("own");
}

function showError(text) {
  ui.error.textContent = text;
  ui.error.hidden = false;
}

function clearError() {
  ui.error.textContent = "";
  ui.error.hidden = true;
}

// ---------------------------------------------------------------------------------------------
// Name and room

function onNameInput() {
  state.name = ui.name.value.trim();
  storageSet("eddy.name", state.name);
  if (!ui.error.hidden) clearError();
}

function onIdentitySubmit(event) {
  event.preventDefault();
  const room = ui.room.value.trim();
  if (!ROOM_PATTERN.test(room)) {
    showError("A room name is 1–64 letters, digits, _ or -.");
    ui.room.focus();
    return;
  }
  clearError();
  if (room !== state.room) joinRoom(room);
  ui.text.focus();
}

// ---------------------------------------------------------------------------------------------
// Remembering the room across reloads (localStorage; every failure there is harmless)

function restoreCache() {
  let cached = [];
  try {
    cached = JSON.parse(storageGet(cacheKey(state.room)) ?? "[]");
  } catch {
    cached = [];
  }
  if (!Array.isArray(cached)) return;
  for (const message of cached) {
    if (typeof message?.id !== "string" || typeof message.text !== "string") continue;
    if (state.seen.has(message.id)) continue;
    showMessage(message);
    state.cache.push(message);
    state.lastId = message.id;
  }
}

function remember(message) {
  state.cache.push(message);
  if (state.cache.length > CACHE_LIMIT) state.cache.splice(0, state.cache.length - CACHE_LIMIT);
  // A history replay brings many messages at once: write them once, a moment later.
  if (!state.cacheTimer) state.cacheTimer = setTimeout(flushCache, 200);
}

function flushCache() {
  clearTimeout(state.cacheTimer);
  state.cacheTimer = 0;
  if (state.room) storageSet(cacheKey(state.room), JSON.stringify(state.cache));
}

function cacheKey(room) {
  return `eddy.log.${room}`;
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

// ---------------------------------------------------------------------------------------------
// Helpers

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
