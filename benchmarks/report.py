"""The results of a benchmark run: the printed tables, results.md and results.png.

Every table has one row per entry: its median (ns/item, seconds per run, or
ns/event), the ratio to the workload's baseline (1.00) and, where the workload
has one, to its sync for-loop; an ``ns/event`` table has events/s, the time
ratio and the speedup (the baseline's time over the entry's) instead. A
workload's acceptance targets are reported under its table as met or NOT met
(or, for a workload with ``targets_label``, one a line as "a / b: ratio
(target >= x, met or not met)"), and all of them together at the end.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from harness import Environment, Kind, Measurement, Unit, Workload


def ratio(value: float | None, base: float | None) -> str:
    if value is None or base is None or base == 0:
        return "n/a"
    return f"{value / base:.2f}"


def fmt(value: float | None, unit: Unit = "ns/item") -> str:
    if value is None:
        return "n/a"
    return f"{value:.3f}" if unit == "s" else f"{value:,.0f}"


def per_second(ns: float | None) -> str:
    return "n/a" if not ns else f"{1e9 / ns:,.0f}"


def rows(workload: Workload, measurements: list[Measurement]) -> list[tuple[str, ...]]:
    """(implementation, ns/item or s/run, x async, [x sync,] notes) for each entry.

    An ``ns/event`` workload has (implementation, ns/event, events/s, x baseline
    (time), speedup (events/s over the baseline's), notes) instead.
    """
    unit = workload.unit
    by_name = {m.entry.name: m.value(unit) for m in measurements}
    base = by_name.get(workload.baseline)
    sync = by_name.get(workload.sync_baseline) if workload.sync_baseline else None
    out: list[tuple[str, ...]] = []
    for m in measurements:
        value = m.value(unit)
        versus = by_name.get(m.entry.versus) if m.entry.versus else base
        notes: list[str] = []
        if workload.fixed_n is not None and workload.detail is None:
            notes.append(f"{m.n} items")
        elif m.entry.divisor != 1:
            notes.append(f"N={m.n:,} (N/{m.entry.divisor})")
        if m.entry.versus:
            notes.append(f"ratios vs {m.entry.versus}")
        if m.skipped:
            notes.append(m.skipped)
        if unit == "ns/event":
            numbers = (fmt(value), per_second(value), ratio(value, versus), ratio(versus, value))
            out.append((m.entry.name, *numbers, "; ".join(notes)))
            continue
        sync_ratio = (ratio(value, sync),) if workload.sync_baseline else ()
        out.append(
            (m.entry.name, fmt(value, unit), ratio(value, versus), *sync_ratio, "; ".join(notes))
        )
    return out


HEADERS = ("implementation", "ns/item (median)", "x async baseline", "x sync for-loop", "notes")
UNIT_HEADER: dict[Unit, str] = {
    "ns/item": "ns/item (median)",
    "s": "s/run (median)",
    "ns/event": "ns/event (median)",
}
UNIT_AXIS: dict[Unit, str] = {"ns/item": "ns/item", "s": "seconds per run", "ns/event": "ns/event"}


def headers(workload: Workload) -> tuple[str, ...]:
    """The table's columns; no "x sync for-loop" when the workload has no sync loop."""
    label = workload.baseline_label
    if workload.unit == "ns/event":
        return (
            HEADERS[0],
            UNIT_HEADER["ns/event"],
            "events/s",
            f"x {label} (time)",
            f"speedup vs {label}",
            HEADERS[4],
        )
    sync = HEADERS[3:4] if workload.sync_baseline else ()
    return (HEADERS[0], UNIT_HEADER[workload.unit], f"x {label}", *sync, HEADERS[4])


def goals(workload: Workload) -> list[tuple[str, str | None, float]]:
    """The workload's targets: (entry, versus (None: the baseline), least speedup)."""
    found = list(workload.targets)
    if workload.target is not None:
        found.insert(0, (workload.target[0], None, workload.target[1]))
    return found


def target_line(workload: Workload, measurements: list[Measurement]) -> str | None:
    """Whether the workload's acceptance target is met, as one line."""
    if workload.targets_label is not None or not goals(workload):
        return None
    by_name = {m.entry.name: m.value(workload.unit) for m in measurements}
    what = "events/s" if workload.unit == "ns/event" else "speed"
    lines: list[str] = []
    for name, versus, least in goals(workload):
        label = workload.baseline_label if versus is None else versus
        ours_value, base = by_name.get(name), by_name.get(versus or workload.baseline)
        if workload.unit == "s":  # a time target: at most this fraction of the baseline's time
            goal = f"{name} at most {1 / least:.2f}x {label}'s time"
            if not ours_value or not base:
                lines.append(f"{goal}: not measured")
                continue
            share = ours_value / base
            met = share <= 1 / least + 1e-9
            lines.append(f"{goal}: {share:.2f}x, {'met' if met else 'NOT met'}")
            continue
        goal = f"{name} at least {least:.2f}x {label}'s {what}"
        if not ours_value or not base:
            lines.append(f"{goal}: not measured")
            continue
        speedup = base / ours_value
        lines.append(f"{goal}: {speedup:.2f}x, {'met' if speedup >= least else 'NOT met'}")
    return "target: " + "; ".join(lines)


def shown_ratio(value: float, least: float) -> str:
    """``value`` to 2 decimals, or more where 2 would round it onto the other side of ``least``."""
    met = value >= least
    for digits in range(2, 7):
        text = f"{value:.{digits}f}"
        if (float(text) >= least) == met:
            break
    return text


def ratio_targets(workload: Workload, measurements: list[Measurement]) -> list[str]:
    """A ``targets_label`` workload's targets, one a line: "a / b: ratio (target >= x, met)".

    The ratio is b's median time over a's (a's speed over b's), both from this run.
    """
    if workload.targets_label is None:
        return []
    found = {m.entry.name: m for m in measurements}
    lines: list[str] = []
    for name, versus, least in goals(workload):
        other = versus or workload.baseline
        pair = f"{name} / {other}"
        goal = f"target >= {least:.1f}"
        values = [found[x].value(workload.unit) if x in found else None for x in (name, other)]
        if not values[0] or not values[1]:
            missing = [x for x, v in zip((name, other), values, strict=True) if not v]
            lines.append(f"{pair}: n/a ({goal}, not measured: {' and '.join(missing)} skipped)")
            continue
        value = values[1] / values[0]
        met = "met" if value >= least else "not met"
        lines.append(f"{pair}: {shown_ratio(value, least)} ({goal}, {met})")
    return lines


def describe_input(workload: Workload, measurements: list[Measurement], env: Environment) -> str:
    """The workload's detail line (what the input was), with its runs if fewer than asked."""
    measured = [m for m in measurements if m.skipped is None]
    if workload.detail is None or not measured:
        return ""
    line = workload.detail(measured[0].n)
    runs = len(measured[0].seconds)
    if runs != env.runs:
        line += f"; median of {runs} runs"
    return line


def header_line(env: Environment) -> str:
    peers = ", ".join(f"{k} {v or 'n/a (not installed)'}" for k, v in env.versions.items())
    return (
        f"Python {env.python} · loop {env.loop} · N={env.n:,} · runs={env.runs} (median) · "
        f"{env.date} · sluiceway {env.sluiceway} · {peers}"
    )


def print_tables(
    workloads: dict[str, Workload], table: dict[str, list[Measurement]], env: Environment
) -> None:
    """Print the header line, one table per workload and the acceptance targets."""
    print(header_line(env))
    targets: list[str] = []
    for key, measurements in table.items():
        workload = workloads[key]
        body = [headers(workload), *rows(workload, measurements)]
        widths = [max(len(r[i]) for r in body) for i in range(len(body[0]) - 1)]
        print(f"\n{key}: {workload.title}")
        if detail := describe_input(workload, measurements, env):
            print(f"  ({detail})")
        for name, *numbers, notes in body:
            cells = [name.ljust(widths[0])]
            cells += [c.rjust(w) for c, w in zip(numbers, widths[1:], strict=True)]
            print("  ".join(cells) + (f"  {notes}" if notes and notes != "notes" else ""))
        if line := target_line(workload, measurements):
            print(line)
            targets.append(f"{key}: {line.removeprefix('target: ')}")
        if figures := ratio_targets(workload, measurements):
            print(f"{workload.targets_label}:")
            print("\n".join(f"  {figure}" for figure in figures))
            targets += [f"{key}: {figure}" for figure in figures]
    if targets:
        print("\nacceptance targets:")
        for line in targets:
            print(f"  {line}")


def markdown(
    workloads: dict[str, Workload], table: dict[str, list[Measurement]], env: Environment
) -> str:
    """results.md: the header line, then per workload its table, targets and API calls."""
    lines = [
        "# sluiceway benchmarks",
        "",
        header_line(env),
        "",
        "Written by `benchmarks/run.py`. ns/item is the median over the runs; *x async "
        "baseline* divides it by the workload's hand-written async baseline (1.00), *x sync "
        "for-loop* by the plain for-loop that calls the same functions. Workloads paced by "
        "sleeps report seconds per run instead of ns/item. The SSE workloads report ns/event, "
        "events/s and the speedup over httpx-sse (its events/s over theirs). Compare ratios "
        "within one run: absolute times move with the machine.",
    ]
    targets: list[str] = []
    for key, measurements in table.items():
        workload = workloads[key]
        lines += ["", f"## {key}", "", workload.title, ""]
        if detail := describe_input(workload, measurements, env):
            lines += [f"Input: {detail}.", ""]
        lines.append("| " + " | ".join(headers(workload)) + " |")
        lines.append("|---|" + "---:|" * (len(headers(workload)) - 2) + "---|")
        lines += ["| " + " | ".join(r) + " |" for r in rows(workload, measurements)]
        if line := target_line(workload, measurements):
            lines += ["", f"**{line}**"]
            targets.append(f"- `{key}`: {line.removeprefix('target: ')}")
        if figures := ratio_targets(workload, measurements):
            lines += ["", f"**{workload.targets_label}:**", ""]
            lines += [f"- {figure}" for figure in figures]
            targets += [f"- `{key}`: {figure}" for figure in figures]
        lines += ["", "<details><summary>API calls</summary>", ""]
        lines += [f"- {m.entry.name}: `{m.entry.api}`" for m in measurements]
        lines += ["", "</details>"]
    if targets:
        lines += ["", "## Acceptance targets", "", *targets]
    return "\n".join(lines) + "\n"


COLORS: dict[Kind, str] = {
    "sync": "#9e9e9e",
    "baseline": "#4c72b0",
    "reference": "#8172b3",
    "sluiceway": "#dd8452",
    "peer": "#55a868",
}

LEGEND: dict[Kind, str] = {
    "sync": "sync for-loop",
    "baseline": "hand-written async (1.00)",
    "reference": "hand-written reference",
    "sluiceway": "sluiceway",
    "peer": "peer library",
}


def chart(
    workloads: dict[str, Workload],
    table: dict[str, list[Measurement]],
    env: Environment,
    path: Path,
) -> None:
    """results.png: a bar chart per workload, in its unit (log scale when bars span >20x)."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt
    from matplotlib.patches import Patch

    heights = [len(ms) for ms in table.values()]
    fig, axes = plt.subplots(
        len(table),
        1,
        figsize=(10, 1.2 + 0.32 * sum(heights) + 0.6 * len(table)),
        gridspec_kw={"height_ratios": heights},
        squeeze=False,
    )
    for ax, (key, measurements) in zip(axes[:, 0], table.items(), strict=True):
        names = [m.entry.name for m in measurements]
        unit = workloads[key].unit
        values = [m.value(unit) or 0.0 for m in measurements]
        colors = [COLORS[m.entry.kind] for m in measurements]
        ypos = range(len(names))
        ax.barh(ypos, values, color=colors)
        ax.set_yticks(list(ypos), names, fontsize=8)
        ax.invert_yaxis()
        shown = [v for v in values if v > 0]
        if shown and max(shown) / min(shown) > 20:
            ax.set_xscale("log")
        for y, m, v in zip(ypos, measurements, values, strict=True):
            label = fmt(m.value(unit), unit)
            ax.text(max(v, min(shown, default=1.0)), y, f" {label}", va="center", fontsize=7)
        ax.set_title(key, fontsize=9, loc="left")
        ax.set_xlabel(f"{UNIT_AXIS[unit]} (median, lower is better)", fontsize=8)
        ax.tick_params(axis="x", labelsize=7)
    fig.suptitle(
        f"sluiceway vs peers · Python {env.python} · {env.loop} · N={env.n:,} · runs={env.runs}",
        fontsize=9,
    )
    kinds = {m.entry.kind for ms in table.values() for m in ms}
    legend = [Patch(color=COLORS[k], label=LEGEND[k]) for k in COLORS if k in kinds]
    top = 1 - 0.7 / fig.get_figheight()  # room for the title and the legend
    fig.legend(
        handles=legend,
        fontsize=7,
        ncol=len(legend),
        loc="upper center",
        frameon=False,
        bbox_to_anchor=(0.5, top + 0.2 / fig.get_figheight()),
    )
    fig.tight_layout(rect=(0, 0, 1, top))
    fig.savefig(path, dpi=120)
    plt.close(fig)
