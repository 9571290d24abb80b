"""The `vmr` command: each subcommand is one `Library` call; `--json` for programs."""

from __future__ import annotations

import argparse
import os
import re
import sys
from pathlib import Path

from vmr import __version__
from vmr.app.subtitles import MAX_CUE_SECONDS, MAX_LINE_COUNT, MAX_LINE_WIDTH
from vmr.models.devices import DEVICES
from vmr.app.output import print_json, warn
from vmr.errors import VmrError, not_utf8, os_problem, printable
from vmr.timecode import format_clock


def _positive_float(text: str) -> float:
    value = float(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def _port(text: str) -> int:
    value = int(text)
    if not 0 <= value <= 65535:
        raise argparse.ArgumentTypeError(f"must be 0-65535, not {text}")
    return value


def _time(text: str) -> float:
    """Seconds, or a clock time as vmr prints it (HH:MM:SS.mmm, MM:SS)."""
    try:
        value = sum(float(part) * 60 ** i for i, part in enumerate(reversed(text.split(":"))))
    except ValueError:
        raise argparse.ArgumentTypeError(f"not a time: {text!r} (seconds, or HH:MM:SS.mmm)") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"must not be negative, not {text}")
    return value


def _positive_int(text: str) -> int:
    value = int(text)
    if value <= 0:
        raise argparse.ArgumentTypeError(f"must be positive, not {text}")
    return value


def _ray_option(parser: argparse.ArgumentParser, purpose: str) -> None:
    parser.add_argument("--ray", nargs="?", const="local", metavar="ADDRESS",
                        help=f"{purpose}: a new local one, or ADDRESS (auto: the one `ray start "
                        "--head` runs here; host:port)")


