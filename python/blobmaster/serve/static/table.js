// BlobMaster web table: plain JavaScript, no build step.
// The server holds the game and answers with the view of the person's seat
// only; this page draws it, sends the person's bids and cards, and asks the
// server for the agents' moves one at a time with a short delay between.
// document.body.dataset.state tells what the page waits for:
// setup, starting, agents, sending, your-bid, your-card, over.
"use strict";

const SUIT = { S: "♠", H: "♥", C: "♣", D: "♦" };
const SUIT_ORDER = ["S", "H", "C", "D"];
const $ = (id) => document.getElementById(id);
const sleep = (ms) => new Promise((resolve) => setTimeout(resolve, ms));

let config = { delay_ms: 600, agent: "" };
let gameId = null;
let view = null;
let eventCount = 0;
let lastEvent = null;
let busy = false;
let hints = null;
let replaying = false;
let generation = 0;

async function api(method, path, body) {
  const init = { method, headers: {} };
  if (body !== undefined) {
    init.headers["Content-Type"] = "application/json";
    init.body = JSON.stringify(body);
  }
  const res = await fetch(path, init);
  if (res.status === 204) return null;
  let data = null;
  try { data = await res.json(); } catch (_) { /* not JSON */ }
  if (!res.ok) throw new Error(data && data.detail ? data.detail : `HTTP ${res.status}`);
  return data;
}

function el(tag, className, text) {
  const node = document.createElement(tag);
  if (className) node.className = className;
  if (text !== undefined) node.textContent = text;
  return node;
}

function setState(state) { document.body.dataset.state = state; }
function status(text) { $("status").textContent = text; }
function showError(text) { $("message").textContent = text || ""; }

function cardEl(name, tag = "div") {
  const suit = name.slice(-1);
  const node = el(tag, "card" + (suit === "H" || suit === "D" ? " red" : ""));
  if (view && view.trump === suit) node.classList.add("trump");
  node.dataset.card = name;
  node.append(el("span", "rank", name.slice(0, -1)), el("span", "suit", SUIT[suit]));
  node.setAttribute("aria-label", name);
  return node;
}

function describe(e) {
  const who = view.names[e.seat];
  const you = e.seat === view.seat;
  if (e.kind === "bid") return `${who} ${you ? "bid" : "bids"} ${e.bid}`;
  return `${who} ${you ? "play" : "plays"} ${e.card}`;
}

function absorb(data) {
  view = data;
  gameId = data.id;
  for (const e of data.events) {
    if (e.index < eventCount) continue;
    logEvent(e);
    lastEvent = e;
  }
  eventCount = data.event_count;
  hints = null;
  showError("");
}

function logEvent(e) {
  const log = $("log");
  log.append(el("li", "", describe(e)));
  if (e.trick) {
    const w = e.trick.winner;
    log.append(el("li", "trick", `${view.names[w]} ${w === view.seat ? "win" : "wins"} the trick`));
  }
  if (e.round_result) {
    const r = e.round_result;
    const scores = r.scores.map((s, i) => `${view.names[i]} ${s}`).join(", ");
    log.append(el("li", "round", `Round ${r.round_index + 1} over: ${scores}`));
  }
  log.scrollTop = log.scrollHeight;
}

// ------------------------------------------------------------------ drawing

function render() {
  if (!view) return;
  renderInfo();
  renderOpponents();
  renderMe();
  if (!replaying) renderTrick();
  renderBids();
  renderHand();
  renderScores();
  renderHistory();
  $("hint-button").disabled = !view.your_turn || busy;
  $("replay-button").disabled = !view.last_trick || replaying;
}

function renderInfo() {
  const info = $("info");
  info.textContent = "";
  const round = view.mode === "round" ? "One round" : `Round ${view.round_index + 1} of ${view.rounds}`;
  info.append(`${round} · ${view.cards} card${view.cards === 1 ? "" : "s"} · Trump `);
  const trump = el("span", "trump", view.trump ? `${SUIT[view.trump]} ${view.trump_name}` : "none");
  info.append(trump, ` · Dealer ${view.names[view.dealer]}`);
}

function seatLine(s) {
  const bid = view.bids[s];
  return `bid ${bid === null ? "–" : bid} · won ${view.tricks_won[s]} · ${view.totals[s]} pts`;
}

function renderOpponents() {
  const box = $("opponents");
  box.textContent = "";
  for (let k = 1; k < view.players; k++) {
    const s = (view.seat + k) % view.players;
    const seat = el("div", "seat" + (view.to_move === s ? " to-move" : ""));
    seat.dataset.seat = String(s);
    const name = el("div", "name", view.names[s]);
    if (view.dealer === s) name.append(el("span", "dealer-chip", "dealer"));
    const backs = el("div", "backs");
    for (let i = 0; i < view.hand_sizes[s]; i++) backs.append(el("span", "back"));
    seat.append(name, el("div", "line", seatLine(s)), backs);
    box.append(seat);
  }
}

