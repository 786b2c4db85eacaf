"""The one-page HTML report of a run (inline SVG, no scripts) and the text summary."""

from __future__ import annotations

import os
from datetime import date
from html import escape
from typing import Any

from bnpl_quality.calendar import DAY_TYPES
from bnpl_quality.config import GateConfig
from bnpl_quality.results import FAIL, NOTHING_TO_CHECK, PASS, WARN, GateOutcome
from bnpl_quality.volume import DayExpectation, warn_ratios

TYPE_COLOURS = {"weekday": "#3b6fb6", "weekend": "#d08a1c", "holiday": "#8e44ad"}
VERDICT_COLOURS = {PASS: "#1e7b34", WARN: "#b7791f", FAIL: "#b42318", NOTHING_TO_CHECK: "#555"}


def write_report(
    config: GateConfig, outcome: GateOutcome, expectations: dict[date, DayExpectation]
) -> None:
    config.report_dir.mkdir(parents=True, exist_ok=True)
    config.report_path.write_text(render(config, outcome, expectations), encoding="utf-8")


def render(
    config: GateConfig, outcome: GateOutcome, expectations: dict[date, DayExpectation]
) -> str:
    verdict = outcome.verdict
    docs = os.path.relpath(config.data_docs_dir / "index.html", config.report_dir)
    failed = outcome.critical_failures + outcome.warnings
    parts = [
        "<!doctype html><html lang='en'><head><meta charset='utf-8'>",
        f"<title>BNPL quality gate {escape(verdict)}</title>",
        "<style>body{font:14px/1.45 system-ui,sans-serif;margin:2em auto;max-width:1100px;"
        "color:#222}table{border-collapse:collapse;width:100%;margin:.5em 0 1.5em}"
        "th,td{border-bottom:1px solid #ddd;padding:4px 8px;text-align:left;vertical-align:top}"
        "th{background:#f4f4f4}.ok{color:#1e7b34}.bad{color:#b42318}.warn{color:#b7791f}"
        "code{font-size:12px;word-break:break-all}.verdict{color:#fff;padding:.6em 1em;"
        "border-radius:6px;font-size:1.3em}</style></head><body>",
        "<h1>BNPL data quality gate</h1>",
        f"<p class='verdict' style='background:{VERDICT_COLOURS[verdict]}'>"
        f"{escape(_verdict_sentence(outcome))}</p>",
        "<p>",
        f"Run <code>{escape(outcome.run_id)}</code> at {outcome.run_time:%Y-%m-%d %H:%M:%S} UTC"
        f" on {escape(config.warehouse)}; checkpoint <code>daily_quality_gate</code>; "
        f"days checked: <b>{escape(outcome.checked_label or 'none')}</b> "
        f"({len(outcome.days)}); {outcome.duration_seconds:.1f} s; "
        f"statistical drift {'fails' if config.fail_on_drift else 'warns'}. "
        f"<a href='{escape(docs)}'>Great Expectations Data Docs</a>"
        f"{'' if config.data_docs else ' (not updated by this run)'}.",
        "</p>",
    ]
    if outcome.daily:
        parts += [
            "<h2>Daily transactions against the expected count of each day</h2>",
            chart(outcome.daily),
            _daily_table(outcome.daily),
        ]
    if failed:
        parts += ["<h2>Failed expectations</h2>", _expectation_table(failed)]
    if outcome.outcomes:
        parts += ["<h2>All expectations</h2>", _expectation_table(outcome.outcomes)]
    if any(e.expected is not None for e in expectations.values()):
        low, high = warn_ratios(config.band_low_slack, config.band_high_slack)
        parts.append(
            "<h2>Expected counts</h2><p>A day's expected count is its base_daily_volume "
            "times simtom's calendar factor of the day (day of week, week of month, month, "
            "holidays and shopping periods). simtom adds log-normal noise (sigma 0.1): a day "
            f"outside x{low:.2f}..x{high:.2f} of its expectation (3 sigma) warns, one outside "
            f"x{config.band_low_slack}..x{config.band_high_slack} fails the gate.</p>"
        )
    parts.append("</body></html>")
    return "\n".join(parts)


