"""Matching benchmark: found children against open missing reports (not a test).

A generated registry, seeded and reproducible: 10,000 open missing-child
reports and 2,000 found-child reports, 90% of which are a child some missing
report describes (the rest were never reported missing). The two reports of
one child are written by different people: the name in Urdu script on one and
Roman Urdu or English on the other (Muhammad/Mohammad/Mohd/محمد...), typos,
words swapped or dropped, some found children with no name at all, ages and
heights estimated with a small error, found near (mostly) or far (sometimes)
from where last seen, hours to weeks later; marks, clothing, languages and
photos only sometimes. Common names repeat as they do in Pakistan, so the
name alone rarely decides.

For every found report with a true missing report:

* **recall@5** — the true missing report is among the top 5 candidates;
* **time** — scoring the found report against all 10,000 (median, p95), the
  process pinned to one core;

for :class:`children.matching.Registry` (blocked), for :func:`rank` over every
report (a full scan, on a sample) and, as the baseline, exact-name matching
(the same name text, case and spaces folded; ties ranked by time since last seen).

``python -m bench children [--missing N] [--found N] [--seed S] [--scan-sample N]``
"""

from __future__ import annotations

import argparse
import os
import random
import statistics
import string
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime, timedelta

from children.matching import Description, Registry, rank