function renderMe() {
  const me = $("me");
  me.textContent = "";
  me.className = "seat" + (view.your_turn ? " to-move" : "");
  const name = el("div", "name", "You");
  if (view.dealer === view.seat) name.append(el("span", "dealer-chip", "dealer"));
  me.append(name, el("div", "line", seatLine(view.seat)));
}

function drawTrick(cards, winner) {
  const box = $("trick");
  box.textContent = "";
  for (const play of cards) {
    const slot = el("div", "played" + (play.seat === winner ? " winner" : ""));
    slot.append(cardEl(play.card), el("div", "", view.names[play.seat]));
    box.append(slot);
  }
}

function renderTrick() {
  const note = $("trick-note");
  if (view.trick.length > 0 || !lastEvent || !lastEvent.trick) {
    drawTrick(view.trick, null);
    note.textContent = view.trick.length === 0 && view.phase === "play" && view.to_move !== null
      ? `${view.names[view.to_move]} ${view.your_turn ? "lead" : "leads"}` : "";
  } else {
    const w = lastEvent.trick.winner;
    drawTrick(lastEvent.trick.cards, w);
    note.textContent = `${view.names[w]} ${w === view.seat ? "win" : "wins"} the trick`;
  }
  if (lastEvent && lastEvent.round_result && view.trick.length === 0) {
    const r = lastEvent.round_result;
    const made = r.scores.map((s, i) => `${view.names[i]} ${s}`).join(" · ");
    note.textContent += ` — round ${r.round_index + 1} scores: ${made}`;
  }
}

function renderBids() {
  const box = $("bids");
  box.textContent = "";
  if (!view.your_turn || view.phase !== "bid") return;
  for (let b = 0; b <= view.cards; b++) {
    const button = el("button", "bid", String(b));
    button.type = "button";
    button.dataset.bid = String(b);
    if (view.legal_bids.includes(b)) {
      button.addEventListener("click", () => person("bid", b));
    } else {
      button.disabled = true;
      button.title = "the dealer may not make the bids add up to the cards dealt";
    }
    addBadge(button, `bid ${b}`);
    box.append(button);
  }
}

function renderHand() {
  const box = $("hand");
  box.textContent = "";
  let suit = null;
  for (const name of view.hand) {
    if (suit !== null && name.slice(-1) !== suit) box.append(el("span", "gap"));
    suit = name.slice(-1);
    const card = cardEl(name, "button");
    card.type = "button";
    if (view.legal_cards.includes(name)) {
      card.classList.add("legal");
      card.addEventListener("click", () => person("play", name));
    } else {
      card.tabIndex = -1;
    }
    addBadge(card, name);
    box.append(card);
  }
}

function addBadge(node, move) {
  if (!hints || !(move in hints)) return;
  node.append(el("span", "badge", `${Math.round(hints[move] * 100)}%`));
}

function renderScores() {
  const table = $("scores");
  table.textContent = "";
  const head = el("tr");
  for (const h of ["Seat", "Bid", "Won", "Total"]) head.append(el("th", "", h));
  table.append(head);
  for (let s = 0; s < view.players; s++) {
    const row = el("tr", (s === view.to_move ? "to-move " : "") + (s === view.seat ? "you" : ""));
    const bid = view.bids[s];
    row.append(
      el("td", "", view.names[s] + (s === view.dealer ? " (D)" : "")),
      el("td", "", bid === null ? "–" : String(bid)),
      el("td", "", String(view.tricks_won[s])),
      el("td", "", String(view.totals[s])),
    );
    table.append(row);
  }
}

function renderHistory() {
  const table = $("history");
  table.textContent = "";
  const head = el("tr");
  head.append(el("th", "", "#"), el("th", "", "Trump"));
  for (let s = 0; s < view.players; s++) head.append(el("th", "", view.names[s].replace("Agent ", "A")));
  table.append(head);
  for (const r of view.results) {
    const row = el("tr");
    row.append(el("td", "", `${r.round_index + 1} (${r.cards})`), el("td", "", r.trump ? SUIT[r.trump] : "–"));
    r.scores.forEach((score, s) => {
      const made = r.bids[s] === r.tricks_won[s];
      const cell = el("td", made ? "made" : "missed", String(score));
      cell.title = `bid ${r.bids[s]}, won ${r.tricks_won[s]}`;
      row.append(cell);
    });
    table.append(row);
  }
}

// ------------------------------------------------------------------ flow

