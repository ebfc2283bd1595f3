"""Name keys that survive transliteration: Urdu script, Roman Urdu and English.

A child called محمد علی may be reported as "Mohammad Ali" by her mother, as
"Muhammed Aly" by a shelter and as "Ali" by a station. Exact text never meets,
so each name is reduced to a *phonetic skeleton* per word:

* Urdu script: diacritics (zer, zabar, pesh, shadd...) and tatweel removed,
  Arabic letter variants folded to the Urdu ones (ي ى → ی, ك → ک, ه → ہ, ة → ہ),
  each letter mapped to one Latin sound code through :data:`URDU`.
* Latin script: lower case, accents removed, digraphs read as one sound
  (sh, ch, kh, gh, th, ph...), q → k, v → w, c → k/s.
* Both: short vowels are not written in Urdu, so inside a word vowels are
  dropped; a word keeps one vowel class at its start ("a") and at its end
  ("a" for a/e/ah/ہ/ے, "i" for i/ee/y/ی, "u" for o/u/و); doubled sounds
  collapse (Mohammad → m h m d; Fatimah, فاطمہ → f t m a).

:func:`similarity` compares two whole names word by word (order-free, each
word of the shorter name against its best partner, Jaro-Winkler on the
skeletons), with common honorifics and prefixes (Muhammad, Syed, Malik, Bibi...)
counting as weak words, so "Muhammad Ali" and "Ali" are close while
"Muhammad Ali" and "Muhammad Bilal" are not.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from functools import lru_cache

from rapidfuzz.distance import JaroWinkler

# Sound codes: one character each, so skeletons compare letter by letter.
# S = sh, C = ch, X = kh, G = gh; everything else is its own lower-case letter.

URDU: dict[str, str] = {
    "ب": "b",
    "پ": "p",
    "ت": "t",
    "ٹ": "t",
    "ث": "s",
    "ج": "j",
    "چ": "C",
    "ح": "h",
    "خ": "X",
    "د": "d",
    "ڈ": "d",
    "ذ": "z",
    "ر": "r",
    "ڑ": "r",
    "ز": "z",
    "ژ": "z",
    "س": "s",
    "ش": "S",
    "ص": "s",
    "ض": "z",
    "ط": "t",
    "ظ": "z",
    "غ": "G",
    "ف": "f",
    "ق": "k",
    "ک": "k",
    "گ": "g",
    "ل": "l",
    "م": "m",
    "ن": "n",
    "ں": "n",
}
"""Urdu consonants → sound codes. Vowel carriers (ا آ ع و ی ے ہ ھ ء ئ) are read by position."""

ARABIC_VARIANTS: dict[str, str] = {
    "ي": "ی",
    "ى": "ی",
    "ې": "ی",
    "ك": "ک",
    "ه": "ہ",
    "ة": "ہ",
    "ۃ": "ہ",
    "ۀ": "ہ",
    "أ": "ا",
    "إ": "ا",
    "ٱ": "ا",
    "ؤ": "و",
    "ۓ": "ے",
    "٠": "",
}
"""Arabic code points (from Arabic keyboards and copied text) → the Urdu letter read the same."""

URDU_VOWEL_CARRIERS = frozenset("اآعوییےہھءئ")

LATIN_DIGRAPHS: dict[str, str] = {
    "sh": "S",
    "ch": "C",
    "kh": "X",
    "gh": "G",
    "th": "t",
    "ph": "f",
    "dh": "d",
    "bh": "b",
    "jh": "j",
    "zh": "z",
    "ck": "k",
}
LATIN_SINGLE: dict[str, str] = {"q": "k", "v": "w", "x": "ks"}
LATIN_VOWELS = frozenset("aeiou")

ALIASES: tuple[str, ...] = ("mohd", "muhd", "md", "mhd", "m")
"""Abbreviations of Muhammad (an "M." before a name is Muhammad in Pakistan)."""

EXCEPTIONS: dict[str, str] = {
    **{w: "mhmud" for w in ("mahmood", "mehmood", "mahmud", "mehmud", "mahmoud", "محمود")},
    **{w: "syd" for w in ("syed", "sayed", "sayyid", "sayyed", "syyed", "سید")},
    **{w: "syda" for w in ("syeda", "sayeda", "sayyida", "سیدہ")},
}
"""Words whose skeleton would fall on another's: Mahmood is not Muhammad, Syed is not Saad."""

WEAK_WORDS: tuple[str, ...] = (
    "muhammad",
    "syed",
    "sayyid",
    "syeda",
    "malik",
    "mian",
    "hafiz",
    "sheikh",
    "shaikh",
    "bibi",
    "begum",
    "khan",
    "bin",
    "bint",
    "ch",
    "chaudhry",
    "rana",
    "raja",
    "mirza",
    "ul",
    "ud",
    "din",
    "ur",
)
"""Prefixes, honorifics and very common words: they count, but far less than a given name."""