# Each name: its spellings. The first is the usual Roman Urdu/English one,
# the last the Urdu script.
GIRLS: tuple[tuple[str, ...], ...] = (
    ("Fatima", "Fatimah", "Fatma", "فاطمہ"),
    ("Ayesha", "Aisha", "Aysha", "عائشہ"),
    ("Zainab", "Zaynab", "Zenab", "زینب"),
    ("Maryam", "Mariam", "Mariyam", "مریم"),
    ("Khadija", "Khadijah", "Khadeeja", "خدیجہ"),
    ("Sana", "Sanaa", "ثنا"),
    ("Hira", "Heera", "حرا"),
    ("Iqra", "Iqraa", "اقرا"),
    ("Amna", "Aamna", "آمنہ"),
    ("Sadia", "Saadia", "سعدیہ"),
    ("Rabia", "Rabiya", "رابعہ"),
    ("Nimra", "Nimrah", "نمرہ"),
    ("Mahnoor", "Mahnur", "ماہنور"),
    ("Kiran", "Kiren", "کرن"),
    ("Bushra", "Bushrah", "بشریٰ"),
    ("Saima", "Saema", "صائمہ"),
    ("Asma", "Asmaa", "اسماء"),
    ("Hafsa", "Hafsah", "حفصہ"),
    ("Areeba", "Ariba", "اریبہ"),
    ("Laiba", "Laibah", "لائبہ"),
    ("Anum", "Anam", "انعم"),
    ("Shazia", "Shaziya", "شازیہ"),
    ("Nadia", "Nadiya", "نادیہ"),
    ("Rukhsana", "Rukhsanah", "رخسانہ"),
    ("Parveen", "Parvin", "پروین"),
    ("Samina", "Sameena", "ثمینہ"),
    ("Tahira", "Tahirah", "طاہرہ"),
    ("Uzma", "Uzmaa", "عظمیٰ"),
    ("Yasmin", "Yasmeen", "یاسمین"),
    ("Sidra", "Sidrah", "سدرہ"),
    ("Mehwish", "Mahwish", "مہوش"),
    ("Ayat", "Aayat", "آیت"),
    ("Eman", "Iman", "ایمان"),
    ("Alina", "Aleena", "علینہ"),
    ("Huma", "Humaa", "ہما"),
    ("Zara", "Zarah", "زارا"),
)
BOYS: tuple[tuple[str, ...], ...] = (
    ("Ali", "Aly", "علی"),
    ("Ahmed", "Ahmad", "Ahmet", "احمد"),
    ("Hassan", "Hasan", "حسن"),
    ("Hussain", "Husain", "Hussein", "حسین"),
    ("Usman", "Osman", "Uthman", "عثمان"),
    ("Umar", "Omar", "Umer", "عمر"),
    ("Bilal", "Bilaal", "بلال"),
    ("Hamza", "Hamzah", "حمزہ"),
    ("Abdullah", "Abdulla", "عبداللہ"),
    ("Imran", "Imraan", "عمران"),
    ("Faisal", "Faysal", "فیصل"),
    ("Zubair", "Zubayr", "زبیر"),
    ("Asad", "Asadd", "اسد"),
    ("Saad", "Sad", "سعد"),
    ("Talha", "Talhah", "طلحہ"),
    ("Haider", "Hyder", "Haidar", "حیدر"),
    ("Rizwan", "Rizwaan", "رضوان"),
    ("Kashif", "Kashef", "کاشف"),
    ("Adnan", "Adnaan", "عدنان"),
    ("Shahid", "Shahed", "شاہد"),
    ("Tariq", "Tarik", "Tareq", "طارق"),
    ("Yasir", "Yasser", "Yaser", "یاسر"),
    ("Waqas", "Waqaas", "وقاص"),
    ("Junaid", "Junayd", "جنید"),
    ("Danish", "Daanish", "دانش"),
    ("Arslan", "Arsalan", "ارسلان"),
    ("Zain", "Zayn", "زین"),
    ("Rehan", "Rayhan", "Raihan", "ریحان"),
    ("Sohail", "Suhail", "سہیل"),
    ("Nadeem", "Nadim", "ندیم"),
    ("Irfan", "Irfaan", "عرفان"),
    ("Kamran", "Kamraan", "کامران"),
    ("Salman", "Salmaan", "سلمان"),
    ("Farhan", "Farhaan", "فرحان"),
    ("Shoaib", "Shuaib", "شعیب"),
    ("Noman", "Nouman", "نعمان"),
)
FAMILY: tuple[tuple[str, ...], ...] = (
    ("Khan", "Khaan", "خان"),
    ("Butt", "Bhatt", "بٹ"),
    ("Raza", "Riza", "رضا"),
    ("Iqbal", "Iqbaal", "اقبال"),
    ("Akram", "Akraam", "اکرم"),
    ("Aslam", "Aslaam", "اسلم"),
    ("Shah", "Shaah", "شاہ"),
    ("Qureshi", "Qurashi", "Kureshi", "قریشی"),
    ("Javed", "Javaid", "Jawed", "جاوید"),
    ("Riaz", "Riyaz", "ریاض"),
    ("Abbasi", "Abassi", "عباسی"),
    ("Siddiqui", "Siddiqi", "صدیقی"),
    ("Mughal", "Moghal", "مغل"),
    ("Ansari", "Ansaari", "انصاری"),
    ("Baloch", "Balouch", "بلوچ"),
    ("Memon", "Meman", "میمن"),
)
MUHAMMAD = ("Muhammad", "Mohammad", "Muhammed", "Mohammed", "Mohd", "M.", "محمد")
DISTRICTS: tuple[tuple[str, float, float, tuple[str, ...]], ...] = (
    ("Lahore", 31.52, 74.36, ("Punjabi", "Urdu")),
    ("Karachi", 24.86, 67.01, ("Urdu", "Sindhi")),
    ("Faisalabad", 31.42, 73.08, ("Punjabi", "Urdu")),
    ("Rawalpindi", 33.60, 73.05, ("Punjabi", "Urdu")),
    ("Islamabad", 33.68, 73.05, ("Urdu", "Punjabi")),
    ("Multan", 30.16, 71.52, ("Saraiki", "Urdu")),
    ("Gujranwala", 32.16, 74.19, ("Punjabi",)),
    ("Peshawar", 34.01, 71.58, ("Pashto", "Urdu")),
    ("Quetta", 30.18, 66.99, ("Balochi", "Pashto")),
    ("Hyderabad", 25.40, 68.37, ("Sindhi", "Urdu")),
    ("Sialkot", 32.49, 74.53, ("Punjabi",)),
    ("Bahawalpur", 29.40, 71.68, ("Saraiki", "Punjabi")),
    ("Sargodha", 32.08, 72.67, ("Punjabi",)),
    ("Sukkur", 27.70, 68.86, ("Sindhi",)),
    ("Kasur", 31.12, 74.45, ("Punjabi",)),
    ("Sheikhupura", 31.71, 73.98, ("Punjabi",)),
    ("Mardan", 34.20, 72.04, ("Pashto",)),
    ("Dera Ghazi Khan", 30.05, 70.63, ("Saraiki", "Balochi")),
)
MARKS = (
    "scar on left cheek",
    "mole near right eye",
    "burn mark on right hand",
    "birthmark on neck",
    "missing front tooth",
    "stitches on forehead",
    "limps on left leg",
    "cut on chin",
    "squint in left eye",
    "extra finger on left hand",
)
COLOURS = ("red", "blue", "green", "yellow", "black", "white", "pink", "grey", "brown", "orange")
CLOTHES = ("shalwar kameez", "frock", "shirt", "trousers", "sweater", "dupatta", "jacket", "kurta")

