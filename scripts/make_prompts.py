"""Make the phone menu's recorded prompts from its texts: ivr/prompts/{lang}/{name}.wav.

Needs espeak-ng and sox (``apt-get install espeak-ng sox``) only to
regenerate; the WAV files are committed. Each prompt is spoken by espeak-ng
in the language's voice, then made 8 kHz mono GSM 6.10 in a WAV container
(about 1.6 kB a second, a telephone's quality) so the whole set stays small.
``common/hold.wav`` is ten seconds of soft, neutral chimes.

    .venv/bin/python scripts/make_prompts.py [--only NAME] [--check]

``--check`` makes nothing: it lists prompts the menu names that have no
recording, and exits 1 when there are any (after changing a text, make that
prompt again with ``--only NAME``).
"""

from __future__ import annotations

import argparse
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from ivr.menu import load  # noqa: E402
from ivr.prompts import COMMON, HOLD, PROMPTS_DIR  # noqa: E402

ENCODE = ["-r", "8000", "-c", "1", "-e", "gsm-full-rate"]


def _run(command: list[str]) -> None:
    subprocess.run(command, check=True, capture_output=True)  # noqa: S603  (our own arguments)


def speak(text: str, voice: str, target: Path) -> None:
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        raw = Path(tmp) / "raw.wav"
        _run(["espeak-ng", "-v", voice, "-s", "150", "-w", str(raw), text])
        # Trim the silence espeak leaves at both ends, a little gain, then telephone form.
        _run(
            [
                "sox",
                str(raw),
                *ENCODE,
                str(target),
                "silence",
                "1",
                "0.05",
                "0.5%",
                "reverse",
                "silence",
                "1",
                "0.05",
                "0.5%",
                "reverse",
                "gain",
                "-n",
                "-3",
            ]
        )


def hold_music(target: Path) -> None:
    """Ten seconds: a soft two-note chime every 2.5 s over near silence."""
    target.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory() as tmp:
        chime = Path(tmp) / "chime.wav"
        _run(
            [
                "sox",
                "-n",
                "-r",
                "8000",
                "-c",
                "1",
                str(chime),
                "synth",
                "0.6",
                "sine",
                "523.25",
                "synth",
                "0.6",
                "sine",
                "mix",
                "659.25",
                "fade",
                "q",
                "0.05",
                "0.6",
                "0.4",
                "gain",
                "-n",
                "-12",
                "pad",
                "0",
                "1.9",
            ]
        )
        _run(["sox", str(chime), *ENCODE, str(target), "repeat", "3"])


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--only", help="make only the prompt with this name")
    parser.add_argument("--check", action="store_true", help="list prompts with no recording")
    args = parser.parse_args()
    menu = load()
    wanted = [
        (lang, name, text)
        for name, texts in menu.texts().items()
        for lang, text in texts.items()
        if args.only in (None, name)
    ]
    if args.check:
        missing = [
            f"{lang}/{name}.wav"
            for lang, name, _ in wanted
            if not (PROMPTS_DIR / lang / f"{name}.wav").is_file()
        ]
        print("\n".join(missing) or "every prompt is there")
        return 1 if missing else 0
    for tool in ("espeak-ng", "sox"):
        if shutil.which(tool) is None:
            print(f"{tool} is missing: apt-get install espeak-ng sox", file=sys.stderr)
            return 2
    for lang, name, text in wanted:
        speak(text, menu.languages[lang].espeak, PROMPTS_DIR / lang / f"{name}.wav")
    if args.only in (None, HOLD):
        hold_music(PROMPTS_DIR / COMMON / f"{HOLD}.wav")
    total = sum(p.stat().st_size for p in PROMPTS_DIR.glob("*/*.wav"))
    print(f"{len(wanted)} prompts made; ivr/prompts/ holds {total // 1024} kB")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