WEAK_WEIGHT = 0.25
"""How much a weak word counts against a given name (1.0)."""

_SPLIT = re.compile(r"[\s\-_,./()'\"`’]+")


def _is_letter(ch: str) -> bool:
    return "a" <= ch <= "z" or ch in URDU or ch in URDU_VOWEL_CARRIERS or ch == "آ"


@lru_cache(maxsize=65536)
def fold_word(word: str) -> str:
    """One word's spelling folded, script kept: idempotent (``fold_word(fold_word(w)) == ...``).

    Compatibility forms decomposed, Arabic letter variants → Urdu letters,
    ی with a standing alif (بشریٰ) → ا, diacritics, accents and tatweel
    removed, lower case, anything not a Latin or Urdu letter dropped, a letter
    written twice written once, abbreviations expanded (Mohd → muhamad).
    """
    text = unicodedata.normalize("NFKD", word)
    text = "".join(ARABIC_VARIANTS.get(ch, ch) for ch in text)
    text = text.replace("یٰ", "ا")
    text = "".join(ch for ch in text if not unicodedata.combining(ch)).lower()
    text = "".join(ch for ch in text if _is_letter(ch))
    text = "".join(ch for i, ch in enumerate(text) if i == 0 or text[i - 1] != ch)
    return _ALIASES.get(text, text)


def _is_urdu(word: str) -> bool:
    return any("\u0600" <= ch <= "\u06ff" or "\ufb50" <= ch <= "\ufefc" for ch in word)


def _urdu_word(word: str) -> str:
    # hamza is silent
    letters = [ch for ch in word if ch not in ("ء", "ئ")]
    codes: list[str] = []
    last = len(letters) - 1
    for i, ch in enumerate(letters):
        nxt = letters[i + 1] if i < last else ""
        if ch in URDU:
            codes.append(URDU[ch])
        elif ch in ("ا", "آ", "ع"):
            if i == 0 or i == last:
                codes.append("a")
        elif ch == "و":
            if i == 0 or nxt in ("ا", "آ", "ی"):
                codes.append("w")
            elif i == last:
                codes.append("u")
        elif ch == "ی":
            if i == 0:
                codes.append("y")
            elif i == last:
                codes.append("i")
        elif ch == "ے":
            if i == last:
                codes.append("a")
        elif ch in ("ہ", "ھ"):
            if i == last and i > 0:
                codes.append("a")
            elif ch == "ہ" or i == 0:
                codes.append("h")
            # ھ inside a word marks aspiration (بھ = bh): silent
    return "".join(codes)


def _latin_word(text: str) -> str:
    codes: list[str] = []
    i = 0
    n = len(text)
    while i < n:
        ch = text[i]
        vowel_next = text[i + 1 : i + 2] in LATIN_VOWELS and i + 1 < n
        if ch in LATIN_VOWELS or (ch == "y" and i > 0) or (ch == "w" and i > 0 and not vowel_next):
            j = i + 1
            while j < n and (text[j] in LATIN_VOWELS or text[j] == "y"):
                j += 1
            run = text[i:j]
            silent_h = j == n - 1 and text[j] == "h"  # Fatimah, Sarah
            if i == 0:
                codes.append("a")
            elif j == n or silent_h:
                codes.append(_vowel_class(run))
            i = j + (1 if silent_h else 0)
            continue
        pair = text[i : i + 2]
        if pair in LATIN_DIGRAPHS:
            codes.append(LATIN_DIGRAPHS[pair])
            i += 2
            continue
        if ch == "c":
            codes.append("s" if text[i + 1 : i + 2] in ("e", "i", "y") else "k")
        else:
            codes.append(LATIN_SINGLE.get(ch, ch))
        i += 1
    return "".join(codes)


def _vowel_class(run: str) -> str:
    last = run[-1]
    if last in ("i", "y", "e") and run != "e":
        return "i"
    if last in ("o", "u"):
        return "u"
    return "a"


@lru_cache(maxsize=65536)
def word_key(word: str) -> str:
    """The phonetic skeleton of one word (any script); empty for a word of no letters."""
    word = fold_word(word)
    if not word:
        return ""
    if word in _EXCEPTIONS:
        return _EXCEPTIONS[word]
    if _is_urdu(word):
        return _urdu_word(word)
    return _latin_word(word)


def split_words(name: str) -> list[str]:
    """A name's words as written (after Unicode normalisation)."""
    name = unicodedata.normalize("NFKC", name)
    return [w for w in _SPLIT.split(name) if w]


_ALIASES = {a: "muhamad" for a in ALIASES}
_EXCEPTIONS = {fold_word(w): key for w, key in EXCEPTIONS.items()}

WEAK_KEYS: frozenset[str] = frozenset(word_key(w) for w in WEAK_WORDS) | frozenset(
    word_key(w) for w in ("محمد", "سید", "ملک", "بی", "بیگم", "خان", "میاں", "شیخ")
)