def _check_ray(parser: argparse.ArgumentParser, args: argparse.Namespace) -> None:
    if args.command == "index":
        # `index --ray videos/`: argparse hands the first path to the optional ADDRESS.
        if args.ray not in (None, "local") and Path(args.ray).exists():
            args.paths.insert(0, args.ray)
            args.ray = "local"
        if not args.paths and not args.prune:
            parser.error("the following arguments are required: PATH (or --prune alone)")
        if args.workers and args.ray is None:
            parser.error("--workers needs --ray")
    if args.command in ("search", "eval"):
        # `search --shards 2 --ray "query"`: the query was taken for the optional ADDRESS.
        inputs = ("query", "queries", "image", "audio") if args.command == "search" else ()
        if args.ray not in (None, "local") and inputs and all(getattr(args, name) is None for name in inputs):
            args.query, args.ray = args.ray, "local"
        if args.ray is not None and not args.shards:
            parser.error("--ray needs --shards N")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="vmr", description="Find moments in lecture videos by text.")
    parser.add_argument("--version", action="version", version=f"vmr {__version__}",
                        help="print vmr's version and exit")
    parser.add_argument("--home", help="index folder (default $VMR_HOME, else the user data dir)")
    parser.add_argument("--db", help="SQLAlchemy URL for the catalogue (default: SQLite in --home)")
    parser.add_argument("--device", choices=DEVICES,
                        help="where models run (default: config.toml's, else auto: the GPU when there is one)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="index video files or folders (unchanged files are skipped)")
    p.add_argument("paths", nargs="*", metavar="PATH",  # at least one: see _check_ray
                   help="video files, or folders searched for videos")
    p.add_argument("--asr-backend", choices=("faster-whisper", "openai-whisper"),
                   help="Whisper implementation (default: config.toml's, else faster-whisper)")
    p.add_argument("--asr-model", help="base (default, packaged), tiny.en (packaged), another Whisper "
                   "name (downloads when online) or a local model path")
    p.add_argument("--language", metavar="CODE",
                   help="the language spoken, an ISO 639-1 code such as es (default: config.toml's, else "
                   "auto: Whisper detects each video's on its first speech)")
    p.add_argument("--text-model", help="auto (default: all-MiniLM-L6-v2 for English, multilingual-e5-small once "
                   "the library holds another language), multilingual-e5-small, or a sentence-transformers "
                   "name, hub id or local folder")
    p.add_argument("--visual-model", help="CLIP/SigLIP model for the frames: hub id or local folder "
                   "(default: config.toml's visual_model, else no visual channel)")
    p.add_argument("--clip-seconds", type=_positive_float, metavar="SECONDS",
                   help="length of the clips each video is cut into for search (default 2)")
    p.add_argument("--no-ocr", dest="ocr", action="store_const", const=False,
                   help="do not read slide text (faster; no slides channel)")
    p.add_argument("--translate", action="store_const", const=True,
                   help="also put speech in other languages into English, for English questions "
                        "(a second Whisper pass for those videos)")
    p.add_argument("--json", action="store_true", help="print a JSON report, no progress bars")
    _ray_option(p, "analyse the videos on a Ray cluster")
    p.add_argument("--workers", type=_positive_int, help="Ray workers (default: one per CPU of the cluster)")
    p.add_argument("--wait", action="store_true", help="if another index run is writing, wait for it")
    p.add_argument("--prune", action="store_true",
                   help="forget the videos whose file is gone (without it they are kept, marked missing)")

    p = sub.add_parser("search", help="find moments matching a text query, an image or a spoken question")
    p.add_argument("query", nargs="?", help='what to look for; "quoted words" must be said or shown')
    p.add_argument("-k", type=int, default=10, help="number of moments (default 10)")
    p.add_argument("--queries", type=Path, metavar="FILE",
                   help="one query per line; prints a JSON list of result lists, in order")
    p.add_argument("--image", type=Path, metavar="FILE",
                   help="a screenshot or photo of a slide: the moments that show it, by its words (OCR) and, "
                        "with a visual model, its picture; --json prints {query, moments}")
    p.add_argument("--audio", type=Path, metavar="FILE",
                   help="a recorded question, transcribed by Whisper; --json prints {query, moments}")
    p.add_argument("--json", action="store_true", help="print the moments as a JSON list, best first")
    p.add_argument("--shards", type=_positive_int, default=0,
                   help="search N shards of the clip matrix on Ray workers (default: in process)")
    _ray_option(p, "the cluster for --shards")

    p = sub.add_parser("remove", help="forget an indexed video")
    p.add_argument("paths", nargs="+", metavar="PATH", help="indexed video files (the files stay)")
    p.add_argument("--json", action="store_true", help="print what was removed as JSON")

    p = sub.add_parser("info", help="what is indexed, with which models, and how big")
    p.add_argument("--json", action="store_true", help="print the same as JSON")

    p = sub.add_parser("show", help="what was said and shown in a stretch of an indexed video")
    p.add_argument("video", help="path or video id")
    p.add_argument("start", type=_time, help="seconds or HH:MM:SS.mmm")
    p.add_argument("end", type=_time, help="seconds or HH:MM:SS.mmm")
    p.add_argument("--json", action="store_true", help="print the same as JSON")

    p = sub.add_parser("transcript", help="print an indexed video's transcript")
    p.add_argument("video", help="path or video id")
    p.add_argument("--format", choices=("txt", "srt", "vtt", "json"), default="txt",
                   help="txt: one timed line per segment (default); srt, vtt: subtitles; json: segments and words")
    p.add_argument("--translation", action="store_true",
                   help="its English translation instead (speech in another language, indexed with --translate)")
    p.add_argument("--json", action="store_true", help="same as --format json")
    p.add_argument("--max-line-width", type=_positive_int, default=MAX_LINE_WIDTH, metavar="CHARS",
                   help=f"srt/vtt: characters per subtitle line (default {MAX_LINE_WIDTH})")
    p.add_argument("--max-line-count", type=_positive_int, default=MAX_LINE_COUNT, metavar="LINES",
                   help=f"srt/vtt: lines per cue (default {MAX_LINE_COUNT}); cues also end before "
                        f"{MAX_CUE_SECONDS:g} s and at pauses")

    p = sub.add_parser("chapters", help="print an indexed video's chapters (topics, with titles)")
    p.add_argument("video", help="path or video id")
    p.add_argument("--format", choices=("txt", "json", "vtt", "youtube"), default="txt",
                   help="txt, json, vtt (WebVTT chapters), youtube (\"00:00 Title\" lines)")
    p.add_argument("--json", action="store_true", help="same as --format json")

    p = sub.add_parser("eval", help="score the index against QVHighlights-format annotations")
    p.add_argument("annotations", type=Path, metavar="FILE",
                   help="JSON lines: qid, query, vid (an indexed file's stem), relevant_windows, kind")
    p.add_argument("-k", type=int, default=10,
                   help="moments per query (default 10; mAP and MRR read them all)")
    p.add_argument("--json", action="store_true", help="summaries and every query's moments as JSON")
    p.add_argument("--shards", type=_positive_int, default=0,
                   help="search N shards of the search build on Ray workers (default: in process)")
    _ray_option(p, "the cluster for --shards")

    p = sub.add_parser("check", help="verify the library, and repair what is derived from the catalogue")
    p.add_argument("--prune", action="store_true", help="also forget the videos whose file is gone")
    p.add_argument("--json", action="store_true", help="print the report as JSON")

    p = sub.add_parser("serve", help="the web page and REST API (models stay loaded between searches)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0 picks a free one)")
    p.add_argument("--token", help="the secret a browser or client must present (?token=, a cookie, or "
                   "Authorization: Bearer); required beyond loopback, generated and printed when not given")
    p.add_argument("--allow-host", action="append", default=[], metavar="NAME",
                   help="also answer requests for this Host name (the server's DNS name behind a proxy); "
                        "loopback names and the bound address are always allowed; repeatable")
    p.add_argument("--cors", action="append", default=[], metavar="ORIGIN",
                   help="let web pages from ORIGIN (https://example.org) read the API; repeatable "
                        "(default: no cross-origin reads)")
    return parser


def _clock(seconds: float) -> str:
    """m:ss, or h:mm:ss."""
    seconds = max(0, round(seconds))
    hours, rest = divmod(seconds, 3600)
    return f"{hours}:{rest // 60:02d}:{rest % 60:02d}" if hours else f"{rest // 60}:{rest % 60:02d}"


# The share of a video's indexing time each stage stands for, in the order they run: Whisper
# (speech) is most of it; frames and slides are decoded beside it and report no share of their
# own. The display's fraction never goes down: a stage only ever moves it forward.
STAGE_SHARES = {"hash": 0.03, "audio": 0.02, "speech": 0.85, "encode": 0.05, "visual": 0.05}
# An ETA is shown once this share is done and this many seconds have passed (before that the
# rate says more about loading models than about the video).
ETA_AFTER_FRACTION, ETA_AFTER_SECONDS = 0.08, 2.0


class VideoProgress:
    """One video's place in the run: its stage, a fraction done that never goes back, and an
    ETA that only counts down."""

    def __init__(self, number: int, count: int, name: str, visual: bool, now: float):
        self.label = f"{number}/{count} {name if len(name) <= 32 else name[:31] + '…'}"
        self.started = now
        self.stage = "analyse"
        self.fraction = 0.0
        self.eta: float | None = None  # seconds left, as of `eta_at`
        self.eta_at = now
        stages = [s for s in STAGE_SHARES if visual or s != "visual"]
        total = sum(STAGE_SHARES[s] for s in stages)
        self.ranges, at = {}, 0.0
        for stage in stages:
            self.ranges[stage] = (at, at + STAGE_SHARES[stage] / total)
            at += STAGE_SHARES[stage] / total

    def update(self, stage: str, done: float, total: float, now: float) -> None:
        self.stage = stage
        if stage in self.ranges:
            low, high = self.ranges[stage]
            if stage == "visual" and self.fraction == 0.0:
                low = 0.0  # only the frames are added to an unchanged video: they are all of it
            share = min(max(done / total, 0.0), 1.0) if total > 0 else 0.0
            self.fraction = max(self.fraction, low + (high - low) * share)
        elapsed = now - self.started
        if self.fraction >= ETA_AFTER_FRACTION and elapsed >= ETA_AFTER_SECONDS:
            estimate = elapsed * (1 - self.fraction) / self.fraction
            if self.eta is not None:  # only ever down: a countdown, not a guess that wanders
                estimate = min(estimate, max(self.eta - (now - self.eta_at), 0.0))
            self.eta, self.eta_at = estimate, now

    def left(self, now: float) -> float | None:
        """Seconds left, counting down from the last estimate; None when unknown (too early,
        or the countdown ran out before the video did: no estimate is ever raised again)."""
        if self.eta is None:
            return None
        left = self.eta - (now - self.eta_at)
        return left if left >= 0.5 else None

    def tail(self, now: float) -> str:
        left = self.left(now)
        return f" {_clock(now - self.started)} elapsed, ETA {'…' if left is None else _clock(left)}"


class ProgressDisplay:
    """On a terminal, one line per video being indexed: "2/4 name [stage] bar 40% 0:12 elapsed,
    ETA 0:18"; each file's result line is printed above the bars as soon as it is written."""

    # Seconds between redraws while nothing reports (a model loading): the clock keeps moving.
    TICK = 1.0

    def __init__(self, paths: list[str], visual: bool, clock=None):  # noqa: ANN001 (a time function)
        import threading
        import time

        self.clock = clock or time.monotonic
        self.numbers = {path: i for i, path in enumerate(paths, 1)}
        self.count = len(paths)
        self.visual = visual
        self.videos: dict[str, VideoProgress] = {}
        self.bars: dict[str, object] = {}
        # Stages report from several threads (Whisper's beside the frames'), and the ticker.
        self.lock = threading.Lock()
        self.stopped = threading.Event()
        self.ticker = threading.Thread(target=self._tick, name="vmr-progress", daemon=True)
        self.ticker.start()

    def __call__(self, path: str, stage: str, done: float, total: float) -> None:
        from tqdm import tqdm

        with self.lock:
            if stage == "done":
                self.videos.pop(path, None)
                if path in self.bars:
                    self.bars.pop(path).close()
                return
            now = self.clock()
            video = self.videos.get(path)
            if video is None:
                number = self.numbers.setdefault(path, len(self.numbers) + 1)
                self.count = max(self.count, number)
                video = self.videos[path] = VideoProgress(number, self.count, Path(path).name, self.visual, now)
                self.bars[path] = tqdm(total=1000, leave=False, file=sys.stderr, dynamic_ncols=True,
                                       bar_format="{desc} {bar} {percentage:3.0f}%{unit}")
            video.update(stage, done, total, now)
            self._draw(path, now)

    def _draw(self, path: str, now: float) -> None:
        video, bar = self.videos[path], self.bars[path]
        bar.set_description_str(f"{video.label} [{video.stage}]", refresh=False)
        bar.unit = video.tail(now)
        bar.n = round(video.fraction * 1000)
        bar.refresh()

    def _tick(self) -> None:
        while not self.stopped.wait(self.TICK):
            with self.lock:
                now = self.clock()
                for path in list(self.bars):
                    self._draw(path, now)

    def write(self, line: str) -> None:
        """A line on stdout, above the bars."""
        from tqdm import tqdm

        with self.lock:
            tqdm.write(line, file=sys.stdout)
            sys.stdout.flush()

    def close(self) -> None:
        self.stopped.set()
        self.ticker.join()
        with self.lock:
            for bar in self.bars.values():
                bar.close()
            self.bars.clear()


def _index_line(video) -> str:  # noqa: ANN001 (an IndexedVideo)
    if video.status == "duplicate":
        return (f"{video.status:9}  {printable(video.path)}  (same content as {printable(video.same_as)}: "
                "indexed once, under that path)")
    return (f"{video.status:9}  {printable(video.path)}  ({format_clock(video.duration)}, "
            f"{video.clips} clips, {video.words} words" + (f", {video.language}" if video.language else "")
            + (f"; was {printable(video.moved_from)})" if video.moved_from else ")"))


# Notes shown once per library: their names, one a line, in this file of the home.
NOTES_SHOWN = "notes-shown"


def _once(home: Path, note: str) -> bool:
    """Whether `note` is yet to be shown for this library; records it as shown."""
    record = home / NOTES_SHOWN
    try:
        shown = record.read_text(encoding="utf-8").split()
    except OSError:
        shown = []
    if note in shown:
        return False
    try:
        record.write_text("".join(f"{name}\n" for name in [*shown, note]), encoding="utf-8")
    except OSError:
        pass  # a read-only home: the note again next time, rather than an error
    return True


def visual_note(config: Path) -> str:
    return ("vmr: note: visual channel off (frames not embedded). To turn it on, pass "
            "--visual-model with a local CLIP/SigLIP folder (vmr index --visual-model ~/models/clip), "
            "or a hub id such as openai/clip-vit-base-patch32 to download one when online, "
            f"or set [index] visual_model in {config}. (Shown once for this library.)")


def cmd_index(lib, args) -> int:
    from vmr.app.config import load_config
    from vmr.ingest.files import FailedInput, discover

    options = load_config(lib.home, args.device).index_options(
        asr_backend=args.asr_backend, asr_model=args.asr_model, text_model=args.text_model,
        clip_seconds=args.clip_seconds, visual_model=args.visual_model, ocr=args.ocr, language=args.language,
        translate=args.translate,
    )
    display = None
    if not args.json and sys.stderr.isatty():
        display = ProgressDisplay([str(p) for p in discover(args.paths)[0]], bool(options.visual_model))
    printed: set[str] = set()

    def finished(outcome) -> None:  # noqa: ANN001 (an IndexedVideo or a FailedInput)
        if args.json:
            return
        printed.add(outcome.path)
        if isinstance(outcome, FailedInput):
            print(f"vmr: error: {printable(outcome.path)}: {printable(outcome.error)}", file=sys.stderr, flush=True)
            return
        if display:
            display.write(_index_line(outcome))
        else:
            print(_index_line(outcome), flush=True)
        if outcome.warning:
            print(f"vmr: warning: {printable(outcome.path)}: {printable(outcome.warning)}", file=sys.stderr,
                  flush=True)

    def waiting(holder: str) -> None:
        print(f"vmr: waiting for another `vmr index` to finish ({holder})", file=sys.stderr, flush=True)

    try:
        report = lib.index(args.paths, options, progress=display, wait=args.wait, on_wait=waiting,
                           workers=args.workers, prune=args.prune, finished=finished)
    finally:
        if display:
            display.close()
    if args.json:
        print_json(report)
    else:
        for path in report.missing:
            print(f"missing    {printable(path)}  (its file is gone: left out of searches; "
                  "vmr index --prune forgets it)")
        for path in report.pruned:
            print(f"pruned     {printable(path)}")
    for failure in report.failed:
        if failure.path not in printed or args.json:
            print(f"vmr: error: {printable(failure.path)}: {printable(failure.error)}", file=sys.stderr)
    if (not options.visual_model and any(v.status == "indexed" for v in report.indexed)
            and _once(lib.home, "visual-off")):
        print(visual_note(lib.home / "config.toml"), file=sys.stderr)
    for note in report.notes:
        print(f"vmr: note: {printable(note)}", file=sys.stderr)
    return 0 if report.ok else 1


# Above weak moments (vmr.search.confidence): when even the best is weak, and after strong ones.
WEAK_NOTE = "No strong match — closest moments:"
WEAKER_NOTE = "Weaker matches:"


def _print_moments(found, query: str | None = None) -> None:  # noqa: ANN001 (Moments)
    if not found:
        # A quoted phrase must be said or shown: none of the library's moments holds this one.
        phrases = [p.strip() for p in re.findall(r'"([^"]+)"', query or "") if p.strip()]
        print("no moment says or shows " + " and ".join(f'"{p}"' for p in phrases) if phrases
              else "no moments found")
    for rank, m in enumerate(found, 1):
        if m.weak and rank == 1:
            print(WEAK_NOTE)
        elif m.weak and not found[rank - 2].weak:
            print(WEAKER_NOTE)
        print(f"{rank:2}. {printable(Path(m.video).name)}  {format_clock(m.start)} - {format_clock(m.end)}  "
              f"score {m.score:.3f}")
        if m.text:
            text = m.text.replace("\n", " / ")  # a slide's lines
            snippet = text if len(text) <= 160 else text[:157] + "..."
            print(f"    \"{snippet}\"")
        print(f"    {m.link}")


def cmd_search(lib, args) -> int:
    if sum(x is not None for x in (args.query, args.queries, args.image, args.audio)) != 1:
        raise VmrError("give one of QUERY, --queries FILE, --image FILE or --audio FILE")
    if args.queries is not None:
        try:
            lines = args.queries.read_text(encoding="utf-8").splitlines()
        except OSError as exc:
            raise VmrError(f"{args.queries}: cannot read: {exc.strerror or exc}") from exc
        queries = [line for line in lines if line.strip()]
        results = lib.search_many(queries, args.k)
        print_json(results)
        warn(results[0].problems if results else ())
        return 0
    if args.audio is not None:
        from vmr.app.config import load_config

        asr = load_config(lib.home, args.device).index_options().asr
        heard, found = lib.search_audio(args.audio, args.k, asr)
        if args.json:
            print_json({"query": heard, "moments": found})
            warn(found.problems)
            return 0
        print(f"heard: \"{heard}\"")
    elif args.image is not None:
        from vmr.app.config import load_config

        ocr = load_config(lib.home).index_options().ocr
        read, found = lib.search_image(args.image, args.k, read_text=ocr)
        if args.json:
            print_json({"query": read, "moments": found})
            warn(found.problems)
            return 0
        print(f"read: \"{read}\"" if read else "read: no text on the image")
    else:
        found = lib.search(args.query, args.k)
    if args.json:
        print_json(found)
    else:
        _print_moments(found, args.query)
    warn(found.problems)
    return 0


def cmd_remove(lib, args) -> int:
    results = {path: lib.remove(path) for path in args.paths}
    if args.json:
        print_json([{"path": p, "removed": r} for p, r in results.items()])
    for path, removed in results.items():
        if removed and not args.json:
            print(f"removed  {printable(path)}")
        elif not removed:
            print(f"vmr: error: {printable(path)}: not in the index", file=sys.stderr)
    return 0 if any(results.values()) else 1


def _size(n: float) -> str:
    units = ["B", "KB", "MB", "GB"]
    while n >= 1000 and len(units) > 1:
        n, units = n / 1000, units[1:]
    return f"{n:.0f} B" if units[0] == "B" else f"{n:.1f} {units[0]}"


def cmd_info(lib, args) -> int:
    info = lib.info()
    if args.json:
        print_json(info)
        return 0
    print(f"home       {info.home}")
    print(f"database   {info.database}")
    print(f"videos     {len(info.videos)}  ({format_clock(info.total_duration)} of video, "
          f"{info.clips} clips, {info.words} words)")
    print(f"text model {', '.join(info.text_models) or '-'}")
    if info.visual_model:
        print(f"visual     {info.visual_model}")
    else:
        from vmr.app.config import load_config
        from vmr.encode.visual import off_hint

        configured = (load_config(lib.home).index or {}).get("visual_model")
        print(f"visual     not indexed yet: vmr index embeds the frames with {configured}" if configured
              else f"visual     off; to turn it on, {off_hint(lib.home / 'config.toml')}")
    print(f"vectors    {info.vector_storage or '-'}, {_size(info.vector_bytes)}"
          + (f"; database {_size(info.database_bytes)}" if info.database_bytes is not None else ""))
    for video in info.videos:
        print(f"  [{video.video_id}] {printable(video.path)}  {format_clock(video.duration)}  "
              f"{video.words} words  {video.language or '-'}{' (+en)' if video.translated else ''}  "
              f"{video.asr_model or 'no audio'}"
              + ("  MISSING (file gone: left out of searches; vmr index --prune forgets it)"
                 if video.status != "indexed" else ""))
    warn(info.problems)
    return 0


def cmd_show(lib, args) -> int:
    view = lib.show(args.video, args.start, args.end)
    if args.json:
        print_json(view)
        return 0
    print(f"{printable(Path(view.video).name)}  {format_clock(view.start)} - {format_clock(view.end)}")
    print(f"    {view.link}")
    print(f"said   {view.said or '(nothing)'}")
    for slide in view.shown:
        print(f"shown  {format_clock(slide.start)} - {format_clock(slide.end)}")
        print("".join(f"       {line}\n" for line in slide.text.splitlines()), end="")
    frames = ", ".join(format_clock(t) for t in view.keyframes)
    print(f"frames keyframes at {frames or '-'}"
          + (f" (embedded by {view.visual_model})" if view.visual_model else ""))
    return 0


def cmd_transcript(lib, args) -> int:
    from vmr.library import transcript_json

    from vmr.app.subtitles import WRITERS, Layout

    video, segments = lib.transcript(args.video, args.translation)
    if args.translation and not segments:
        raise VmrError(f"{video.path}: no English translation (its speech is English, or it was "
                       "indexed without --translate: vmr index --translate it)")
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print_json(transcript_json(video, segments, args.translation))
    else:
        print(WRITERS[fmt](segments, Layout(args.max_line_width, args.max_line_count)), end="")
    return 0


def cmd_chapters(lib, args) -> int:
    from vmr.app.subtitles import CHAPTER_WRITERS, chapters_json

    _, chapters = lib.chapters(args.video)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print_json(chapters_json(chapters))
    else:
        print(CHAPTER_WRITERS[fmt](chapters), end="")
    return 0


def cmd_eval(lib, args) -> int:
    from vmr.evaluate import evaluate, load_annotations

    report = evaluate(lib, load_annotations(args.annotations), args.k)
    if args.json:
        print_json(report.to_json())
        return 0
    print("\n".join(report.table()))
    return 0


def cmd_check(lib, args) -> int:
    report = lib.check(prune=args.prune)
    if args.json:
        print_json(report)
        return 0 if report.ok else 1
    if report.catalogue != "ok":
        print(f"vmr: error: {printable(report.catalogue)}", file=sys.stderr)
        return 1
    from vmr.catalogue.store import describe_url

    print(f"catalogue  ok ({printable(describe_url(lib.db_url))})")
    print(f"videos     {report.videos}" + (f", {len(report.missing)} missing (file gone: left out of searches; "
                                           "vmr check --prune forgets them)" if report.missing else ""))
    for path in report.missing:
        print(f"  missing  {printable(path)}")
    for path in report.pruned:
        print(f"  pruned   {printable(path)}")
    print(f"vectors    {report.vector_files} files checked, {len(report.repaired)} made again, "
          f"{report.orphan_vector_files} unused removed")
    for line in report.repaired:
        print(f"  repaired {printable(line)}")
    print(f"build      {printable(report.build)}")
    print(f"thumbnails {report.thumbnails} checked, {report.thumbnails_removed} removed (damaged or unused)")
    for line in report.unrepaired:
        print(f"vmr: error: {printable(line)}", file=sys.stderr)
    return 0 if report.ok else 1


def cmd_serve(lib, args) -> int:
    import socket

    import uvicorn

    from vmr.app.server import ServeSettings, create_app, is_loopback, new_token

    # Bound here, before the models load, so a busy port is one line and not a traceback.
    family = socket.AF_INET6 if ":" in args.host else socket.AF_INET
    sock = socket.socket(family)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)  # a restart need not wait out TIME_WAIT
    try:
        sock.bind((args.host, args.port))
        sock.listen()
    except OSError as exc:
        sock.close()
        raise VmrError(f"cannot listen on {args.host}:{args.port}: {exc.strerror or exc}") from exc
    port = sock.getsockname()[1]
    beyond = not is_loopback(args.host)
    token = args.token or (new_token() if beyond else None)
    settings = ServeSettings(host=args.host, port=port, token=token, allow_hosts=tuple(args.allow_host),
                             cors=tuple(args.cors))
    app = create_app(lib, settings)
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    if beyond:
        print(f"vmr: warning: listening on {args.host}, beyond this computer: anyone who can reach port "
              f"{port} and has the token can search the library, watch its videos and read their "
              "transcripts", file=sys.stderr, flush=True)
    # The token is printed once, in the link (as Jupyter does); the page keeps it in a cookie.
    link = f"http://{host}:{port}/" + (f"?token={token}" if token and not args.token else "")
    print(f"vmr: serving {lib.home} on {link} (Ctrl+C stops)", flush=True)
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning", server_header=False)).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down gracefully, then re-raises the Ctrl+C
        pass
    return 0