NOW = datetime(2026, 11, 30, 12, 0, tzinfo=UTC)


@dataclass
class Child:
    gender: str
    given: tuple[str, ...]
    family: tuple[str, ...] | None
    muhammad: bool
    father: tuple[tuple[str, ...], tuple[str, ...] | None]
    age: int
    height: int
    district: int
    place: tuple[float, float]
    last_seen: datetime
    mark: str | None
    clothing: str
    photo: int


def _typo(rng: random.Random, word: str) -> str:
    if len(word) < 4 or not word.isascii():
        return word
    i = rng.randrange(1, len(word) - 1)
    op = rng.random()
    if op < 0.4:
        return word[:i] + word[i + 1 :]
    if op < 0.7:
        return word[:i] + rng.choice(string.ascii_lowercase) + word[i + 1 :]
    return word[:i] + word[i + 1] + word[i] + word[i + 2 :]


def _spell(rng: random.Random, spellings: tuple[str, ...], urdu: bool) -> str:
    return spellings[-1] if urdu else rng.choice(spellings[:-1])


def _render(
    rng: random.Random,
    given: tuple[str, ...],
    family: tuple[str, ...] | None,
    muhammad: bool,
    *,
    urdu: bool,
    noisy: bool,
) -> str:
    words = [_spell(rng, given, urdu)]
    if family is not None and not (noisy and rng.random() < 0.3):
        words.append(_spell(rng, family, urdu))
    if muhammad and not (noisy and rng.random() < 0.4):
        words.insert(0, MUHAMMAD[-1] if urdu else rng.choice(MUHAMMAD[:-1]))
    if noisy:
        if rng.random() < 0.15:
            words = [_typo(rng, w) for w in words]
        if rng.random() < 0.15 and len(words) > 1:
            words.reverse()
    if not urdu and rng.random() < 0.3:
        words = [w.lower() if rng.random() < 0.5 else w.upper() for w in words]
    return " ".join(words)


def _zipf(rng: random.Random, pool: Sequence[tuple[str, ...]]) -> tuple[str, ...]:
    weights = [1.0 / (i + 1) ** 0.8 for i in range(len(pool))]
    return rng.choices(pool, weights)[0]


def _near(rng: random.Random, lat: float, lon: float, km: float) -> tuple[float, float]:
    return (lat + rng.uniform(-km, km) / 111.0, lon + rng.uniform(-km, km) / 95.0)


def make_child(rng: random.Random) -> Child:
    gender = rng.choice(("girl", "boy"))
    age = rng.choices(range(1, 17), [3 if 4 <= a <= 13 else 1 for a in range(1, 17)])[0]
    d = rng.randrange(len(DISTRICTS))
    _, lat, lon, _ = DISTRICTS[d]
    return Child(
        gender=gender,
        given=_zipf(rng, GIRLS if gender == "girl" else BOYS),
        family=_zipf(rng, FAMILY) if rng.random() < 0.7 else None,
        muhammad=gender == "boy" and rng.random() < 0.4,
        father=(_zipf(rng, BOYS), _zipf(rng, FAMILY) if rng.random() < 0.7 else None),
        age=age,
        height=int(75 + 6.2 * age + rng.gauss(0, 6)),
        district=d,
        place=_near(rng, lat, lon, 15),
        last_seen=NOW - timedelta(days=rng.uniform(0.5, 90)),
        mark=rng.choice(MARKS) if rng.random() < 0.35 else None,
        clothing=f"{rng.choice(COLOURS)} {rng.choice(CLOTHES)}",
        photo=rng.getrandbits(64),
    )


