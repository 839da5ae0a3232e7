"""README, the model cards, --help and the code agree: every flag the docs name exists."""

import functools
import re
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
SCRIPTS = ["xtract_mixin.py", "train_util.py", "eval_mixin.py", "test_e2e.py"]


def documented_flags(script: str) -> set[str]:
    """Flags on README lines (and their continuation lines) that run ``script``."""
    flags: set[str] = set()
    lines = (ROOT / "README.md").read_text().splitlines()
    for i, line in enumerate(lines):
        if script not in line:
            continue
        chunk = line.split(script, 1)[1]
        j = i
        while chunk.rstrip().endswith("\\") and j + 1 < len(lines):
            j += 1
            chunk += lines[j]
        chunk = chunk.split("#", 1)[0]  # not the comments
        chunk = re.split(r"[`|;]|&&", chunk)[0]  # only this command
        flags |= set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", chunk))
    return flags


@pytest.mark.parametrize("script", SCRIPTS)
def test_readme_flags_exist(script):
    flags = documented_flags(script)
    assert flags, f"README shows no flags for {script}"
    out = subprocess.run(
        [sys.executable, str(ROOT / script), "--help"], capture_output=True, text=True, check=True
    ).stdout
    missing = sorted(f for f in flags if f not in out)
    assert not missing, f"README documents {missing} for {script}; --help does not know them"


@functools.cache
def help_texts(scripts: tuple[str, ...]) -> str:
    """The ``--help`` output of each script, joined (once per set of scripts)."""
    return "".join(
        subprocess.run([sys.executable, str(ROOT / s), "--help"], capture_output=True, text=True, check=True).stdout
        for s in scripts
    )


def test_every_flag_in_backticks_exists_somewhere():
    """Prose mentions (`--resume`, `--augment N`) name a flag of one of the scripts."""
    readme = (ROOT / "README.md").read_text()
    mentioned = set(re.findall(r"`(--[a-z][a-z0-9-]*)", readme))
    helps = help_texts(tuple(SCRIPTS))
    missing = sorted(f for f in mentioned if f not in helps)
    assert len(mentioned) > 20 and not missing, missing


CARDS = [
    "pretrained-models/README.md",
    "pretrained-models/HISTORY.md",
    "pretrained-models/drnn/README.md",
    "pretrained-models/drnn-songs/README.md",
]


@pytest.mark.parametrize("card", CARDS)
def test_model_card_flags_exist(card):
    """The model cards and the measurement log name only flags that one of the scripts (the CLIs, or
    the helpers in scripts/ and benchmarks/) has: their commands must run as written."""
    text = (ROOT / card).read_text()
    mentioned = set(re.findall(r"(?<![\w-])(--[a-z][a-z0-9-]*)", text))
    helpers = [str(p.relative_to(ROOT)) for d in ("scripts", "benchmarks") for p in sorted((ROOT / d).glob("*.py"))]
    helps = help_texts(tuple(SCRIPTS + helpers))
    missing = sorted(f for f in mentioned if f not in helps)
    assert len(mentioned) > 5 and not missing, missing


def test_docs_do_not_promise_per_track_figures_in_results_md(tmp_path):
    """results.md holds medians over tracks (per-track figures are in results.json); README and
    the model card said each validation set's results.md held them per track."""
    from mixin.evaluation.report import markdown
    from mixin.evaluation.scoring import Score

    metrics = {"SDR": 1.0, "ISR": 2.0, "SIR": 3.0, "SAR": 4.0}
    scores = [Score(f"track{i}", "mixin", {"harmonic": metrics}) for i in range(2)]
    md = markdown({"mixin": {"harmonic": {**metrics, "tracks": 2}}}, scores, [])
    assert "track0" not in md and "median over tracks" in md  # medians only
    for doc in (ROOT / "README.md", ROOT / "pretrained-models" / "README.md"):
        text = " ".join(doc.read_text().split())
        assert not re.search(r"`results\.md` \([^)]*per track", text), doc


def test_model_card_names_the_data_variables_of_the_rebuild_scripts():
    """The model card said 'from an empty machine: bash scripts/build_pretrained.sh', but the
    scripts read their data from variables defaulting to ../shared/data/...: every such variable
    must be named on the card's rebuild lines."""
    card = (ROOT / "pretrained-models" / "README.md").read_text()
    for script in ("build_pretrained.sh", "validate_pretrained.sh"):
        text = (ROOT / "scripts" / script).read_text()
        data = set(re.findall(r"^\w+=\$\{(\w+):-\.\./shared/", text, flags=re.M))
        assert data, script
        for block in re.findall(r"```sh\n(.*?)```", card, flags=re.S):
            if f"scripts/{script}" in block:
                missing = sorted(v for v in data if f"{v}=" not in block)
                assert not missing, (script, missing, block)
