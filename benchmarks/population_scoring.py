"""Which scoring holds its thresholds inside each population (docs/accuracy.md).

    python benchmarks/population_scoring.py     # minutes when the embeddings are cached

Fits thresholds on the fit halves (people-disjoint) of LFW and the Korean family set under
each candidate, then measures realised FAR / TAR on the held-out halves and on populations the
fit never saw (kpop, faces94, faces94 in grey, ORL)."""

from __future__ import annotations

from facecompare.compare import Engine
from facecompare.embed import flip_band
from facecompare.lab.data.populations import named
from facecompare.lab.fit import populations as cal
from facecompare.lab.fit.command import _sub, _table, cohort_of
from facecompare.scoring import Scorer


def main() -> None:
    e = Engine.load(with_calibration=False)
    full = cal.fit_sets(e, [named("lfw"), named("korean-family")], log=lambda m: None)
    fit = [cal.FitSet(fs.pop.split(0), _sub(fs, fs.pop.split(0))) for fs in full]
    held = [cal.FitSet(fs.pop.split(1), _sub(fs, fs.pop.split(1))) for fs in full]
    unseen = ["kpop", "faces94", "faces94-grey", "orl"]
    others = cal.fit_sets(e, [named(n) for n in unseen], log=lambda m: None)
    band = flip_band("uncertain", 0.1, 0.5)
    configs = [
        ("cosine, fitted on LFW[A] only (the previous calibration)", Scorer(None, band), fit[:1]),
        ("cosine, strictest of LFW[A] and Korean[A] (shipped)", Scorer(None, band), fit),
    ]
    for per, k in [(1, 50), (2, 100)]:
        cohort = cohort_of(fit, k, per)
        configs.append(
            (f"AS-norm, cohort {len(cohort.emb)} faces, top-{k}", Scorer(cohort, band), fit)
        )
    for label, base, fs in configs:
        scorer, chosen, _ = cal.fit_scorer(fs, base)
        rows = cal.validate(scorer, chosen, held + others)
        print(f"\n### {label}: thresholds " + ", ".join(f"{k} {v:.4f}" for k, v in chosen.items()))
        print(_table(rows), flush=True)


if __name__ == "__main__":
    main()
