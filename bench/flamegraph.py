#!/usr/bin/env python3
"""A flame graph from `perf script` output, as one self-contained SVG, and the functions with the
most samples as text.

usage: perf script -i perf.data | bench/flamegraph.py --title TITLE --svg OUT.svg [--top N]

Each sample's stack becomes one path from the root (the thread's entry) to the function that was
running; a frame's width is its share of the samples. C++ names lose their argument lists, and
an unknown symbol shows as its library. Hover a frame for its name and figures. Frames narrower
than a pixel are left out."""
import argparse
import collections
import html
import re
import sys
import zlib

WIDTH, FRAME_H, FONT = 1200, 16, 11
MAX_LABEL = 240  # characters of a name in a frame's hover text (Boost's run to thousands)


def short_name(symbol, dso):
    if symbol in ("", "[unknown]"):
        return "[" + dso.rsplit("/", 1)[-1] + "]"
    symbol = re.sub(r"\+0x[0-9a-f]+$", "", symbol)
    # Drop argument lists, innermost first, keeping template arguments readable.
    previous = None
    while previous != symbol:
        previous = symbol
        symbol = re.sub(r"\([^()]*\)(?=(?: const)?(?:$|::|\s))", "", symbol)
    return symbol


def read_stacks(lines):
    """Yields (thread name, frames from root to leaf) per sample of `perf script`."""
    header, frames = None, []
    frame = re.compile(r"^\s+[0-9a-f]+\s+(.*?)\s+\((.*)\)$")
    for line in lines:
        line = line.rstrip("\n")
        if not line.strip():
            if header is not None:
                yield header, list(reversed(frames))
            header, frames = None, []
        elif header is None:
            header = line.split()[0] if line.split() else "?"
        else:
            m = frame.match(line)
            if m:
                frames.append(short_name(m.group(1), m.group(2)))
    if header is not None:
        yield header, list(reversed(frames))


class Node:
    __slots__ = ("name", "count", "children")

    def __init__(self, name):
        self.name, self.count, self.children = name, 0, {}


def build(stacks):
    root = Node("all")
    self_count = collections.Counter()
    total_count = collections.Counter()
    for thread, frames in stacks:
        path = [re.sub(r"[-_]?\d+$", "", thread)] + frames  # pgq-worker-3 -> pgq-worker
        root.count += 1
        node = root
        for name in path:
            node = node.children.setdefault(name, Node(name))
            node.count += 1
        self_count[path[-1]] += 1
        for name in set(path[1:]):
            total_count[name] += 1
    return root, self_count, total_count


def colour(name):
    h = zlib.crc32(name.encode())
    return "rgb({},{},{})".format(205 + h % 50, 80 + (h >> 8) % 120, 40 + (h >> 16) % 50)


def svg(root, title):
    depth = [0]

    def measure(node, d):
        depth[0] = max(depth[0], d)
        for child in node.children.values():
            measure(child, d + 1)

    measure(root, 0)
    height = (depth[0] + 1) * FRAME_H + 40
    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" width="{WIDTH}" height="{height}" '
        f'font-family="monospace" font-size="{FONT}">',
        f'<rect width="100%" height="100%" fill="#f8f8f8"/>',
        f'<text x="{WIDTH / 2}" y="20" text-anchor="middle" font-size="14">{html.escape(title)}</text>',
    ]
    scale = (WIDTH - 20) / max(root.count, 1)

    def draw(node, x, d):
        w = node.count * scale
        if w < 1.0:  # narrower than a pixel: not drawn (it would only make the file larger)
            return
        y = height - (d + 1) * FRAME_H - 5
        share = 100.0 * node.count / max(root.count, 1)
        name = node.name if len(node.name) <= MAX_LABEL else node.name[: MAX_LABEL - 2] + ".."
        label = html.escape(f"{name} ({node.count} samples, {share:.2f}%)")
        out.append(f'<g><title>{label}</title><rect x="{x:.1f}" y="{y}" width="{w:.1f}" '
                   f'height="{FRAME_H - 1}" fill="{colour(node.name)}" rx="2"/>')
        chars = int(w / (FONT * 0.6))
        if chars >= 3:
            text = node.name if len(node.name) <= chars else node.name[: chars - 2] + ".."
            out.append(f'<text x="{x + 3:.1f}" y="{y + FRAME_H - 4}">{html.escape(text)}</text>')
        out.append("</g>")
        for child in sorted(node.children.values(), key=lambda c: c.name):
            draw(child, x, d + 1)
            x += child.count * scale

    draw(root, 10, 0)
    out.append("</svg>")
    return "\n".join(out) + "\n"


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--title", default="flame graph")
    parser.add_argument("--svg", required=True)
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    root, self_count, total_count = build(read_stacks(sys.stdin))
    if root.count == 0:
        sys.exit("flamegraph.py: no samples in the input (is it `perf script` output?)")
    with open(args.svg, "w", encoding="utf-8") as f:
        f.write(svg(root, f"{args.title} ({root.count} samples)"))
    print(f"{root.count} samples; by thread:")
    for node in sorted(root.children.values(), key=lambda n: -n.count):
        print(f"  {100.0 * node.count / root.count:6.2f}%  {node.name}")
    print(f"the {args.top} functions with the most samples running (self) and on the stack (total):")
    for name, n in self_count.most_common(args.top):
        print(f"  self {100.0 * n / root.count:6.2f}%  total {100.0 * total_count[name] / root.count:6.2f}%  {name[:150]}")


if __name__ == "__main__":
    main()