function settle() {
  if (!view) { setState("setup"); return; }
  if (view.over) {
    setState("over");
    const names = view.winners.map((s) => view.names[s]);
    const you = view.winners.includes(view.seat);
    status(`Game over. ${you ? (names.length > 1 ? "You share the win!" : "You win!") : `${names.join(" and ")} ${names.length > 1 ? "win" : "wins"}.`}`);
  } else if (view.your_turn) {
    setState(view.phase === "bid" ? "your-bid" : "your-card");
    status(view.phase === "bid" ? "Your bid: how many tricks will you take?" : "Your turn: play a highlighted card");
  }
  render();
}

// Each new game starts a new generation: an answer that arrives for an
// older game is dropped, and its loop stops. whileBusy runs `work` with the
// table busy; `work` gets stale(), true once a new game has started, checks
// it after every await and stops there. An error is shown unless the game
// changed meanwhile. It returns false when the game changed (the new game
// owns the page from then on), true otherwise.
async function whileBusy(work) {
  const gen = generation;
  const stale = () => gen !== generation;
  busy = true;
  try {
    await work(stale);
  } catch (err) {
    if (!stale()) showError(err.message);
  } finally {
    if (!stale()) busy = false;
  }
  return !stale();
}

async function runAgents() {
  if (busy) return;
  const current = await whileBusy(async (stale) => {
    while (view && !view.over && !view.your_turn) {
      setState("agents");
      status(`${view.names[view.to_move]} is thinking…`);
      render();
      const finishedTrick = lastEvent && lastEvent.trick;
      await sleep(finishedTrick ? config.delay_ms * 2 : config.delay_ms);
      if (stale()) return;
      const data = await api("POST", `/api/games/${gameId}/step?since=${eventCount}`);
      if (stale()) return;
      absorb(data);
    }
  });
  if (current) settle();
}

async function person(kind, value) {
  if (busy || !view || !view.your_turn) return;
  const current = await whileBusy(async (stale) => {
    setState("sending");
    const body = kind === "bid" ? { bid: value } : { card: value };
    const data = await api("POST", `/api/games/${gameId}/${kind}?since=${eventCount}`, body);
    if (stale()) return;
    absorb(data);
  });
  if (current) runAgents(); // it settles the page once, so a drawn card stays put until then
}

async function showHint() {
  if (!view || !view.your_turn || busy) return;
  try {
    const data = await api("GET", `/api/games/${gameId}/hint`);
    hints = {};
    for (const m of data.policy) hints[m.move] = m.p;
    render();
    const best = data.policy.slice(0, 3).map((m) => `${m.move} ${Math.round(m.p * 100)}%`);
    status(`Hint: ${best.join(", ")}`);
  } catch (err) {
    showError(err.message);
  }
}

async function replayLastTrick() {
  if (!view || !view.last_trick || replaying) return;
  replaying = true;
  render();
  const trick = view.last_trick;
  const step = Math.max(config.delay_ms, 350);
  for (let i = 1; i <= trick.cards.length; i++) {
    drawTrick(trick.cards.slice(0, i), null);
    $("trick-note").textContent = "Last trick…";
    await sleep(step);
  }
  drawTrick(trick.cards, trick.winner);
  $("trick-note").textContent = `Last trick: ${view.names[trick.winner]} ${trick.winner === view.seat ? "win" : "wins"}`;
  await sleep(step * 2);
  replaying = false;
  render();
}

async function newGame(event) {
  if (event) event.preventDefault();
  $("setup").close();
  if (gameId && view && !view.over) api("DELETE", `/api/games/${gameId}`).catch(() => {});
  generation += 1;
  const gen = generation;
  setState("starting");
  gameId = null; view = null; eventCount = 0; lastEvent = null; hints = null; busy = false;
  $("log").textContent = "";
  try {
    const data = await api("POST", "/api/games", {
      players: Number($("players").value),
      cards: Number($("cards").value),
      one_round: $("one-round").checked,
    });
    if (gen !== generation) return;
    absorb(data);
  } catch (err) {
    if (gen !== generation) return;
    showError(err.message);
    $("setup").showModal();
    return;
  }
  runAgents();
}

function limitCards() {
  const most = Math.min(13, Math.floor(52 / Number($("players").value)));
  const input = $("cards");
  input.max = String(most);
  if (Number(input.value) > most) input.value = String(most);
}

async function start() {
  try { config = await api("GET", "/api/config"); } catch (_) { /* keep the defaults */ }
  $("setup-form").addEventListener("submit", newGame);
  $("players").addEventListener("change", limitCards);
  $("new-button").addEventListener("click", () => $("setup").showModal());
  $("hint-button").addEventListener("click", showHint);
  $("replay-button").addEventListener("click", replayLastTrick);
  window.addEventListener("pagehide", () => {
    if (gameId && view && !view.over) navigator.sendBeacon(`/api/games/${gameId}/abandon`);
  });
  status(config.agent ? `Agents: ${config.agent}` : "");
  $("setup").showModal();
}

start();
