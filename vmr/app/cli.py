"""The `vmr` command: each subcommand is one `Library` call; `--json` for programs."""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

from vmr.models.devices import DEVICES
from vmr.app.output import print_json
from vmr.errors import VmrError
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
        if not args.paths:
            parser.error("the following arguments are required: PATH")
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
    parser.add_argument("--home", help="index folder (default $VMR_HOME, else the user data dir)")
    parser.add_argument("--db", help="SQLAlchemy URL for the catalogue (default: SQLite in --home)")
    parser.add_argument("--device", choices=DEVICES,
                        help="where models run (default: config.toml's, else auto: the GPU when there is one)")
    sub = parser.add_subparsers(dest="command", required=True, metavar="COMMAND")

    p = sub.add_parser("index", help="index video files or folders (unchanged files are skipped)")
    p.add_argument("paths", nargs="*", metavar="PATH")  # at least one: see _check_ray
    p.add_argument("--asr-backend", choices=("faster-whisper", "openai-whisper"))
    p.add_argument("--asr-model", help="base (default, packaged), tiny.en (packaged), another Whisper "
                   "name (downloads when online) or a local model path")
    p.add_argument("--text-model", help="sentence-transformers model: name, hub id or local folder")
    p.add_argument("--visual-model", help="CLIP/SigLIP model for the frames: hub id or local folder "
                   "(default: config.toml's visual_model, else no visual channel)")
    p.add_argument("--clip-seconds", type=_positive_float)
    p.add_argument("--no-ocr", dest="ocr", action="store_const", const=False,
                   help="do not read slide text (faster; no slides channel)")
    p.add_argument("--json", action="store_true", help="print a JSON report, no progress bars")
    _ray_option(p, "analyse the videos on a Ray cluster")
    p.add_argument("--workers", type=_positive_int, help="Ray workers (default: one per CPU of the cluster)")
    p.add_argument("--wait", action="store_true", help="if another index run is writing, wait for it")

    p = sub.add_parser("search", help="find moments matching a text query, an image or a spoken question")
    p.add_argument("query", nargs="?", help="what to look for")
    p.add_argument("-k", type=int, default=10, help="number of moments (default 10)")
    p.add_argument("--queries", type=Path, metavar="FILE",
                   help="one query per line; prints a JSON list of result lists, in order")
    p.add_argument("--image", type=Path, metavar="FILE",
                   help="a screenshot or photo of a slide: the moments that show it, by its words (OCR) and, "
                        "with a visual model, its picture; --json prints {query, moments}")
    p.add_argument("--audio", type=Path, metavar="FILE",
                   help="a recorded question, transcribed by Whisper; --json prints {query, moments}")
    p.add_argument("--json", action="store_true")
    p.add_argument("--shards", type=_positive_int, default=0,
                   help="search N shards of the clip matrix on Ray workers (default: in process)")
    _ray_option(p, "the cluster for --shards")

    p = sub.add_parser("remove", help="forget an indexed video")
    p.add_argument("paths", nargs="+", metavar="PATH")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("info", help="what is indexed, with which models, and how big")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("show", help="what was said and shown in a stretch of an indexed video")
    p.add_argument("video", help="path or video id")
    p.add_argument("start", type=_time, help="seconds or HH:MM:SS.mmm")
    p.add_argument("end", type=_time, help="seconds or HH:MM:SS.mmm")
    p.add_argument("--json", action="store_true")

    p = sub.add_parser("transcript", help="print an indexed video's transcript")
    p.add_argument("video", help="path or video id")
    p.add_argument("--format", choices=("txt", "srt", "vtt", "json"), default="txt")
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

    p = sub.add_parser("serve", help="the web page and REST API (models stay loaded between searches)")
    p.add_argument("--host", default="127.0.0.1", help="address to listen on (default 127.0.0.1)")
    p.add_argument("--port", type=_port, default=8000, help="port (default 8000; 0 picks a free one)")
    return parser


class ProgressBars:
    """One tqdm bar per video, re-labelled as it moves through the stages."""

    def __init__(self) -> None:
        self.bars: dict[str, object] = {}

    def __call__(self, path: str, stage: str, done: float, total: float) -> None:
        from tqdm import tqdm

        if stage == "done":
            if path in self.bars:
                self.bars.pop(path).close()
            return
        bar = self.bars.get(path)
        if bar is None:
            bar = self.bars[path] = tqdm(total=1, leave=False, file=sys.stderr, unit="",
                                         bar_format="{desc} {bar} {percentage:3.0f}%")
        bar.set_description_str(f"{Path(path).name[:40]} [{stage}]")
        bar.total = max(total, 1e-9)
        bar.n = done
        bar.refresh()

    def close(self) -> None:
        for bar in self.bars.values():
            bar.close()


