"""Vietnamese text helpers: folding for search and a collation key for sorting.

Names of people, units and meeting rooms are searched without diacritics ("hoang hoa" finds
"Hoằng Hóa") and listed in Vietnamese dictionary order. Both are computed once, when a name is
written, and stored next to it, so the database only ever compares plain ASCII.
"""

from __future__ import annotations

import unicodedata

__all__ = ["fold", "matches", "sort_key"]


def fold(s: str) -> str:
    """Return ``s`` reduced for accent- and case-insensitive search.

    Lower-cased, diacritics removed, đ mapped to d, and runs of whitespace collapsed to one
    space: ``fold("  Hoằng  Hóa ") == "hoang hoa"``.
    """
    decomposed = unicodedata.normalize("NFD", unicodedata.normalize("NFC", s).casefold())
    bare = "".join(c for c in decomposed if not unicodedata.combining(c))
    return " ".join(bare.replace("đ", "d").split())


def matches(query: str, text: str) -> bool:
    """Tell whether every word of ``query`` occurs in ``text``, ignoring case and diacritics.

    Words match anywhere, in any order: ``matches("hoa thanh", "Thanh Hóa")`` is true. An empty
    query matches everything.
    """
    haystack = fold(text)
    return all(word in haystack for word in fold(query).split())


# --- sort_key ---------------------------------------------------------------------------------
#
# The key is built from [0-9a-z] only. On those characters byte order, SQLite's BINARY collation
# and PostgreSQL's libc/ICU collations (en_US and friends) all agree, so ORDER BY gives the same
# result on every backend whatever the database locale.
#
# A name is split into words (runs of letters and digits; spaces and punctuation only separate
# words). Each word is encoded as
#
#     unit codes   "00"   tone digits   "0"
#
# * a unit is a letter (2 chars), a run of digits ("01", its length in 2 base-36 chars, then the
#   digits without leading zeros, so numbers sort by value), or any other character ("zz" and
#   its code point in 4 base-36 chars). Codes are prefix-free and "00" is lower than all of them,
#   so a word sorts before its extensions ("An" < "An Bình" < "Anh");
# * the tone digits are the word's tones, 1..5 in dictionary order (huyền, hỏi, ngã, sắc, nặng),
#   ended by "0", so an unmarked syllable comes first and the position of the mark within the
#   syllable ("Hoá" / "Hóa") does not matter.
#
# Comparing two keys therefore compares word by word, letters first and then tone, which is how
# Vietnamese dictionaries order entries: every "ba ..." before "bà ...", "bà ..." before "bạc".

_DIGITS36 = "0123456789abcdefghijklmnopqrstuvwxyz"

# The Vietnamese alphabet, with f, j, w, z (foreign names) where the Latin alphabet has them.
_ALPHABET = "aăâbcdđeêfghijklmnoôơpqrstuưvwxyz"

_WORD_END = "00"
_NUMBER = "01"
_OTHER = "zz"
_TONE_END = "0"

_GRAVE, _HOOK, _TILDE, _ACUTE, _DOT = "\u0300", "\u0309", "\u0303", "\u0301", "\u0323"
_BREVE, _CIRCUMFLEX, _HORN = "\u0306", "\u0302", "\u031b"

_TONES = {_GRAVE: "1", _HOOK: "2", _TILDE: "3", _ACUTE: "4", _DOT: "5"}
_MODIFIED = {
    ("a", _BREVE): "ă",
    ("a", _CIRCUMFLEX): "â",
    ("e", _CIRCUMFLEX): "ê",
    ("o", _CIRCUMFLEX): "ô",
    ("o", _HORN): "ơ",
    ("u", _HORN): "ư",
}


def _base36(n: int, width: int) -> str:
    digits = []
    for _ in range(width):
        n, r = divmod(n, 36)
        digits.append(_DIGITS36[r])
    return "".join(reversed(digits))


# Letter codes start at 02, after the word end (00) and numbers (01).
_LETTER_CODES = {letter: _base36(i + 2, 2) for i, letter in enumerate(_ALPHABET)}


def _number_code(digits: str) -> str:
    value = digits.lstrip("0") or "0"
    # Runs too long for a 2-character length (over 1295 digits) are cut into pieces.
    return "".join(
        _NUMBER + _base36(len(chunk), 2) + chunk
        for chunk in (value[i : i + 1295] for i in range(0, len(value), 1295))
    )


def _letter_code(letter: str) -> str:
    return _LETTER_CODES.get(letter) or _OTHER + _base36(ord(letter), 4)


def sort_key(s: str) -> str:
    """Return an ASCII key whose plain byte order is Vietnamese dictionary order.

    Letters follow the alphabet a ă â b c d đ e ê g h i k l m n o ô ơ p q r s t u ư v x y;
    within the same letters the tone decides: none, huyền, hỏi, ngã, sắc, nặng. Names compare
    word by word, case is ignored, numbers sort by value and before letters, and punctuation
    only separates words. The key uses only ``[0-9a-z]`` so that SQLite and PostgreSQL in any
    locale order it like bytes. It takes two characters per letter plus four per syllable,
    so about three per character of ordinary Vietnamese text (nine at worst, for lone
    non-Latin characters).
    """
    text = unicodedata.normalize("NFD", unicodedata.normalize("NFC", s).casefold())
    out: list[str] = []
    units: list[str] = []
    tones: list[str] = []
    letter = ""  # the letter being read, until its combining marks are all seen
    digits = ""  # the run of digits being read

    def flush_unit() -> None:
        nonlocal letter, digits
        if letter:
            units.append(_letter_code(letter))
            letter = ""
        if digits:
            units.append(_number_code(digits))
            digits = ""

    def flush_word() -> None:
        flush_unit()
        if units:
            out.append("".join(units) + _WORD_END + "".join(tones) + _TONE_END)
        units.clear()
        tones.clear()

    for c in text:
        if unicodedata.combining(c):
            if c in _TONES:
                tones.append(_TONES[c])
            elif letter:
                letter = _MODIFIED.get((letter, c), letter)
        elif "0" <= c <= "9":
            if letter:
                flush_unit()
            digits += c
        elif c.isalnum():
            flush_unit()
            letter = c
        else:
            flush_word()
    flush_word()
    return "".join(out)
