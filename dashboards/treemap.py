"""Squarified treemap layout (Bruls, Huizing & van Wijk, 2000). Pure: numbers in, rectangles out.

Rows of rectangles are laid along the shorter side of what is left, and a row takes another
item only while that does not make its worst aspect ratio worse, so rectangles stay close to
squares: small colours remain visible and comparable, unlike in a slice-and-dice layout.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Rect:
    x: float
    y: float
    dx: float
    dy: float

    @property
    def area(self) -> float:
        return self.dx * self.dy


def _worst(row: list[float], side: float) -> float:
    """The worst aspect ratio of `row` laid along a side of length `side`."""
    total = sum(row)
    return max(max(side * side * a / (total * total), total * total / (side * side * a)) for a in row)


def squarify(values: list[float], x: float, y: float, dx: float, dy: float) -> list[Rect]:
    """One rectangle per value, in the order given, tiling the box (x, y, dx, dy) with areas
    proportional to the values. Zero values get an empty rectangle at the box's corner."""
    if dx < 0 or dy < 0:
        raise ValueError(f"box sides must not be negative, got {dx}×{dy}")
    if any(v < 0 for v in values):
        raise ValueError("treemap values must not be negative")
    rects = [Rect(x, y, 0.0, 0.0)] * len(values)
    total = float(sum(values))
    if total <= 0 or dx == 0 or dy == 0:
        return rects
    scale = dx * dy / total
    # Largest first: the greedy row building assumes it, and it puts big colours top-left.
    pending = sorted((i for i, v in enumerate(values) if v > 0), key=lambda i: -values[i])
    areas = {i: values[i] * scale for i in pending}
    while pending:
        side = min(dx, dy)
        row = [pending[0]]
        for i in pending[1:]:
            if _worst([areas[j] for j in row + [i]], side) > _worst([areas[j] for j in row], side):
                break
            row.append(i)
        pending = pending[len(row) :]
        row_area = sum(areas[i] for i in row)
        # The row goes along the shorter side: a column at the left edge when the box is wide,
        # else a row at the bottom, laid out as a column in the transposed box.
        flip = dx < dy
        x0, y0, w0, h0 = (y, x, dy, dx) if flip else (x, y, dx, dy)
        # The last row takes exactly what is left, so rounding never spills out of the box.
        width = w0 if not pending else min(w0, row_area / h0)
        offset = y0
        for n, i in enumerate(row):
            height = y0 + h0 - offset if n == len(row) - 1 else areas[i] / width
            rects[i] = Rect(offset, x0, height, width) if flip else Rect(x0, offset, width, height)
            offset += height
        x0, w0 = x0 + width, w0 - width
        x, y, dx, dy = (y0, x0, h0, w0) if flip else (x0, y0, w0, h0)
    return rects