def cmd_index(lib, args) -> int:
    from vmr.app.config import load_config

    options = load_config(lib.home, args.device).index_options(
        asr_backend=args.asr_backend, asr_model=args.asr_model, text_model=args.text_model,
        clip_seconds=args.clip_seconds, visual_model=args.visual_model, ocr=args.ocr,
    )
    bars = None if args.json or not sys.stderr.isatty() else ProgressBars()

    def waiting(holder: str) -> None:
        print(f"vmr: waiting for another `vmr index` to finish ({holder})", file=sys.stderr, flush=True)

    try:
        report = lib.index(args.paths, options, progress=bars, wait=args.wait, on_wait=waiting,
                           workers=args.workers)
    finally:
        if bars:
            bars.close()
    if args.json:
        print_json(report)
    else:
        for video in report.indexed:
            print(f"{video.status:9}  {video.path}  ({format_clock(video.duration)}, "
                  f"{video.clips} clips, {video.words} words)")
            if video.warning:
                print(f"vmr: warning: {video.path}: {video.warning}", file=sys.stderr)
    for failure in report.failed:
        print(f"vmr: error: {failure.path}: {failure.error}", file=sys.stderr)
    if not options.visual_model and any(v.status == "indexed" for v in report.indexed):
        from vmr.encode.visual import off_hint

        print(f"vmr: note: visual channel off (frames not embedded); to turn it on, "
              f"{off_hint(lib.home / 'config.toml')}", file=sys.stderr)
    return 0 if report.ok else 1


def _print_moments(found) -> None:
    if not found:
        print("no moments found")
    for rank, m in enumerate(found, 1):
        print(f"{rank:2}. {Path(m.video).name}  {format_clock(m.start)} - {format_clock(m.end)}  "
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
        return 0
    if args.audio is not None:
        from vmr.app.config import load_config

        asr = load_config(lib.home, args.device).index_options().asr
        heard, found = lib.search_audio(args.audio, args.k, asr)
        if args.json:
            print_json({"query": heard, "moments": found})
            return 0
        print(f"heard: \"{heard}\"")
    elif args.image is not None:
        from vmr.app.config import load_config

        ocr = load_config(lib.home).index_options().ocr
        read, found = lib.search_image(args.image, args.k, read_text=ocr)
        if args.json:
            print_json({"query": read, "moments": found})
            return 0
        print(f"read: \"{read}\"" if read else "read: no text on the image")
    else:
        found = lib.search(args.query, args.k)
    if args.json:
        print_json(found)
    else:
        _print_moments(found)
    return 0


def cmd_remove(lib, args) -> int:
    results = {path: lib.remove(path) for path in args.paths}
    if args.json:
        print_json([{"path": p, "removed": r} for p, r in results.items()])
    for path, removed in results.items():
        if removed and not args.json:
            print(f"removed  {path}")
        elif not removed:
            print(f"vmr: error: {path}: not in the index", file=sys.stderr)
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
        print(f"  [{video.video_id}] {video.path}  {format_clock(video.duration)}  "
              f"{video.words} words  {video.asr_model or 'no audio'}")
    return 0


def cmd_show(lib, args) -> int:
    view = lib.show(args.video, args.start, args.end)
    if args.json:
        print_json(view)
        return 0
    print(f"{Path(view.video).name}  {format_clock(view.start)} - {format_clock(view.end)}")
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

    from vmr.app.subtitles import WRITERS

    video, segments = lib.transcript(args.video)
    fmt = "json" if args.json else args.format
    if fmt == "json":
        print_json(transcript_json(video, segments))
    else:
        print(WRITERS[fmt](segments), end="")
    return 0


def cmd_eval(lib, args) -> int:
    from vmr.evaluate import evaluate, load_annotations

    report = evaluate(lib, load_annotations(args.annotations), args.k)
    if args.json:
        print_json(report.to_json())
        return 0
    print("\n".join(report.table()))
    return 0


def cmd_serve(lib, args) -> int:
    import socket

    import uvicorn

    from vmr.app.server import create_app

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
    app = create_app(lib)
    host = f"[{args.host}]" if family == socket.AF_INET6 else args.host
    print(f"vmr: serving {lib.home} on http://{host}:{sock.getsockname()[1]}/ (Ctrl+C stops)", flush=True)
    try:
        uvicorn.Server(uvicorn.Config(app, log_level="warning")).run(sockets=[sock])
    except KeyboardInterrupt:  # uvicorn shuts down gracefully, then re-raises the Ctrl+C
        pass
    return 0


COMMANDS = {"index": cmd_index, "search": cmd_search, "remove": cmd_remove, "info": cmd_info,
            "show": cmd_show, "transcript": cmd_transcript, "serve": cmd_serve, "eval": cmd_eval}


def main(argv: list[str] | None = None) -> int:
    parser = build_parser()
    args = parser.parse_args(argv)
    _check_ray(parser, args)
    from vmr.library import Library

    try:
        lib = Library(args.home, args.db, device=args.device or "auto", ray=getattr(args, "ray", None),
                      shards=getattr(args, "shards", 0))
        return COMMANDS[args.command](lib, args)
    except VmrError as exc:
        print(f"vmr: error: {exc}", file=sys.stderr)
        return 1
    except KeyboardInterrupt:
        print("vmr: interrupted; what finished is saved, run the same command again to resume",
              file=sys.stderr)
        return 130


if __name__ == "__main__":
    sys.exit(main())
