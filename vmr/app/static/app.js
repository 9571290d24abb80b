// The vmr page: search, play a moment from its first second, share a link that does the same.
// Text from the server only ever reaches the page as text nodes (textContent), never as HTML.
"use strict";

const $ = (id) => document.getElementById(id);
const form = $("search-form");
const input = $("q");
const list = $("results");
const video = $("video");

let moment = null; // {start, end} of what is playing: pause once at its end

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

async function getJson(url) {
  const response = await fetch(url);
  const body = await response.json().catch(() => null);
  if (!response.ok) throw new Error(errorText(body, `${response.status} ${response.statusText}`));
  return body;
}

// Each video's language (ISO 639-1, as Whisper detected it), from /api/videos, asked once.
let languages = null;
function videoLanguages() {
  languages ??= getJson("/api/videos")
    .then((videos) => new Map(videos.map((v) => [v.video_id, v.language])))
    .catch(() => new Map());
  return languages;
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
  status("Searching…");
  list.replaceChildren();
  let found;
  try {
    found = await getJson("/api/search?" + new URLSearchParams({ q: query, k: "10" }));
  } catch (error) {
    status(error.message);
    return;
  }
  if (location.pathname === "/") history.replaceState(null, "", "/?" + new URLSearchParams({ q: query }));
  status(found.length ? `${found.length} moment${found.length > 1 ? "s" : ""}` : "No moments found.");
  const terms = queryTerms(query);
  const spoken = await videoLanguages();
  list.replaceChildren(...found.map((m) => card(m, terms, spoken.get(m.video_id))));
}

function card(m, terms, language) {
  const item = $("card-template").content.firstElementChild.cloneNode(true);
  const link = item.querySelector("a");
  link.href = m.watch;
  link.setAttribute("aria-label", `${m.title}, ${clock(m.start)} to ${clock(m.end)}: ${m.text}`);
  item.querySelector(".thumb").src = m.thumbnail;
  item.querySelector(".title").textContent = m.title;
  item.querySelector(".span").textContent = `${clock(m.start)}–${clock(m.end)}`;
  item.querySelector(".text").append(highlighted(m.text || "(no speech)", terms));
  if (language) item.querySelector(".text").lang = language;
  showLanguage(item.querySelector(".title"), language);
  link.addEventListener("click", (event) => {
    if (event.ctrlKey || event.metaKey || event.shiftKey || event.button !== 0) return; // new tab
    event.preventDefault();
    for (const other of list.querySelectorAll("[aria-current]")) other.removeAttribute("aria-current");
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

async function play(videoId, title, start, end) {
  const src = `/media/${videoId}`;
  if (video.getAttribute("src") !== src) {
    const ready = loaded();
    video.src = src;
    try {
      await ready;
    } catch (error) {
      status(error.message);
      return;
    }
  }
  moment = { start, end };
  video.currentTime = start;
  video.play().catch(() => {}); // autoplay refused (no user gesture): it waits at start, paused
  const watch = new URL(`/watch/${videoId}`, location.origin);
  watch.search = new URLSearchParams({ t: start.toFixed(1), ...(end !== null && { end: end.toFixed(1) }) });
  $("now-title").textContent = title;
  showLanguage($("now-title"), (await videoLanguages()).get(videoId));
  $("now-span").textContent = end !== null ? `${clock(start)}–${clock(end)}` : `from ${clock(start)}`;
  $("share-url").value = watch.href;
  $("now").hidden = false;
  $("placeholder").hidden = true;
}

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
  const query = input.value.trim();
  if (query) search(query);
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
      status(error.message);
    }
  } else if (params.get("q")) {
    input.value = params.get("q");
    search(input.value);
  }
}

start();
