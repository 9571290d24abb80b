"""Slide OCR in other scripts: how well each packaged recogniser reads rendered slides with
accented Latin letters (é ü ß ñ ç ...), Cyrillic and Chinese, beside English.

Each slide is 1280x720, a title and four bullet lines in DejaVu Sans (Chinese in WenQuanYi Micro
Hei: `apt-get install fonts-wqy-microhei`; without it the Chinese slides are skipped). Every
recogniser reads the same lines, found by vmr's own detector path (`SlideReader.read`), and is
scored per script on:

- CER: character edit distance over the truth's characters, per line, averaged (spaces ignored);
- lines exact: the share of lines read exactly (spaces ignored);
- letters missing: the truth's letters (not digits, not punctuation) that the recogniser's
  character set lacks: it can never read them;
- ms / line: recognition time per line, the median of the rounds (rounds interleaved).

    python bench/ocr_scripts_bench.py [--rounds 3] [--out bench-results/ocr_scripts.md]
"""

from __future__ import annotations

import argparse
import statistics
import time
import unicodedata
from pathlib import Path

import numpy as np

SLIDES = {
    "English": [
        ("Gradient Descent", ["Loss: how wrong the predictions are", "Step downhill along the gradient",
                              "Learning rate sets the step size", "Stop when the loss stops falling"]),
        ("Databases and SQL", ["Tables hold rows and columns", "A primary key names each row",
                               "Joins combine two tables", "Indexes make lookups fast"]),
    ],
    "Latin (é ü ß ñ ç)": [
        ("Größe und Maßstäbe", ["Die Straße ist über 3 km lang", "Fußgänger überqueren die Brücke",
                                "Schöne Grüße aus München", "Äpfel, Öfen und Übungen"]),
        ("La señal y el año", ["El niño señaló la montaña", "Mañana empieza la canción",
                               "Français : garçon, leçon, façade", "Café, élève, à côté, forêt"]),
        ("Breve storia del caffè", ["Il caffè arriva a Venezia", "Perché la città ama l'espresso",
                                    "Coração, ação e informação", "Caffè Florian, 1720"]),
    ],
    "Cyrillic": [
        ("Распределённые системы", ["Сообщение передаётся по сети", "Узлы обмениваются пакетами",
                                    "Щука, объём и жёлтый цвет", "Сервер отвечает клиенту"]),
        ("История механики", ["Закон всемирного тяготения", "Движение планет вокруг Солнца",
                              "Ньютон опубликовал Начала в 1687", "Энергия сохраняется"]),
    ],
    "Chinese": [
        ("机器学习简介", ["程序从经验中改进", "监督学习需要标注数据", "梯度下降更新权重", "在留出数据上评估"]),
        ("数据库与查询", ["表由行和列组成", "主键唯一标识每一行", "连接组合两张表", "索引加快查找速度"]),
    ],
}
FONTS = {"dejavu": ("/usr/share/fonts/truetype/dejavu/DejaVuSans.ttf",
                    "/usr/share/fonts/truetype/dejavu/DejaVuSans-Bold.ttf"),
         "cjk": ("/usr/share/fonts/truetype/wqy/wqy-microhei.ttc",) * 2}


def render(title: str, bullets: list[str], cjk: bool) -> np.ndarray:
    from PIL import Image, ImageDraw, ImageFont

    regular, bold = FONTS["cjk" if cjk else "dejavu"]
    image = Image.new("RGB", (1280, 720), (250, 250, 247))
    draw = ImageDraw.Draw(image)
    draw.text((80, 60), title, font=ImageFont.truetype(bold, 54), fill=(20, 40, 90))
    body = ImageFont.truetype(regular, 36)
    for i, line in enumerate(bullets):
        draw.rectangle((84, 222 + 90 * i, 98, 236 + 90 * i), fill=(20, 40, 90))
        draw.text((120, 205 + 90 * i), line, font=body, fill=(30, 30, 30))
    return np.asarray(image)


def squeeze(text: str) -> str:
    return "".join(unicodedata.normalize("NFC", text).split())


def edits(a: str, b: str) -> int:
    row = list(range(len(b) + 1))
    for i, ca in enumerate(a, 1):
        prev, row[0] = row[0], i
        for j, cb in enumerate(b, 1):
            prev, row[j] = row[j], min(row[j] + 1, row[j - 1] + 1, prev + (ca != cb))
    return row[-1]


def best_line(truth: str, read: list[str]) -> str:
    """The line read that is closest to a truth line (lines come back in reading order, but a
    line may be missed)."""
    if not read:
        return ""
    return min(read, key=lambda r: edits(squeeze(truth), squeeze(r)))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--out", type=Path, default=Path("bench-results/ocr_scripts.md"))
    args = parser.parse_args()

    import cv2

    from vmr.ingest.ocr import RECOGNISERS, SlideReader

    readers = {name: SlideReader(1, recogniser=name) for name in RECOGNISERS}
    have_cjk = Path(FONTS["cjk"][0]).exists()
    pictures = [(script, [title, *bullets], cv2.cvtColor(render(title, bullets, script == "Chinese"), cv2.COLOR_RGB2BGR))
                for script, slides in SLIDES.items() if script != "Chinese" or have_cjk
                for title, bullets in slides]
    times: dict[str, list[float]] = {name: [] for name in readers}
    reads: dict[str, list[list[str]]] = {}
    for _ in range(args.rounds):
        for name, reader in readers.items():  # interleaved: the machine's load hits both alike
            found, spent, lines = [], 0.0, 0
            for _, truth, picture in pictures:
                reader._previous = []  # read every line again
                t0 = time.perf_counter()
                shown = reader.read(picture)
                spent += time.perf_counter() - t0
                lines += max(len(truth), 1)
                found.append(list(shown.lines))
            times[name].append(1000 * spent / lines)
            reads[name] = found
    rows = []
    for name, reader in readers.items():
        charset = reader.charset
        for script in SLIDES:
            picked = [(truth, read) for (s, truth, _), read in zip(pictures, reads[name]) if s == script]
            if not picked:
                continue
            cers, exact, letters, missing = [], 0, set(), set()
            for truth, read in picked:
                for line in truth:
                    got = best_line(line, read)
                    cers.append(edits(squeeze(line), squeeze(got)) / max(len(squeeze(line)), 1))
                    exact += squeeze(line) == squeeze(got)
                    for char in line:
                        if char.isalpha():
                            letters.add(char)
                            if char not in charset:
                                missing.add(char)
            n = len(cers)
            rows.append((script, name, float(np.mean(cers)), exact / n, n, "".join(sorted(missing))[:40],
                         len(missing) / max(len(letters), 1)))
    out = ["| script | recogniser | CER | lines exact | lines | letters it cannot read (share of the script's letters here) |",
           "|---|---|---:|---:|---:|---|"]
    for script, name, cer, exact, n, missing, share in rows:
        out.append(f"| {script} | {name} | {cer:.3f} | {exact:.2f} | {n} | {missing or '-'} ({share:.0%}) |")
    out.append("")
    out.append("| recogniser | ms / line (median of rounds; detection included) |")
    out.append("|---|---:|")
    for name in readers:
        out.append(f"| {name} | {statistics.median(times[name]):.0f} |")
    text = "\n".join(out) + "\n"
    print(text)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(text)
    for name in readers:  # what was read, for the record
        print(f"--- {name}")
        for (script, truth, _), read in zip(pictures, reads[name]):
            print(f"{script}: {' | '.join(read)}")


if __name__ == "__main__":
    main()