def _flip_bits(rng: random.Random, value: int, n: int) -> int:
    for bit in rng.sample(range(64), n):
        value ^= 1 << bit
    return value


def missing_report(rng: random.Random, rid: str, c: Child) -> Description:
    urdu = rng.random() < 0.35
    name, langs = DISTRICTS[c.district][0], DISTRICTS[c.district][3]
    age_lo = c.age if rng.random() < 0.7 else max(0, c.age - 1)
    height = rng.random() < 0.6
    return Description(
        report_id=rid,
        kind="missing",
        names=(_render(rng, c.given, c.family, c.muhammad, urdu=urdu, noisy=False),),
        parent_names=(
            _render(rng, c.father[0], c.father[1], rng.random() < 0.5, urdu=urdu, noisy=False),
        ),
        age_min=age_lo,
        age_max=c.age,
        gender=c.gender,  # type: ignore[arg-type]
        height_min_cm=c.height - 3 if height else None,
        height_max_cm=c.height + 3 if height else None,
        place=c.place if rng.random() < 0.8 else None,
        district=name,
        at=c.last_seen,
        languages=tuple(rng.sample(langs, rng.randint(1, len(langs)))),
        marks=c.mark or "",
        clothing=c.clothing if rng.random() < 0.9 else "",
        photo_hashes=(c.photo,) if rng.random() < 0.5 else (),
    )


def found_report(rng: random.Random, rid: str, c: Child) -> Description:
    urdu = rng.random() < 0.5
    named = rng.random() < 0.9
    days = min(rng.expovariate(1 / 3), 60)
    at = min(c.last_seen + timedelta(days=days, hours=rng.uniform(0.5, 6)), NOW)
    move = rng.random()
    if move < 0.7:
        d, place = c.district, _near(rng, *c.place, 20)
    elif move < 0.9:
        _, lat, lon, _ = DISTRICTS[c.district]
        d, place = c.district, _near(rng, lat, lon, 25)
    else:
        d = rng.randrange(len(DISTRICTS))
        _, lat, lon, _ = DISTRICTS[d]
        place = _near(rng, lat, lon, 15)
    estimate = c.age + rng.choice((-2, -1, -1, 0, 0, 0, 1, 1, 2))
    width = rng.choice((1, 2, 2, 3))
    height = rng.random() < 0.5
    h_est = c.height + int(rng.gauss(0, 4))
    gender = c.gender if rng.random() < 0.99 else ("girl" if c.gender == "boy" else "boy")
    return Description(
        report_id=rid,
        kind="found",
        names=(_render(rng, c.given, c.family, c.muhammad, urdu=urdu, noisy=True),)
        if named
        else (),
        parent_names=(_render(rng, c.father[0], c.father[1], False, urdu=urdu, noisy=True),)
        if named and rng.random() < 0.5
        else (),
        age_min=max(0, estimate - width),
        age_max=estimate + width,
        gender=gender if rng.random() < 0.97 else None,  # type: ignore[arg-type]
        height_min_cm=h_est - 5 if height else None,
        height_max_cm=h_est + 5 if height else None,
        place=place if rng.random() < 0.9 else None,
        district=DISTRICTS[d][0] if rng.random() < 0.9 else None,
        at=at,
        languages=(rng.choice(DISTRICTS[c.district][3]),) if rng.random() < 0.6 else (),
        marks=" ".join(c.mark.split()[:2]) if c.mark and rng.random() < 0.5 else "",
        clothing=c.clothing if days < 3 and rng.random() < 0.6 else "",
        photo_hashes=(_flip_bits(rng, c.photo, rng.randint(0, 6)),) if rng.random() < 0.05 else (),
    )


