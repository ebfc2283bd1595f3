"""Name keys across Urdu script, Roman Urdu and English spellings."""

from __future__ import annotations

import pytest
from hypothesis import given
from hypothesis import strategies as st

from children.names import fold, fold_word, name_words, similarity, skeleton, word_key

URDU_LETTERS = "ابپتٹثجچحخدڈذرڑزژسشصضطظعغفقکگلمنںوہھءیےئآ"
ARABIC_VARIANTS = "يىكهةأإ"
MARKS = "\u064b\u064c\u064d\u064e\u064f\u0650\u0651\u0652\u0670\u0640"
LATIN = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZāēīūéü"

names = st.text(alphabet=URDU_LETTERS + ARABIC_VARIANTS + MARKS + LATIN + " -.'", max_size=30)

VARIANTS = [
    ("Muhammad", "Mohammad", "Muhammed", "Mohammed", "Mohd", "M.", "محمد", "مُحَمَّد"),
    ("Fatima", "Fatimah", "FATIMA", "Fātima", "فاطمہ", "فاطمة", "فاطمـہ"),
    ("Ali", "Aly", "علی", "علي"),
    ("Ayesha", "Aisha", "Aysha", "عائشہ"),
    ("Zainab", "Zaynab", "زینب"),
    ("Hussain", "Husain", "حسین"),
    ("Khadija", "Khadijah", "Khadeeja", "خدیجہ"),
    ("Abdullah", "Abdulla", "عبداللہ"),
    ("Bushra", "بشریٰ"),
    ("Usman", "Osman", "عثمان"),
    ("Maryam", "Mariam", "مریم"),
    ("Javed", "Jawed", "جاوید"),
    ("Rizwan", "رضوان"),
    ("Sadia", "Saadia", "سعدیہ"),
]


@given(names)
def test_folding_is_idempotent(name: str) -> None:
    once = fold(name)
    assert fold(once) == once
    assert skeleton(once) == skeleton(name)


@given(names)
def test_a_name_is_identical_to_itself(name: str) -> None:
    if name_words(name):
        assert similarity(name, name) == pytest.approx(1.0)
    else:
        assert similarity(name, name) == 0.0


@given(names, names)
def test_similarity_is_symmetric_and_bounded(a: str, b: str) -> None:
    assert 0.0 <= similarity(a, b) <= 1.0
    assert similarity(a, b) == pytest.approx(similarity(b, a))


@pytest.mark.parametrize("spellings", VARIANTS, ids=lambda s: s[0])
def test_known_spellings_share_a_skeleton(spellings: tuple[str, ...]) -> None:
    keys = {word_key(s) for s in spellings}
    assert len(keys) == 1, dict(zip(spellings, map(word_key, spellings), strict=True))


@given(
    st.sampled_from(VARIANTS).flatmap(lambda v: st.tuples(st.sampled_from(v), st.sampled_from(v)))
)
def test_any_two_spellings_of_a_name_are_close(pair: tuple[str, str]) -> None:
    assert similarity(*pair) >= 0.95


@given(st.permutations(["Muhammad", "Ali", "Khan"]))
def test_word_order_does_not_matter(words: list[str]) -> None:
    assert similarity(" ".join(words), "محمد علی خان") == pytest.approx(1.0)


def test_unrelated_names_are_far() -> None:
    for a, b in [("Zainab", "Usman"), ("Fatima", "Bilal"), ("علی", "Khadija"), ("Sana", "Tariq")]:
        assert similarity(a, b) < 0.6, (a, b)


def test_prefixes_count_less_than_given_names() -> None:
    # the same given name without its prefix stays close...
    assert similarity("Muhammad Ali", "Ali") > 0.9
    assert similarity("Syed Hassan", "حسن") > 0.9
    # ...while a shared prefix alone does not make two children one
    assert similarity("Muhammad Ali", "Muhammad Bilal") < 0.7
    assert similarity("Muhammad", "Muhammad Bilal") < 0.7


def test_given_names_that_look_like_prefixes_stay_given_names() -> None:
    assert not name_words("Mahmood")[0].weak
    assert not name_words("Saad")[0].weak
    assert word_key("Mahmood") != word_key("Muhammad")
    assert word_key("Saad") != word_key("Syed")
    assert similarity("Sadia", "Syeda") < 0.7


def test_typos_stay_close() -> None:
    assert similarity("Sohail", "Shail") > 0.85
    assert similarity("Kashif", "Kashef") > 0.9
    assert similarity("Zainab Bibi", "Zianab") > 0.9


def test_a_word_of_no_letters_is_not_a_name() -> None:
    assert name_words("- 12 .") == ()
    assert fold_word("١٢٣") == ""
    assert similarity("", "Ali") == 0.0