@dataclass(frozen=True)
class NameWord:
    """One word of a name: as written, and its skeleton."""

    text: str
    key: str
    weak: bool


@lru_cache(maxsize=65536)
def name_words(name: str) -> tuple[NameWord, ...]:
    """Each word of ``name`` with its skeleton; words without letters are left out."""
    words: list[NameWord] = []
    for text in split_words(name):
        key = word_key(text)
        if key:
            words.append(NameWord(text, key, key in WEAK_KEYS))
    return tuple(words)


def fold(name: str) -> str:
    """A name's spelling folded word by word (:func:`fold_word`), script kept; idempotent."""
    return " ".join(w for w in (fold_word(x) for x in split_words(name)) if w)


def skeleton(name: str) -> str:
    """A name as space-separated phonetic skeletons: the same for its spellings in any script."""
    return " ".join(w.key for w in name_words(name))


_COARSE = str.maketrans({"S": "s", "X": "k", "G": "g", "C": "j", "h": None, "w": None, "y": None})
COARSE_FACTOR = 0.95
"""A match only once sh/s, kh/k, gh/g, ch/j are confused and h, w, y dropped counts this much."""


@lru_cache(maxsize=65536)
def coarse_key(key: str) -> str:
    """A skeleton with the sounds most often confused in Roman Urdu merged (Shail = Sohail)."""
    return key.translate(_COARSE)


def word_similarity(a: str, b: str) -> float:
    """Similarity of two skeletons, 0..1 (Jaro-Winkler, or on the coarse keys x 0.95)."""
    if a == b:
        return 1.0
    fine = float(JaroWinkler.normalized_similarity(a, b))
    ca, cb = coarse_key(a), coarse_key(b)
    if not ca or not cb:
        return fine
    return max(fine, COARSE_FACTOR * float(JaroWinkler.normalized_similarity(ca, cb)))


def _coverage(
    a: Sequence[NameWord], b: Sequence[NameWord], cache: dict[tuple[str, str], float] | None
) -> float:
    """How well the words of ``a`` are found in ``b``: weighted mean of each one's best match."""
    total = 0.0
    weight = 0.0
    for w in a:
        best = 0.0
        for v in b:
            key = (w.key, v.key)
            sim = cache.get(key) if cache is not None else None
            if sim is None:
                sim = word_similarity(w.key, v.key)
                if cache is not None:
                    cache[key] = sim
            if v.weak != w.weak:
                sim *= 0.8
            if sim > best:
                best = sim
        wt = WEAK_WEIGHT if w.weak else 1.0
        total += wt * best
        weight += wt
    return total / weight


WEAK_ONLY_CAP = 0.6
""""Muhammad" alone against "Muhammad Bilal": the given name is unknown, not matched."""

SHORT_SHARE = 0.8
"""How much the shorter name's words count against the longer's (names lose words: "Ali" for
"Muhammad Ali Khan"); the rest rewards the longer name's words found too."""


def words_similarity(
    a: Sequence[NameWord], b: Sequence[NameWord], cache: dict[tuple[str, str], float] | None = None
) -> float:
    """Similarity of two names given as words, 0..1, symmetric.

    Order-free: each word of one name is paired with its best match in the
    other; given names weigh 1, weak words :data:`WEAK_WEIGHT`. The name with
    fewer given-name words leads (:data:`SHORT_SHARE`), so a name missing a
    word stays close. A name of only weak words against one with a given name
    reaches at most :data:`WEAK_ONLY_CAP`.
    """
    if not a or not b:
        return 0.0
    strong_a = sum(1 for w in a if not w.weak)
    strong_b = sum(1 for w in b if not w.weak)
    ab, ba = _coverage(a, b, cache), _coverage(b, a, cache)
    if (strong_a, len(a)) == (strong_b, len(b)):
        short, long_ = max(ab, ba), min(ab, ba)
    elif (strong_a, len(a)) < (strong_b, len(b)):
        short, long_ = ab, ba
    else:
        short, long_ = ba, ab
    score = SHORT_SHARE * short + (1 - SHORT_SHARE) * long_
    if min(strong_a, strong_b) == 0 and max(strong_a, strong_b) > 0:
        score *= WEAK_ONLY_CAP
    return score


def similarity(a: str, b: str) -> float:
    """Similarity of two names in any script, 0..1 (1 for the same name in any spelling)."""
    return words_similarity(name_words(a), name_words(b))


def best_pair(
    names_a: Iterable[str],
    names_b: Iterable[str],
    cache: dict[tuple[str, str], float] | None = None,
) -> tuple[float, str, str]:
    """The closest pair of names between two lists: (similarity, name from a, name from b)."""
    best = (0.0, "", "")
    list_b = [(n, name_words(n)) for n in names_b]
    for na in names_a:
        wa = name_words(na)
        for nb, wb in list_b:
            sim = words_similarity(wa, wb, cache)
            if sim > best[0]:
                best = (sim, na, nb)
    return best
