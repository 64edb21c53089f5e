"""Inline SVG figures for the leaderboard page: annotated heatmaps and the alignment–uniformity scatter.

Drawn as plain SVG strings (no JavaScript, no external assets), so the page stays self-contained and the figures
render even with scripts disabled. Every label is escaped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from html import escape

# matplotlib's viridis at 0, 0.1, ..., 1.
_VIRIDIS = ["#440154", "#482475", "#414487", "#355f8d", "#2a788e", "#21918c", "#22a884", "#44bf70", "#7ad151",
            "#bddf26", "#fde725"]
CELL = 34
# Tableau 10 (matplotlib's tab10), ordered so neighbours differ strongly; paired with MARKERS, every point of a
# scatter gets its own (colour, marker) pair up to 40 points.
_PALETTE = ["#1f77b4", "#d62728", "#2ca02c", "#9467bd", "#ff7f0e", "#17becf", "#8c564b", "#e377c2", "#7f7f7f",
            "#bcbd22"]
MARKERS = ("circle", "square", "triangle", "diamond")


def _rgb(h: str) -> tuple[int, int, int]:
    return int(h[1:3], 16), int(h[3:5], 16), int(h[5:7], 16)


def color(t: float) -> str:
    """Viridis colour for ``t`` in [0, 1] (linear interpolation between 11 anchors)."""
    t = min(1.0, max(0.0, t)) * 10
    i = min(int(t), 9)
    f = t - i
    a, b = _rgb(_VIRIDIS[i]), _rgb(_VIRIDIS[i + 1])
    return "#" + "".join(f"{round(x + (y - x) * f):02x}" for x, y in zip(a, b, strict=True))


def _text_color(fill: str) -> str:
    r, g, b = _rgb(fill)
    return "#000" if 0.299 * r + 0.587 * g + 0.114 * b > 140 else "#fff"


def short(v: float) -> str:
    """Three decimals without the leading zero for |v| < 1 (".123"), as in IR tables."""
    s = f"{v:.3f}"
    return s.replace("0.", ".", 1) if abs(v) < 1 and s.startswith(("0.", "-0.")) else s


def heatmap(matrix: Sequence[Sequence[float | None]], rows: Sequence[str], cols: Sequence[str], *,
            vmin: float, vmax: float, title: str, row_title: str = "", col_title: str = "",
            diagonal_note: str = "") -> str:
    """An annotated heatmap: one coloured square per (row, column) value, grey and blank where None.

    Colours map [vmin, vmax] onto viridis, so heatmaps of one view are comparable. Each square prints its value
    (the sortable table under the figure has them to 4 decimals); diagonal squares of Cross maps have a tooltip.
    """
    label_w = max([len(r) for r in rows] + [2]) * 8 + 28
    top = 56
    w = max(label_w + CELL * len(cols) + 10, len(title) * 7 + 10)
    h = top + CELL * len(rows) + 26
    span = (vmax - vmin) or 1.0
    out = [f'<svg class="heatmap" xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
           f'viewBox="0 0 {w} {h}" role="img" aria-label="{escape(title)}">',
           f'<text x="0" y="14" class="fig-title">{escape(title)}</text>']
    if col_title:
        out.append(f'<text x="{label_w + CELL * len(cols) / 2:.0f}" y="32" class="axis-title" '
                   f'text-anchor="middle">{escape(col_title)}</text>')
    if row_title:
        out.append(f'<text x="2" y="{top - 4}" class="axis-title">{escape(row_title)}</text>')
    for j, c in enumerate(cols):
        out.append(f'<text x="{label_w + CELL * j + CELL / 2:.0f}" y="{top - 6}" text-anchor="middle" '
                   f'class="tick">{escape(c)}</text>')
    sep = " → " if diagonal_note else " · "  # Cross maps: query → document language (the title names the model)
    for i, r in enumerate(rows):
        y = top + CELL * i
        out.append(f'<text x="{label_w - 6}" y="{y + CELL / 2 + 4:.0f}" text-anchor="end" class="tick">'
                   f'{escape(r)}</text><g transform="translate(0 {y})">')
        for j, c in enumerate(cols):
            v = matrix[i][j]
            x = label_w + CELL * j
            if v is None or (isinstance(v, float) and math.isnan(v)):
                out.append(f'<rect x="{x}" width="{CELL - 1}" height="{CELL - 1}" fill="#ddd">'
                           f'<title>{escape(r)}{sep}{escape(c)}: no value</title></rect>')
                continue
            fill = color((v - vmin) / span)
            note = f" ({diagonal_note})" if diagonal_note and r == c else ""
            shade = "d" if _text_color(fill) == "#000" else "l"
            # the value is printed in the square (3 decimals); a tooltip per square only where it adds a note
            tip = f"<title>{escape(r)}{sep}{escape(c)}: {v:.4f}{escape(note)}</title>" if note else ""
            out.append(f'<rect class="hm-cell" x="{x}" width="{CELL - 1}" height="{CELL - 1}" fill="{fill}">'
                       f'{tip}</rect><text x="{x + (CELL - 1) / 2:.1f}" y="{CELL // 2 + 3}" class="cl {shade}">'
                       f'{short(v)}</text>')
        out.append("</g>")
    out.append("</svg>")
    return "".join(out)


def colorbar(vmin: float, vmax: float, label: str, gid: str, width: int = 240) -> str:
    """A horizontal legend for :func:`heatmap` colours; ``gid`` must be unique in the page (gradient id)."""
    stops = "".join(f'<stop offset="{i * 10}%" stop-color="{c}"/>' for i, c in enumerate(_VIRIDIS))
    return (f'<svg class="colorbar" xmlns="http://www.w3.org/2000/svg" width="{width + 80}" height="34" '
            f'viewBox="0 0 {width + 80} 34" role="img" aria-label="colour scale"><defs><linearGradient id="{escape(gid)}">{stops}</linearGradient></defs>'
            f'<rect x="40" y="4" width="{width}" height="12" fill="url(#{escape(gid)})"/>'
            f'<text x="36" y="14" text-anchor="end" class="tick">{short(vmin)}</text>'
            f'<text x="{width + 44}" y="14" class="tick">{short(vmax)}</text>'
            f'<text x="{40 + width / 2:.0f}" y="30" text-anchor="middle" class="tick">{escape(label)}</text></svg>')


def _ticks(lo: float, hi: float, n: int = 5) -> list[float]:
    step = (hi - lo) / n if hi > lo else 1.0
    mag = 10 ** math.floor(math.log10(step))
    step = min((m * mag for m in (1, 2, 2.5, 5, 10) if m * mag >= step), default=step)
    start = math.ceil(lo / step) * step
    return [round(start + k * step, 10) for k in range(int((hi - start) / step + 1e-9) + 1)]


def point_styles(n: int) -> list[tuple[str, str]]:
    """``n`` distinct (colour, marker) pairs: colour k mod 10, marker (k + k // 20) mod 4 (unique up to 40)."""
    return [(_PALETTE[k % len(_PALETTE)], MARKERS[(k + k // 20) % len(MARKERS)]) for k in range(n)]


def _marker(shape: str, x: float, y: float, r: float, fill: str, extra: str = "") -> str:
    if shape == "square":
        s = r * 0.9
        return f'<rect{extra} x="{x - s:.1f}" y="{y - s:.1f}" width="{2 * s:.1f}" height="{2 * s:.1f}" fill="{fill}"'
    if shape in ("triangle", "diamond"):
        if shape == "triangle":
            pts = [(x, y - r * 1.15), (x + r * 1.05, y + r * 0.8), (x - r * 1.05, y + r * 0.8)]
        else:
            pts = [(x, y - r * 1.25), (x + r * 1.05, y), (x, y + r * 1.25), (x - r * 1.05, y)]
        return f'<polygon{extra} points="{" ".join(f"{a:.1f},{b:.1f}" for a, b in pts)}" fill="{fill}"'
    return f'<circle{extra} cx="{x:.1f}" cy="{y:.1f}" r="{r:.1f}" fill="{fill}"'


def marker_icon(style: tuple[str, str], size: int = 14) -> str:
    """A small inline SVG of a scatter marker, for the HTML legend."""
    colour, shape = style
    c = size / 2
    return (f'<svg class="marker-icon" xmlns="http://www.w3.org/2000/svg" width="{size}" height="{size}" '
            f'viewBox="0 0 {size} {size}" aria-hidden="true">{_marker(shape, c, c, size * 0.36, colour)}'
            f' stroke="#fff" stroke-width="0.8"/></svg>')


def _overlap(a: tuple[float, float, float, float], b: tuple[float, float, float, float]) -> float:
    w = min(a[2], b[2]) - max(a[0], b[0])
    h = min(a[3], b[3]) - max(a[1], b[1])
    return w * h if w > 0 and h > 0 else 0.0


def place_labels(points: Sequence[tuple[float, float]], widths: Sequence[float], *, height: float = 11.0,
                 gap: float = 8.0, bounds: tuple[float, float, float, float] | None = None
                 ) -> list[tuple[float, float, str]]:
    """Greedy label placement: for each point, the spot among eight around it that overlaps least with the
    labels placed so far, every marker, and the outside of ``bounds``. Returns (x, y baseline, text-anchor)."""
    marks = [(x - 6, y - 6, x + 6, y + 6) for x, y in points]
    placed: list[tuple[float, float, float, float]] = []
    out = []
    for (x, y), w in zip(points, widths, strict=True):
        cands = [(x + gap, y + height / 2 - 2, "start"), (x - gap, y + height / 2 - 2, "end"),
                 (x, y - gap, "middle"), (x, y + gap + height - 2, "middle"),
                 (x + gap * 0.8, y - gap * 0.8, "start"), (x - gap * 0.8, y - gap * 0.8, "end"),
                 (x + gap * 0.8, y + gap * 0.8 + height - 2, "start"), (x - gap * 0.8, y + gap * 0.8 + height - 2, "end")]
        best, best_cost = cands[0], float("inf")
        for order, (lx, ly, anchor) in enumerate(cands):
            x0 = lx if anchor == "start" else lx - w if anchor == "end" else lx - w / 2
            box = (x0, ly - height + 2, x0 + w, ly + 2)
            cost = sum(_overlap(box, b) for b in placed) * 3 + sum(_overlap(box, m) for m in marks) + order * 0.01
            if bounds is not None:
                inside = _overlap(box, bounds)
                cost += (w * height - inside) * 4
            if cost < best_cost:
                best, best_cost = (lx, ly, anchor), cost
        lx, ly, anchor = best
        x0 = lx if anchor == "start" else lx - w if anchor == "end" else lx - w / 2
        placed.append((x0, ly - height + 2, x0 + w, ly + 2))
        out.append(best)
    return out


def scatter(points: Sequence[tuple[str, str, float, float, tuple[str, str]]], *, xlabel: str, ylabel: str,
            title: str, width: int = 520, height: int = 380) -> str:
    """A scatter plot, one marker per (letter, name, x, y, (colour, marker)), labelled with its letter (the
    legend beside the figure names the models), axes padded around the data so labels have room."""
    left, right, top, bottom = 60, 24, 30, 46
    xs = [p[2] for p in points]
    ys = [p[3] for p in points]

    def padded(v: list[float]) -> tuple[float, float]:
        lo, hi = min(v), max(v)
        pad = (hi - lo) * 0.12 or abs(hi) * 0.1 or 0.1
        return lo - pad, hi + pad

    (x0, x1), (y0, y1) = padded(xs), padded(ys)
    pw, ph = width - left - right, height - top - bottom

    def px(x: float) -> float:
        return left + (x - x0) / (x1 - x0) * pw

    def py(y: float) -> float:
        return top + ph - (y - y0) / (y1 - y0) * ph

    out = [f'<svg class="scatter" xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
           f'viewBox="0 0 {width} {height}" role="img" aria-label="{escape(title)}">',
           f'<text x="0" y="14" class="fig-title">{escape(title)}</text>',
           f'<rect x="{left}" y="{top}" width="{pw}" height="{ph}" fill="none" stroke="#999"/>']
    for t in _ticks(x0, x1):
        out.append(f'<line x1="{px(t):.1f}" x2="{px(t):.1f}" y1="{top + ph}" y2="{top + ph + 4}" stroke="#999"/>'
                   f'<text x="{px(t):.1f}" y="{top + ph + 16}" text-anchor="middle" class="tick">{t:g}</text>')
    for t in _ticks(y0, y1):
        out.append(f'<line x1="{left - 4}" x2="{left}" y1="{py(t):.1f}" y2="{py(t):.1f}" stroke="#999"/>'
                   f'<text x="{left - 6}" y="{py(t) + 4:.1f}" text-anchor="end" class="tick">{t:g}</text>')
    out.append(f'<text x="{left + pw / 2:.0f}" y="{height - 8}" text-anchor="middle" class="axis-title">'
               f'{escape(xlabel)}</text>')
    out.append(f'<text transform="translate(14 {top + ph / 2:.0f}) rotate(-90)" text-anchor="middle" '
               f'class="axis-title">{escape(ylabel)}</text>')
    xy = [(px(x), py(y)) for _, _, x, y, _ in points]
    spots = place_labels(xy, [7.5 * len(p[0]) + 2 for p in points], bounds=(left, top, left + pw, top + ph))
    for (lt, name, x, y, (colour, shape)), (cx, cy), (lx, ly, anchor) in zip(points, xy, spots, strict=True):
        tip = f"<title>{escape(lt)} {escape(name)}: {escape(xlabel)} {x:.4f}, {escape(ylabel)} {y:.4f}</title>"
        out.append(_marker(shape, cx, cy, 6, colour, ' class="pt"') + f' stroke="#fff" stroke-width="1">{tip}'
                   + ("</circle>" if shape == "circle" else "</rect>" if shape == "square" else "</polygon>"))
        out.append(f'<text x="{lx:.1f}" y="{ly:.1f}" text-anchor="{anchor}" class="pt-label">{escape(lt)}</text>')
    out.append("</svg>")
    return "".join(out)
