// The vmr page: search, play a moment from its first second, share a link that does the same.
// Text from the server only ever reaches the page as text nodes (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("search-form");
const input = $("q");
const list = $("results");
const video = $("video");
const MAX_QUERY = 1000; // the API's limit (/api/search?q=: 1-1000 characters)
// Above weak moments (the API's "weak"): when even the best is weak, and after strong ones.
const WEAK_NOTE = "No strong match — closest moments:";
const WEAKER_NOTE = "Weaker matches:";

let moment = null; // {start, end} of what is playing: pause once at its end
let latest = 0; // the number of the latest search: an older answer arriving late is dropped
let inFlight = null; // the AbortController of the search in flight

// Words too common to be worth highlighting.
const STOP = new Set(("a an and are as at be by can do does for from how i if in is it me my of on or " +
  "so that the this to too was we what when where which who why will with you").split(" "));
const WORD = /[\p{L}\p{N}]+/gu;

function clock(seconds) {
  const s = Math.floor(seconds);
  const h = Math.floor(s / 3600);
  const m = Math.floor((s % 3600) / 60);
  const rest = String(s % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${rest}` : `${m}:${rest}`;
}

function status(text) {
  $("status").textContent = text;
}

// Errors are announced (role="alert") and look like errors; a new action clears them.
function showError(text) {
  const box = $("error");
  box.textContent = text;
  box.hidden = false;
}

function clearError() {
  $("error").hidden = true;
  $("error").textContent = "";
}

function errorText(body, fallback) {
  const detail = body && body.detail;
  if (typeof detail === "string") return detail;
  if (Array.isArray(detail)) return detail.map((d) => d.msg).join("; ");
  return fallback;
}

function queryTerms(query) {
  const words = (query.toLowerCase().match(WORD) || []).filter((w) => w.length > 1 && !STOP.has(w));
  return [...new Set(words)];
}

// The phrases a query puts in double quotes: every moment must hold them.
function quoted(query) {
  return [...query.matchAll(/"([^"]+)"/g)].map((m) => m[1].trim()).filter(Boolean);
}

// A word matches a term when equal, or when one is a prefix of the other and both are at least
// four letters: "weights" and "weight", "learn" and "learning".
function matches(word, terms) {
  const w = word.toLowerCase();
  return terms.some((t) => w === t || (Math.min(w.length, t.length) >= 4 && (w.startsWith(t) || t.startsWith(w))));
}

function highlighted(text, terms) {
  const fragment = document.createDocumentFragment();
  let last = 0;
  for (const match of text.matchAll(WORD)) {
    if (!matches(match[0], terms)) continue;
    const mark = document.createElement("mark");
    mark.textContent = match[0];
    fragment.append(text.slice(last, match.index), mark);
    last = match.index + match[0].length;
  }
  fragment.append(text.slice(last));
  return fragment;
}

async function getJson(url, options = {}) {
  const response = await fetch(url, options);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(errorText(body, `${response.status} ${response.statusText}`));
  return body;
}

// A query the API would refuse gets a plain message here, before any request.
function problem(query) {
  if (!query) return "Type what you are looking for, then press Enter.";
  if (query.length > MAX_QUERY) {
    return `That search is ${query.length.toLocaleString("en")} characters long; ` +
      `keep it under ${MAX_QUERY.toLocaleString("en")}.`;
  }
  return null;
}

// Each video as /api/videos lists it (its language, as Whisper detected it; whether it has an
// English translation), by id, asked once.
let entries = null;
function videoEntries() {
  entries ??= getJson("/api/videos")
    .then((videos) => new Map(videos.map((v) => [v.video_id, v])))
    .catch(() => new Map());
  return entries;
}

function showLanguage(element, language) {
  // The language's code beside the title; the text is marked as that language (screen readers, fonts).
  element.querySelector(".lang")?.remove();
  if (!language) return;
  const badge = document.createElement("span");
  badge.className = "lang";
  badge.textContent = language;
  badge.title = new Intl.DisplayNames([navigator.language || "en"], { type: "language" }).of(language) ?? language;
  element.append(badge);
}

async function search(query) {
  const number = ++latest;
  if (inFlight) inFlight.abort(); // the older answer is no longer wanted
  const controller = (inFlight = new AbortController());
  clearError();
  const wrong = problem(query);
  if (wrong) {
    status("");
    showError(wrong);
    return;
  }
  $("library").hidden = true;
  status("Searching…");
  list.replaceChildren();
  let found;
  try {
    found = await getJson("/api/search?" + new URLSearchParams({ q: query, k: "10" }), { signal: controller.signal });
  } catch (error) {
    if (number !== latest) return; // a newer search replaced this one
    status("");
    showError(error.message);
    return;
  }
  if (number !== latest) return;
  inFlight = null;
  if (location.pathname === "/") history.replaceState(null, "", "/?" + new URLSearchParams({ q: query }));
  const phrases = quoted(query);
  if (!found.length) {
    status(phrases.length ? `No moment says or shows ${phrases.map((p) => `“${p}”`).join(" and ")}.` : "No moments found.");
    return;
  }
  status(found[0].weak ? WEAK_NOTE : `${found.length} moment${found.length > 1 ? "s" : ""}`);
  const terms = queryTerms(query);
  const videos = await videoEntries();
  if (number !== latest) return;
  const items = [];
  found.forEach((m, i) => {
    if (m.weak && i > 0 && !found[i - 1].weak) items.push(divider(WEAKER_NOTE));
    items.push(card(m, terms, videos.get(m.video_id)?.language));
  });
  list.replaceChildren(...items);
}

function divider(text) {
  const item = document.createElement("li");
  item.className = "divider";
  item.setAttribute("role", "presentation");
  item.textContent = text;
  return item;
}

function card(m, terms, language) {
  const item = $("card-template").content.firstElementChild.cloneNode(true);
  if (m.weak) item.classList.add("weak");
  const link = item.querySelector("a");
  link.href = m.watch;
  link.setAttribute("aria-label", `${m.weak ? "Weak match: " : ""}${m.title}, ${clock(m.start)} to ${clock(m.end)}: ${m.text}`);
  item.querySelector(".thumb").src = m.thumbnail;
  item.querySelector(".title").textContent = m.title;
  item.querySelector(".span").textContent = `${clock(m.start)}–${clock(m.end)}`;
  item.querySelector(".text").append(highlighted((m.text || "(no speech)").replaceAll("\n", " · "), terms));
  if (language) item.querySelector(".text").lang = language;
  showLanguage(item.querySelector(".title"), language);
  link.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return; // new tab
    event.preventDefault();
    for (const other of document.querySelectorAll("[aria-current]")) other.removeAttribute("aria-current");
    link.setAttribute("aria-current", "true");
    play(m.video_id, m.title, m.start, m.end);
  });
  return item;
}

function loaded() {
  return new Promise((resolve, reject) => {
    video.addEventListener("loadedmetadata", resolve, { once: true });
    video.addEventListener("error", () => reject(new Error("This video cannot be played here.")), { once: true });
  });
}

// The player in sight: on a phone it sits above the results, and a tapped result may be far below.
function bringPlayerIntoView() {
  const box = $("player").getBoundingClientRect();
  if (box.top < 0 || box.bottom > window.innerHeight) {
    $("player").scrollIntoView({ block: "start", behavior: "instant" });
  }
}

async function play(videoId, title, start, end) {
  clearError();
  document.body.classList.add("playing");
  bringPlayerIntoView();
  const src = `/media/${videoId}`;
  if (video.getAttribute("src") !== src) {
    const ready = loaded();
    video.replaceChildren(...captions(videoId, (await videoEntries()).get(videoId)));
    video.src = src;
    try {
      await ready;
    } catch (error) {
      showError(error.message);
      return;
    }
  }
  moment = { start, end };
  video.currentTime = start;
  $("play-moment").hidden = true;
  video.play().catch(() => {
    // The browser refused to start without a click (autoplay policy): say so on the player.
    $("play-moment-label").textContent = `Play from ${clock(start)}`;
    $("play-moment").hidden = false;
  });
  const watch = new URL(`/watch/${videoId}`, location.origin);
  watch.search = new URLSearchParams({ t: start.toFixed(1), ...(end !== null && { end: end.toFixed(1) }) });
  $("now-title").textContent = title;
  showLanguage($("now-title"), (await videoEntries()).get(videoId)?.language);
  $("now-span").textContent = end !== null ? `${clock(start)}–${clock(end)}` : `from ${clock(start)}`;
  $("share-url").value = watch.href;
  $("now").hidden = false;
  $("placeholder").hidden = true;
  bringPlayerIntoView();
}

// The transcript as a caption track (WebVTT, cut into readable cues by the server), and for a
// video in another language indexed with --translate, its English translation as subtitles.
// Both are off until the viewer turns one on (the player's CC control).
function captions(videoId, entry) {
  const track = (kind, label, query, language) => {
    const element = document.createElement("track");
    Object.assign(element, { kind, label, src: `/api/videos/${videoId}/captions.vtt${query}` });
    if (language) element.srclang = language;
    return element;
  };
  const tracks = [track("captions", "Transcript", "", entry?.language)];
  if (entry?.translated) tracks.push(track("subtitles", "English (translated)", "?translation=true", "en"));
  return tracks;
}

$("play-moment").addEventListener("click", () => {
  $("play-moment").hidden = true;
  video.play().catch((error) => showError(`This video cannot be played here (${error.message}).`));
});
video.addEventListener("play", () => {
  $("play-moment").hidden = true;
});

video.addEventListener("timeupdate", () => {
  if (moment && moment.end !== null && video.currentTime >= moment.end) {
    video.pause();
    moment = null;
  }
});
// Seeking elsewhere by hand means the viewer has left the moment: stop guarding its end.
video.addEventListener("seeking", () => {
  if (moment && Math.abs(video.currentTime - moment.start) > 0.5) moment = null;
});

$("copy").addEventListener("click", async () => {
  const field = $("share-url");
  try {
    await navigator.clipboard.writeText(field.value);
    status("Link copied.");
  } catch {
    field.select(); // no clipboard access (plain http off localhost): let Ctrl+C do it
    status("Press Ctrl+C to copy the link.");
  }
});

form.addEventListener("submit", (event) => {
  event.preventDefault();
  search(input.value.trim());
});

document.addEventListener("keydown", (event) => {
  const typing = event.target.closest("input, textarea, select");
  if (event.key === "/" && !typing) {
    event.preventDefault();
    input.focus();
    input.select();
  } else if ((event.key === "ArrowDown" || event.key === "ArrowUp") && event.target.closest("#results, #q")) {
    const links = [...list.querySelectorAll(".card-link")];
    const at = links.indexOf(document.activeElement);
    const next = event.key === "ArrowDown" ? at + 1 : at - 1;
    if (next >= 0 && next < links.length) {
      event.preventDefault();
      links[next].focus();
    }
  }
});

function seconds(text) {
  const value = Number.parseFloat(text);
  return Number.isFinite(value) && value >= 0 ? value : null;
}

// The first screen: the library's videos (each plays from its start) and a few searches to try.
async function showLibrary() {
  let videos;
  let examples = [];
  try {
    [videos, examples] = await Promise.all([getJson("/api/videos"), getJson("/api/examples").catch(() => [])]);
  } catch (error) {
    showError(error.message);
    return;
  }
  if (latest) return; // a search started meanwhile
  if (!videos.length) {
    status("The library is empty: index some lectures with `vmr index FOLDER`, then reload.");
    return;
  }
  status(`${videos.length} video${videos.length > 1 ? "s" : ""}, ${clock(videos.reduce((t, v) => t + v.duration, 0))} in all.`);
  $("videos").replaceChildren(...videos.map(videoItem));
  if (examples.length) {
    $("example-list").replaceChildren(...examples.flatMap((text, i) => {
      const link = document.createElement("a");
      link.href = "/?" + new URLSearchParams({ q: text });
      link.className = "example";
      link.textContent = text;
      link.addEventListener("click", (event) => {
        if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
        event.preventDefault();
        input.value = text;
        search(text);
      });
      return i ? [" · ", link] : [link];
    }));
    $("examples").hidden = false;
  }
  $("library").hidden = false;
}

function videoItem(v) {
  const item = $("video-template").content.firstElementChild.cloneNode(true);
  const link = item.querySelector("a");
  link.href = `/watch/${v.video_id}?t=0`;
  link.setAttribute("aria-label", `${v.title}, ${clock(v.duration)}`);
  item.querySelector(".thumb").src = v.thumbnail;
  item.querySelector(".title").textContent = v.title;
  item.querySelector(".meta").textContent = `${clock(v.duration)} · ${v.words.toLocaleString("en")} words`;
  link.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return;
    event.preventDefault();
    for (const other of document.querySelectorAll("[aria-current]")) other.removeAttribute("aria-current");
    link.setAttribute("aria-current", "true");
    play(v.video_id, v.title, 0, null);
  });
  // Chapters go in item.querySelector(".chapters"): one <li> per chapter, each a link that
  // plays from its start, once /api/videos lists them.
  return item;
}

async function start() {
  const params = new URLSearchParams(location.search);
  const watch = location.pathname.match(/^\/watch\/(\d+)$/);
  if (watch) {
    const t = seconds(params.get("t")) ?? 0;
    const end = seconds(params.get("end"));
    try {
      const entry = await getJson(`/api/videos/${watch[1]}`);
      await play(entry.video_id, entry.title, t, end !== null && end > t ? end : null);
    } catch (error) {
      showError(error.message);
    }
  } else if (params.has("q")) {
    input.value = params.get("q");
    search(input.value.trim());
  } else {
    showLibrary();
  }
}

start();
