"""Inline SVG charts drawn as text: horizontal grouped bars with error bars. No plotting library needed."""

from __future__ import annotations

from dataclasses import dataclass
from html import escape

__all__ = ["PALETTE", "Bar", "grouped_bars"]

PALETTE = ("#3467c4", "#e07b2a", "#3a9a5b", "#b8475b", "#7d5bb5", "#8a6d3b", "#d45fa8", "#5b7f8f")


@dataclass(frozen=True)
class Bar:
    series: int  # index into the palette / legend
    value: float | None  # percent; None: missing
    error: float | None = None  # std err, drawn as ± whisker


def _truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def grouped_bars(
    groups: list[tuple[str, list[Bar]]],
    series_names: list[str],
    *,
    label_width: int = 170,
    plot_width: int = 600,
    bar_height: int = 14,
    maximum: float = 100.0,
    caption: str = "",
) -> str:
    """One row group per label, one bar per series; the x axis runs 0..`maximum` (percent)."""
    gap, group_gap, top, legend_h = 3, 12, 26, 22 if len(series_names) > 1 else 0
    value_room = 110
    width = label_width + plot_width + value_room
    group_heights = [len(bars) * (bar_height + gap) - gap for _, bars in groups]
    height = top + legend_h + sum(group_heights) + group_gap * len(groups) + 10
    x0 = label_width

    def x(value: float) -> float:
        return x0 + plot_width * max(0.0, min(value, maximum)) / maximum

    out = [
        f'<svg xmlns="http://www.w3.org/2000/svg" class="chart" viewBox="0 0 {width} {height}" '
        f'width="{width}" height="{height}" role="img" aria-label="{escape(caption)}">'
    ]
    if caption:
        out.append(f"<title>{escape(caption)}</title>")
    y_axis_top, y_axis_bottom = top + legend_h - 4, height - 6
    for tick in range(0, 101, 20):
        value = maximum * tick / 100
        tx = x(value)
        out.append(f'<line x1="{tx:.1f}" y1="{y_axis_top}" x2="{tx:.1f}" y2="{y_axis_bottom}" class="grid"/>')
        out.append(f'<text x="{tx:.1f}" y="{top - 10}" class="tick" text-anchor="middle">{value:g}</text>')
    if legend_h:
        lx: float = x0
        for index, name in enumerate(series_names):
            color = PALETTE[index % len(PALETTE)]
            label = escape(_truncate(name, 28))
            out.append(f'<rect x="{lx}" y="{top}" width="10" height="10" fill="{color}"/>')
            out.append(f'<text x="{lx + 14}" y="{top + 9}" class="legend">{label}</text>')
            lx += 34 + 7.5 * len(_truncate(name, 28))
    y = top + legend_h + group_gap // 2
    for (label, bars), group_h in zip(groups, group_heights, strict=False):
        mid = y + group_h / 2 + 4
        out.append(
            f'<text x="{x0 - 8}" y="{mid:.1f}" class="label" text-anchor="end"><title>{escape(label)}</title>'
            f"{escape(_truncate(label, 24))}</text>"
        )
        for bar in bars:
            color = PALETTE[bar.series % len(PALETTE)]
            name = series_names[bar.series]
            if bar.value is None:
                out.append(
                    f'<text x="{x0 + 4}" y="{y + bar_height - 3}" class="missing">missing ({escape(name)})</text>'
                )
                y += bar_height + gap
                continue
            end = x(bar.value)
            tip = f"{name}: {bar.value:.2f}" + ("" if bar.error is None else f" ± {bar.error:.2f}")
            out.append(
                f'<rect x="{x0}" y="{y}" width="{max(end - x0, 0.5):.1f}" height="{bar_height}" fill="{color}" '
                f'rx="2"><title>{escape(tip)}</title></rect>'
            )
            text_x = end + 6
            if bar.error:
                lo, hi, cy = x(bar.value - bar.error), x(bar.value + bar.error), y + bar_height / 2
                out.append(f'<line x1="{lo:.1f}" y1="{cy:.1f}" x2="{hi:.1f}" y2="{cy:.1f}" class="err"/>')
                for cap in (lo, hi):
                    out.append(
                        f'<line x1="{cap:.1f}" y1="{y + 2}" x2="{cap:.1f}" y2="{y + bar_height - 2}" class="err"/>'
                    )
                text_x = hi + 6
            value_text = f"{bar.value:.1f}" + ("" if bar.error is None else f" ± {bar.error:.1f}")
            out.append(f'<text x="{text_x:.1f}" y="{y + bar_height - 3}" class="value">{escape(value_text)}</text>')
            y += bar_height + gap
        y += group_gap - gap
    out.append("</svg>")
    return "".join(out)
