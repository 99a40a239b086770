"""What a calibration command may write, and what it changed: one rule for every scenario.

A FAR level's threshold fitted on new data is written only when it was **validated on people
the fit did not see**: thresholds fitted on one people-disjoint part are measured on the
other, and the level counts as validated when that part holds enough impostor pairs to see it
(``MIN_FALSE_ACCEPTS`` / FAR, the fitting rule) and its realised FAR is not significantly above
the promise (the 95 % interval's lower end at or below it). A level that could not be validated
keeps the threshold of the calibration in force, unless the operator passes
``--accept-unvalidated``; when nothing would change, nothing is written.

A scenario's command calls :func:`validate_levels` with its validation measurements,
:func:`decide` with the thresholds before and after, then writes the file and prints
:func:`change_lines` (thresholds per scenario on the score and on the confidence scale, and the
confidence scale itself, before and after). The photo-photo scenario of
``facecompare calibrate`` uses it (``lab/fit/command.py``).
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field
from typing import Any

from ...calibration import THRESHOLD_FARS, ConfidenceMapping
from ..measure.verification import MIN_FALSE_ACCEPTS

ACCEPT_FLAG = "--accept-unvalidated"
# scores at which the confidence before and after is shown (cosine scale)
SHOWN_SCORES = (0.0, 0.2, 0.4, 0.6)


@dataclass(frozen=True)
class LevelValidation:
    """What people-disjoint validation said about one FAR level of a scenario."""

    validated: bool
    detail: str  # one line: what was measured, or why it could not be


def needed_pairs(level: str) -> int:
    """Impostor pairs a level needs to rest on ``MIN_FALSE_ACCEPTS`` false accepts."""
    return math.ceil(MIN_FALSE_ACCEPTS / THRESHOLD_FARS[level])


def validate_levels(
    fitted_on_part: dict[str, float],
    measured: list[dict[str, Any]],
    fit_notes: dict[str, str] | None = None,
) -> dict[str, LevelValidation]:
    """Each FAR level: validated or not, from the thresholds fitted on one part of the people
    (``fitted_on_part``; a level missing there could not be fitted, ``fit_notes`` say why) and
    the rows measuring them on other people (``population_report.Row.as_dict()``). Validated:
    at least one row holds enough impostor pairs to see the level, and no row's realised FAR is
    significantly above the promise (a row too small to see a level can still refute it)."""
    out: dict[str, LevelValidation] = {}
    for level, far in THRESHOLD_FARS.items():
        if level not in fitted_on_part or not measured:
            why = (fit_notes or {}).get(level) or "no threshold"
            out[level] = LevelValidation(
                False, f"not validated: it could not be fitted on a part of the people ({why})"
            )
            continue
        above, seen, small = [], [], []
        for row in measured:
            t = row["thresholds"][level]
            n, k, (lo, hi) = row["impostor_pairs"], t["false_accepts"], t["far_ci95"]
            where = row["population"]
            if lo > far:
                above.append(
                    f"{where}: realised FAR {k / n:.4%} ({k:,} of {n:,}, 95 % {lo:.4%}-"
                    f"{hi:.4%}) above the promised {far:.4%}"
                )
            elif n < needed_pairs(level):
                small.append(
                    f"{where} holds {n:,} impostor pairs, {needed_pairs(level):,} needed to "
                    f"see FAR {far:g}"
                )
            else:
                seen.append(f"{where}: FAR {k / n:.4%} ({k:,} of {n:,}, 95 % up to {hi:.4%})")
        if above or not seen:
            out[level] = LevelValidation(False, "not validated: " + "; ".join(above or small))
        else:
            detail = "; ".join(seen + [f"({m})" for m in small])
            out[level] = LevelValidation(True, "validated on other people: " + detail)
    return out


@dataclass
class Decision:
    """What to write for one scenario: thresholds (score units) and where each comes from."""

    scenario: str
    thresholds: dict[str, float]
    sources: dict[str, str]
    refused: dict[str, str] = field(default_factory=dict)  # fitted but not written, and why
    missing: list[str] = field(default_factory=list)  # levels with no threshold at all

    @property
    def changed(self) -> list[str]:
        return [n for n, s in self.sources.items() if not s.startswith("kept")]


def decide(
    scenario: str,
    before: dict[str, float] | None,
    fitted: dict[str, float],
    validation: dict[str, LevelValidation],
    accept_unvalidated: bool = False,
) -> Decision:
    """Per FAR level: the fitted threshold when validated (or when the operator accepts it
    unvalidated), else the threshold in force (``before``), kept only while the levels stay in
    order (a stricter level never below a looser one); a level with neither is ``missing``."""
    before = before or {}
    out: dict[str, float] = {}
    sources: dict[str, str] = {}
    refused: dict[str, str] = {}
    for level in THRESHOLD_FARS:
        check = validation.get(level, LevelValidation(False, "not validated"))
        if level in fitted and (check.validated or accept_unvalidated):
            out[level] = fitted[level]
            note = "" if check.validated else f" (accepted with {ACCEPT_FLAG})"
            sources[level] = f"fitted on your data, {check.detail}{note}"
            continue
        if level in fitted:
            now = f" (in force: {before[level]:.4f})" if level in before else ""
            refused[level] = f"fitted {fitted[level]:.4f}{now}, {check.detail}"
        if level in before:
            out[level] = before[level]
            sources[level] = "kept: the calibration in force" + (
                " (the fit was not validated)" if level in fitted else " (too few pairs to fit)"
            )
    # the levels must stay in order: drop a kept threshold below a looser written one
    missing: list[str] = []
    floor = -math.inf
    for level in THRESHOLD_FARS:
        if level not in out:
            missing.append(level)
            continue
        if out[level] < floor and sources[level].startswith("kept"):
            refused.setdefault(level, "")
            refused[level] = (
                refused[level] + "; " if refused[level] else ""
            ) + f"the threshold in force {out[level]:.4f} is below the stricter level's"
            del out[level], sources[level]
            missing.append(level)
            continue
        floor = max(floor, out[level])
    return Decision(scenario, out, sources, refused, missing)


def _mapping(data: dict[str, Any] | None) -> ConfidenceMapping | None:
    if data is None:
        return None
    return ConfidenceMapping(float(data["mapping"]["center"]), float(data["mapping"]["scale"]))


def threshold_scores(data: dict[str, Any] | None, scenario: str) -> dict[str, float]:
    """A scenario's thresholds in score units from a calibration file's data (empty: none)."""
    if data is None or scenario not in data["scenarios"]:
        return {}
    rows = data["scenarios"][scenario]["thresholds"].items()
    return {n: float(t.get("score", t.get("cosine"))) for n, t in rows}


def change_lines(
    before: dict[str, Any] | None,
    after: dict[str, Any],
    sources: dict[str, dict[str, str]] | None = None,
) -> list[str]:
    """What changes for a client between two calibration files: per scenario and level the
    threshold as a score and as the confidence served (each on its own file's scale), with
    where the new one comes from (``sources[scenario][level]``), then the confidence scale."""
    m0, m1 = _mapping(before), _mapping(after)
    lines = []
    scenarios = list(after["scenarios"]) + [
        s for s in (before or {}).get("scenarios", {}) if s not in after["scenarios"]
    ]
    for scenario in scenarios:
        lines.append(f"{scenario} thresholds, score (confidence): before -> after")
        old, new = threshold_scores(before, scenario), threshold_scores(after, scenario)
        for level in THRESHOLD_FARS:
            a = f"{old[level]:.4f} ({m0(old[level]):.2f})" if level in old and m0 else "-"
            b = f"{new[level]:.4f} ({m1(new[level]):.2f})" if level in new and m1 else "-"
            why = (sources or {}).get(scenario, {}).get(level)
            if why is None:
                why = "unchanged" if a == b else "score kept, its confidence follows the scale"
            lines.append(f"  {level:<9} {a:>16} -> {b:<16}  {why}")
    if m0 is None:
        lines.append(f"confidence scale: center {m1.center:.4f}, scale {m1.scale:.4f} (new)")
        return lines
    if (m0.center, m0.scale) == (m1.center, m1.scale):
        lines.append(f"confidence scale unchanged (center {m1.center:.4f}, scale {m1.scale:.4f})")
        return lines
    lines.append(
        f"confidence scale, 100 / (1 + exp(-(score - center) / scale)): center {m0.center:.4f} "
        f"-> {m1.center:.4f}, scale {m0.scale:.4f} -> {m1.scale:.4f}; the same pair now gets "
        "another confidence:"
    )
    lines += [f"  score {s:.1f}: {m0(s):.2f} -> {m1(s):.2f}" for s in SHOWN_SCORES]
    return lines