def chart(daily: list[dict[str, Any]]) -> str:
    """Bars of loaded transactions per day over the day's expected band (3-sigma noise)."""
    width, height, left, bottom, top = 1000, 320, 60, 50, 20
    plot_h = height - bottom - top
    peak = max([1] + [(d["band_high"] or 0) for d in daily] + [d["loaded"] or 0 for d in daily])
    slot = (width - left - 10) / len(daily)
    bar = max(2.0, slot * 0.55)

    def y(value: float) -> float:
        return top + plot_h - plot_h * value / peak

    out = [
        f"<svg xmlns='http://www.w3.org/2000/svg' width='{width}' height='{height}' "
        f"viewBox='0 0 {width} {height}' role='img' aria-label='daily transactions vs band'>",
        f"<line x1='{left}' y1='{top + plot_h}' x2='{width - 10}' y2='{top + plot_h}' "
        "stroke='#888'/>",
    ]
    for i in range(5):
        value = peak * i / 4
        out.append(
            f"<text x='{left - 6}' y='{y(value) + 4:.1f}' font-size='11' text-anchor='end'>"
            f"{value:,.0f}</text><line x1='{left}' y1='{y(value):.1f}' x2='{width - 10}' "
            f"y2='{y(value):.1f}' stroke='#eee'/>"
        )
    label_every = max(1, len(daily) // 14)
    for i, d in enumerate(daily):
        x = left + i * slot + (slot - bar) / 2
        colour = TYPE_COLOURS[d["day_type"]]
        if d["band_low"] is not None:
            out.append(
                f"<rect x='{x - bar * 0.25:.1f}' y='{y(d['band_high']):.1f}' "
                f"width='{bar * 1.5:.1f}' height='{y(d['band_low']) - y(d['band_high']):.1f}' "
                f"fill='{colour}' fill-opacity='0.15' stroke='{colour}' stroke-dasharray='3 2'>"
                f"<title>{d['day']} {d['day_type']} band {d['band_low']}-{d['band_high']}</title>"
                "</rect>"
            )
        loaded = d["loaded"] or 0
        inside = d["band_low"] is None or d["band_low"] <= loaded <= d["band_high"]
        out.append(
            f"<rect x='{x:.1f}' y='{y(loaded):.1f}' width='{bar:.1f}' "
            f"height='{top + plot_h - y(loaded):.1f}' fill='{colour}' "
            f"stroke='{'none' if inside else '#b42318'}' stroke-width='2'>"
            f"<title>{d['day']} ({d['day_type']}): {loaded} transactions</title></rect>"
        )
        if not loaded and d["extracted"] is None:
            out.append(
                f"<text x='{x + bar / 2:.1f}' y='{top + plot_h - 6}' font-size='11' "
                "fill='#b42318' text-anchor='middle'>missing</text>"
            )
        if i % label_every == 0:
            out.append(
                f"<text x='{x + bar / 2:.1f}' y='{top + plot_h + 16}' font-size='10' "
                f"text-anchor='middle'>{d['day']:%m-%d}</text>"
            )
    for i, kind in enumerate(DAY_TYPES):
        lx = left + 10 + i * 100
        out.append(
            f"<rect x='{lx}' y='{height - 18}' width='12' height='12' "
            f"fill='{TYPE_COLOURS[kind]}'/><text x='{lx + 16}' y='{height - 8}' "
            f"font-size='12'>{kind}</text>"
        )
    out.append(
        f"<text x='{left + 320}' y='{height - 8}' font-size='12' fill='#555'>bars: transactions "
        "loaded; dashed boxes: the day's expected band; red outline: outside its band"
        "</text>"
    )
    out.append("</svg>")
    return "".join(out)


def _daily_table(daily: list[dict[str, Any]]) -> str:
    rows = [
        "<table><tr><th>day</th><th>type</th><th>base volume</th><th>expected</th>"
        "<th>extracted</th><th>loaded (raw)</th><th>staging</th><th>quarantined</th>"
        "<th>band (warns outside)</th><th>fails outside</th></tr>"
    ]
    for d in daily:
        band = f"{d['band_low']} - {d['band_high']}" if d["band_low"] is not None else "n/a"
        limits = f"{d['fail_low']} - {d['fail_high']}" if d["fail_low"] is not None else "n/a"
        rows.append(
            "<tr>"
            + "".join(
                f"<td>{escape(str(v))}</td>"
                for v in (
                    d["day"],
                    d["day_type"],
                    _dash(d["base_daily_volume"]),
                    _dash(d["expected"]),
                    _dash(d["extracted"]),
                    d["loaded"],
                    _dash(d["staged"]),
                    d["quarantined"],
                    band,
                    limits,
                )
            )
            + "</tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _expectation_table(outcomes: list) -> str:
    rows = [
        "<table><tr><th>suite</th><th>expectation</th><th>column</th><th>severity</th>"
        "<th>result</th><th>observed</th></tr>"
    ]
    for o in outcomes:
        css = "ok" if o.success else ("bad" if o.severity == "critical" else "warn")
        rows.append(
            f"<tr><td>{escape(o.suite)}</td><td>{escape(o.description)}</td>"
            f"<td>{escape(o.column or '')}</td><td>{escape(o.severity)}</td>"
            f"<td class='{css}'>{'pass' if o.success else 'FAIL'}</td>"
            f"<td><code>{escape(o.observed_text[:600])}</code></td></tr>"
        )
    rows.append("</table>")
    return "".join(rows)


def _dash(value: Any) -> Any:
    return "-" if value is None else value


def _verdict_sentence(outcome: GateOutcome) -> str:
    verdict = outcome.verdict
    if verdict == NOTHING_TO_CHECK:
        return "NO NEW DAYS: every extracted day has already passed the gate"
    critical, warnings = len(outcome.critical_failures), len(outcome.warnings)
    return (
        f"{verdict.replace('_', ' ')}: {len(outcome.outcomes)} expectations, "
        f"{critical} critical failure{'s' if critical != 1 else ''}, "
        f"{warnings} warning{'s' if warnings != 1 else ''}"
    )


def summary_text(config: GateConfig, outcome: GateOutcome) -> str:
    """The few lines the job prints at its end."""
    lines = [f"quality gate daily_quality_gate: {_verdict_sentence(outcome)}"]
    lines.append(f"  run id: {outcome.run_id} ({outcome.duration_seconds:.1f} s)")
    if outcome.days:
        loaded = sum(d["loaded"] or 0 for d in outcome.daily)
        quarantined = sum(d["quarantined"] or 0 for d in outcome.daily)
        lines.append(
            f"  days checked: {outcome.checked_label} ({len(outcome.days)} days, "
            f"{loaded} transactions, {quarantined} quarantined lines)"
        )
        suites: dict[str, list[int]] = {}
        for o in outcome.outcomes:
            counts = suites.setdefault(o.suite, [0, 0])
            counts[0] += o.success
            counts[1] += 1
        lines.append("  " + "; ".join(f"{s}: {ok}/{n} passed" for s, (ok, n) in suites.items()))
        for title, items in (
            ("critical failures", outcome.critical_failures),
            ("warnings" + (" (fail_on_drift)" if config.fail_on_drift else ""), outcome.warnings),
        ):
            if items:
                lines.append(f"  {title}:")
                lines += [f"    - {o.short()}"[:400] for o in items]
    lines.append(
        f"  report: {config.report_path}; data docs: {config.data_docs_dir / 'index.html'}"
    )
    lines.append(f"  results: {config.tables.results} (+{len(outcome.outcomes)} rows)")
    return "\n".join(lines)
