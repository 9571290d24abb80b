// The chapters of the video in the player, beside it, the current one marked: a list of
// buttons (start time and title) that seek there. Self-contained: it follows the <video>
// element (its /media/ID source), so the page's own script needs no change.
"use strict";

(() => {
  const video = document.getElementById("video");
  const nav = document.getElementById("chapters");
  const list = document.getElementById("chapter-list");
  if (!video || !nav || !list) return;
  let chapters = [];
  let shownFor = null;

  function clock(seconds) {
    const s = Math.max(0, Math.floor(seconds));
    const h = Math.floor(s / 3600);
    const mm = String(Math.floor((s % 3600) / 60)).padStart(h ? 2 : 1, "0");
    const ss = String(s % 60).padStart(2, "0");
    return h ? `${h}:${mm}:${ss}` : `${mm}:${ss}`;
  }

  function mark() {
    const t = video.currentTime;
    list.querySelectorAll("button").forEach((button, i) => {
      const current = t >= chapters[i].start && (t < chapters[i].end || i === chapters.length - 1);
      if (current) button.setAttribute("aria-current", "true");
      else button.removeAttribute("aria-current");
    });
  }

  async function load() {
    const found = (video.getAttribute("src") || "").match(/^\/media\/(\d+)$/);
    const id = found ? found[1] : null;
    if (id === shownFor) return;
    shownFor = id;
    chapters = [];
    list.replaceChildren();
    nav.hidden = true;
    if (!id) return;
    try {
      const response = await fetch(`/api/videos/${id}/chapters`);
      if (!response.ok || shownFor !== id) return;
      chapters = await response.json();
    } catch {
      return;
    }
    for (const chapter of chapters) {
      const item = document.createElement("li");
      const button = document.createElement("button");
      button.type = "button";
      button.className = "chapter";
      const time = document.createElement("span");
      time.className = "chapter-time";
      time.textContent = clock(chapter.start);
      const title = document.createElement("span");
      title.className = "chapter-title";
      title.textContent = chapter.title;
      button.append(time, title);
      button.addEventListener("click", () => {
        video.currentTime = chapter.start;
        video.play().catch(() => {});
      });
      item.append(button);
      list.append(item);
    }
    nav.hidden = chapters.length === 0;
    mark();
  }

  video.addEventListener("loadedmetadata", load);
  video.addEventListener("timeupdate", mark);
  video.addEventListener("seeked", mark);
})();