def generate(
    seed: int, n_missing: int, n_found: int
) -> tuple[list[Description], list[Description], dict[str, str]]:
    """(missing, found, found id → true missing id) for a seed."""
    rng = random.Random(seed)
    missing: list[Description] = []
    found: list[Description] = []
    truth: dict[str, str] = {}
    reported = [make_child(rng) for _ in range(n_missing)]
    for i, child in enumerate(reported):
        missing.append(missing_report(rng, f"m{i:05d}", child))
    with_truth = int(n_found * 0.9)
    for j in range(n_found):
        rid = f"f{j:05d}"
        if j < with_truth:
            i = rng.randrange(n_missing)
            while f"m{i:05d}" in truth.values():
                i = rng.randrange(n_missing)
            found.append(found_report(rng, rid, reported[i]))
            truth[rid] = f"m{i:05d}"
        else:
            found.append(found_report(rng, rid, make_child(rng)))
    return missing, found, truth


def _norm(name: str) -> str:
    return " ".join(name.lower().split())


class ExactNames:
    """The baseline: the same name text (case and spaces folded), latest last seen first."""

    def __init__(self, missing: list[Description]) -> None:
        self.index: dict[str, list[Description]] = {}
        for d in missing:
            for name in d.names:
                self.index.setdefault(_norm(name), []).append(d)

    def rank(self, new: Description, top: int = 5) -> list[str]:
        hits = {d.report_id: d for n in new.names for d in self.index.get(_norm(n), [])}
        ordered = sorted(
            (d for d in hits.values() if d.at <= new.at),
            key=lambda d: (new.at - d.at, d.report_id),
        )
        return [d.report_id for d in ordered[:top]]


def measure(
    label: str,
    reports: list[Description],
    truth: dict[str, str],
    ranker: Callable[[Description], list[str]],
) -> tuple[str, float, float, float, int]:
    hits = 0
    firsts = 0
    times: list[float] = []
    for d in reports:
        start = time.perf_counter()
        ids = ranker(d)
        times.append(time.perf_counter() - start)
        if truth[d.report_id] in ids:
            hits += 1
            firsts += ids[0] == truth[d.report_id]
    n = len(reports)
    times.sort()
    p95 = times[min(n - 1, int(0.95 * n))]
    print(
        f"  {label:<34} recall@5 {hits / n:6.1%}  top-1 {firsts / n:6.1%}  "
        f"median {statistics.median(times) * 1000:7.2f} ms  p95 {p95 * 1000:7.2f} ms  (n={n})"
    )
    return label, hits / n, statistics.median(times), p95, n


def main(argv: list[str]) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench children")
    parser.add_argument("--missing", type=int, default=10_000)
    parser.add_argument("--found", type=int, default=2_000)
    parser.add_argument("--seed", type=int, default=17)
    parser.add_argument("--scan-sample", type=int, default=100)
    args = parser.parse_args(argv)
    if hasattr(os, "sched_setaffinity"):
        os.sched_setaffinity(0, {min(os.sched_getaffinity(0))})

    started = time.perf_counter()
    missing, found, truth = generate(args.seed, args.missing, args.found)
    known = [d for d in found if d.report_id in truth]
    unnamed = sum(1 for d in known if not d.names)
    registry = Registry()
    t0 = time.perf_counter()
    for d in missing:
        registry.add(d)
    built = time.perf_counter() - t0
    print(
        f"children matching: {len(missing)} open missing, {len(found)} found "
        f"({len(known)} with a true missing report, {unnamed} of them with no name), "
        f"seed {args.seed}, one core; registry built in {built:.2f} s"
    )
    baseline = ExactNames(missing)
    measure("baseline: exact name", known, truth, baseline.rank)
    measure(
        "Registry.rank (blocked)", known, truth, lambda d: [c.report_id for c in registry.rank(d)]
    )
    sample = random.Random(args.seed).sample(known, min(args.scan_sample, len(known)))
    measure(
        "rank() full scan (sample)",
        sample,
        truth,
        lambda d: [c.report_id for c in rank(d, missing)],
    )
    print(f"  total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    import sys

    main(sys.argv[1:])
