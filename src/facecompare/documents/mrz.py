"""Machine-readable zone (ICAO 9303): find the data line of a TD1, TD2 or TD3 MRZ in OCR text
and validate it by its check digits.

Check digit: the characters' values (0–9 digits, A=10 … Z=35, ``<`` = 0) weighted 7, 3, 1
repeating, summed, modulo 10. A line counts as an MRZ when both of its dates (birth, expiry)
are valid YYMMDD dates with correct check digits and the sex field is M, F, X or ``<``: a
chance string passes with probability well under 1 / 1,000 (two check digits at 1/10 each, and
the date and sex constraints), and no poster, logo or T-shirt prints one.
"""

from __future__ import annotations

from dataclasses import dataclass

_WEIGHTS = (7, 3, 1)
# OCR confusions in fields that must be digits
_TO_DIGIT = str.maketrans(
    {"O": "0", "Q": "0", "D": "0", "I": "1", "L": "1", "Z": "2", "S": "5", "B": "8", "G": "6"}
)


def _value(ch: str) -> int:
    if ch.isdigit():
        return int(ch)
    if "A" <= ch <= "Z":
        return ord(ch) - 55
    if ch == "<":
        return 0
    raise ValueError(ch)


def check_digit(field: str) -> int:
    """ICAO 9303 check digit of ``field``."""
    return sum(_value(c) * _WEIGHTS[i % 3] for i, c in enumerate(field)) % 10


def _ok(field: str, digit: str, numeric: bool = False) -> bool:
    if numeric:
        field = field.translate(_TO_DIGIT)
    digit = digit.translate(_TO_DIGIT)
    if not digit.isdigit():
        return False
    try:
        return check_digit(field) == int(digit)
    except ValueError:
        return False


def _date(field: str) -> bool:
    f = field.translate(_TO_DIGIT)
    if not (len(f) == 6 and f.isdigit()):
        return False
    mm, dd = int(f[2:4]), int(f[4:6])
    return 1 <= mm <= 12 and 1 <= dd <= 31


@dataclass(frozen=True)
class MrzLine:
    kind: str  # "TD1" (ID card, line 2) or "TD2/TD3" (passport, visa, line 2)
    text: str
    checks: int  # check digits that passed (of 3)


def normalise(text: str) -> str:
    """Upper case, no spaces; « and similar read as ``<``; anything else kept."""
    t = text.upper().replace(" ", "").replace("«", "<<").replace("‹", "<").replace("(", "<")
    return t


def data_line(text: str) -> MrzLine | None:
    """The MRZ data line in ``text`` (an OCR line), validated, or None."""
    t = normalise(text)
    for start in range(0, max(1, len(t) - 27)):
        s = t[start:]
        if len(s) >= 28:  # TD2 / TD3 line 2: doc(9) cd nat(3) birth(6) cd sex expiry(6) cd
            birth, expiry = s[13:19], s[21:27]
            if (
                _date(birth)
                and _date(expiry)
                and s[20] in "MFX<"
                and _ok(birth, s[19], True)
                and _ok(expiry, s[27], True)
            ):
                checks = 2 + _ok(s[0:9], s[9])
                return MrzLine("TD2/TD3", s, checks)
        if len(s) >= 15:  # TD1 line 2: birth(6) cd sex expiry(6) cd nat(3)
            birth, expiry = s[0:6], s[8:14]
            if (
                _date(birth)
                and _date(expiry)
                and s[7] in "MFX<"
                and _ok(birth, s[6], True)
                and _ok(expiry, s[14], True)
            ):
                return MrzLine("TD1", s, 2)
    return None


# where the fields of a data line start: kind, shortest line, birth date, sex, expiry date,
# nationality (TD2/TD3 line 2, then TD1 line 2)
_FIELDS = (("TD2/TD3", 28, 13, 20, 21, 10), ("TD1", 18, 0, 7, 8, 15))


def structured_line(text: str) -> MrzLine | None:
    """A data line whose fields have the MRZ form (two YYMMDD dates, a sex field, a 3-letter
    nationality, a run of ``<`` fillers) but whose check digits do not all validate: some
    specimens print invalid digits, and OCR may misread one. Weaker than ``data_line``."""
    t = normalise(text)
    for start in range(0, max(1, len(t) - 17)):
        s = t[start:]
        if "<<<" not in s:
            break
        for kind, length, birth, sex, expiry, nationality in _FIELDS:
            if (
                len(s) >= length
                and _date(s[birth : birth + 6])
                and _date(s[expiry : expiry + 6])
                and s[sex] in "MFX<"
                and s[nationality : nationality + 3].isalpha()
            ):
                return MrzLine(kind, s, 0)
    return None


def looks_like_mrz(text: str) -> bool:
    """A candidate worth validating: long, upper case / digits / ``<`` only."""
    t = normalise(text)
    if len(t) < 15:
        return False
    good = sum(c.isdigit() or "A" <= c <= "Z" or c == "<" for c in t)
    return good >= 0.9 * len(t) and ("<" in t or sum(c.isdigit() for c in t) >= 8)
