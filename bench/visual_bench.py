"""Visual channel cost: image encoder throughput at ViT-B/32 and ViT-B/16 size, and the indexing
time the channel adds per minute of video, against the text-only pipeline.

    .venv/bin/python bench/visual_bench.py [--video samples/lecture.mp4] [--rounds 3] [--device cpu]

Weights are random (a forward pass costs the same whatever they hold): a CLIPModel whose vision
tower has CLIPVisionConfig's defaults (hidden 768, 12 layers, 224 px) with patch 32 or 16, saved
to a temporary folder and loaded through vmr.encode.visual like any real model. Torch uses one thread
per core. Rounds are interleaved and medians reported (the machine is shared and noisy).
"""

from __future__ import annotations

import argparse
import os
import statistics
import tempfile
import time
from pathlib import Path


ROOT = Path(__file__).resolve().parent.parent
CLIPS_PER_MINUTE = 30  # 2-s clips: one keyframe each


def make_model(folder: Path, patch: int) -> Path:
    import torch
    from transformers import AutoTokenizer, CLIPConfig, CLIPImageProcessorPil, CLIPModel

    from vmr.models.weights import resolve_text_encoder

    tokenizer = AutoTokenizer.from_pretrained(resolve_text_encoder())
    torch.manual_seed(0)
    # The text tower only encodes queries; a small one keeps the temporary folder small.
    text = dict(vocab_size=tokenizer.vocab_size, hidden_size=64, intermediate_size=128, num_hidden_layers=2,
                num_attention_heads=2, pad_token_id=tokenizer.pad_token_id,
                bos_token_id=tokenizer.cls_token_id, eos_token_id=tokenizer.sep_token_id)
    CLIPModel(CLIPConfig(text_config=text, vision_config={"patch_size": patch})).save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    CLIPImageProcessorPil(size={"shortest_edge": 224}, crop_size={"height": 224, "width": 224}).save_pretrained(folder)
    return folder


def main() -> None:
    import torch

    from vmr.ingest.asr import AsrOptions
    from vmr.ingest.analysis import Analyser, IndexOptions, StageClock
    from vmr.ingest.media import read_frames, scan_video

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--video", type=Path, default=ROOT / "samples" / "lecture.mp4")
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--device", default="cpu", choices=("cpu", "cuda"))
    args = parser.parse_args()
    cores = len(os.sched_getaffinity(0))
    torch.set_num_threads(cores)

    scan = scan_video(args.video)
    minutes = scan.duration / 60
    tmp = Path(tempfile.mkdtemp(prefix="vmr-visual-bench-"))
    asr = AsrOptions(device=args.device)
    names = {"ViT-B/32": 32, "ViT-B/16": 16}
    analysers = {name: Analyser(IndexOptions(asr=asr, visual_model=str(make_model(tmp / f"b{patch}", patch))))
                 for name, patch in names.items()}
    encoders, load_s = {}, {}
    for name, analyser in analysers.items():
        clock = StageClock()
        encoders[name] = analyser.load_visual(clock)
        load_s[name] = clock.seconds["load_visual"]
    batch = encoders["ViT-B/32"].batch_size  # 16 on a CPU, 64 on a GPU
    frames = [f for _, f in read_frames(args.video, scan.keyframe_times[:batch])]
    text_only = Analyser(IndexOptions(asr=asr))

    forward = {n: [] for n in names}   # model alone, on preprocessed pixels: images/s
    end_to_end = {n: [] for n in names}  # 720p frames through vmr: fit, processor, model
    added = {n: [] for n in names}     # the visual stage of indexing the video, s
    baseline: list[float] = []         # the text-only analysis of the video (models loaded), s
    for round_ in range(args.rounds + 1):  # round 0 warms up (and loads Whisper and MiniLM)
        clock = StageClock()
        started = time.perf_counter()
        text_only.analyse(args.video, clock=clock)
        loads = sum(v for k, v in clock.seconds.items() if k.startswith("load"))
        if round_:
            baseline.append(time.perf_counter() - started - loads)
        for name, encoder in encoders.items():
            pixels = encoder.processor(images=frames, return_tensors="pt")["pixel_values"].to(encoder.device, encoder.dtype)
            started = time.perf_counter()
            with torch.inference_mode():
                encoder.model.get_image_features(pixel_values=pixels)
            if args.device == "cuda":
                torch.cuda.synchronize()
            forward[name].append(batch / (time.perf_counter() - started))
            started = time.perf_counter()
            encoder.encode_images(frames)
            end_to_end[name].append(batch / (time.perf_counter() - started))
            started = time.perf_counter()
            analysers[name].visual_channel(args.video, scan.keyframe_times, StageClock())
            added[name].append(time.perf_counter() - started)
        if not round_:
            for series in (*forward.values(), *end_to_end.values(), *added.values()):
                series.clear()

    base = statistics.median(baseline) / minutes
    rows = []
    for name in names:
        per_min = statistics.median(added[name]) / minutes
        rows.append(
            f"| {name} | {statistics.median(forward[name]):.1f} | {statistics.median(end_to_end[name]):.1f} | "
            f"{CLIPS_PER_MINUTE / statistics.median(end_to_end[name]):.2f} | {per_min:.2f} | "
            f"{per_min / base:.2f} | {load_s[name]:.1f} |")
    device = torch.cuda.get_device_name() if args.device == "cuda" else f"CPU, {cores} cores, {cores} torch threads"
    report = "\n".join([
        f"## Visual channel on {device} (batch {batch}, fp{'16' if args.device == 'cuda' else '32'}, "
        f"median of {args.rounds})", "",
        f"`{args.video.name}`: {scan.duration:.1f} s, {len(scan.keyframe_times)} clips, 1280x720 keyframes. "
        f"Text-only analysis (decode, Whisper, MiniLM; models loaded): **{base:.2f} s per minute of video**.", "",
        "| vision tower | images/s, model only | images/s, 720p frame through vmr | encode s / min of video (30 frames) "
        "| measured visual stage s / min of video (decode + encode) | visual / text-only | model load s |",
        "|---|---:|---:|---:|---:|---:|---:|", *rows,
    ])
    print(report)
    results = ROOT / "bench-results"
    results.mkdir(exist_ok=True)
    suffix = "" if args.device == "cpu" else f"-{args.device}"
    (results / f"visual{suffix}.md").write_text(report + "\n")


if __name__ == "__main__":
    main()