COMMANDS = {"index": cmd_index, "search": cmd_search, "remove": cmd_remove, "info": cmd_info,
            "show": cmd_show, "transcript": cmd_transcript, "chapters": cmd_chapters, "serve": cmd_serve, "eval": cmd_eval,
            "check": cmd_check}


def _check_text(args: argparse.Namespace) -> None:
    """Every argument must be UTF-8: a query is text, and the catalogue keeps file names as
    text. Index paths are checked one by one (the others still get indexed)."""
    for name, value in vars(args).items():
        values = value if isinstance(value, list) else [value]
        if args.command == "index" and name == "paths":
            continue
        for item in values:
            if isinstance(item, (str, Path)) and (problem := not_utf8(str(item))):
                what = "the query" if name == "query" else f"--{name.replace('_', '-')}" if name in (
                    "home", "db", "image", "audio", "queries") else name.replace("_", " ")
                raise VmrError(f"{what} '{printable(item)}' is {problem}: vmr takes text and file names in UTF-8")


# The exit status of a command whose reader went away (`vmr search x --json | head -1`): what a
# process killed by SIGPIPE reports in a shell, 128 + 13.
BROKEN_PIPE = 141


def main(argv: list[str] | None = None) -> int:
    for stream in (sys.stdout, sys.stderr):  # a message must print whatever the terminal's encoding
        if hasattr(stream, "reconfigure"):
            stream.reconfigure(errors="backslashreplace")
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_ray(parser, args)
    from vmr.catalogue.reads import database_errors
    from vmr.library import Library

    lib = None
    try:
        _check_text(args)
        lib = Library(args.home, args.db, device=args.device or "auto", ray=getattr(args, "ray", None),
                      shards=getattr(args, "shards", 0))
        if args.command != "index":  # only index creates a library; the others need one
            lib.open()
        code = COMMANDS[args.command](lib, args)
        sys.stdout.flush()  # a closed pipe shows here rather than at exit, where it would be a traceback
        return code
    except VmrError as exc:
        print(f"vmr: error: {printable(exc)}", file=sys.stderr)
        return 1
    except database_errors() as exc:  # outside a Library call (the server's own reads)
        from vmr.catalogue.store import catalogue_failure

        print(f"vmr: error: {printable(catalogue_failure(exc, lib.db_url if lib else ''))}", file=sys.stderr)
        return 1
    except BrokenPipeError:  # the reader went away (| head): not a file's problem
        # The reader has what it wanted. Python flushes stdout again at exit: point it at
        # /dev/null so that this flush is silent too.
        devnull = os.open(os.devnull, os.O_WRONLY)
        os.dup2(devnull, sys.stdout.fileno())
        return BROKEN_PIPE
    except OSError as exc:  # a path no check caught: still one line, naming the file
        name = exc.filename if exc.filename is not None else "vmr"
        print(f"vmr: error: {printable(name)}: {os_problem(exc)}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vmr: interrupted; what finished is saved, run the same command again to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
