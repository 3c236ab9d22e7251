"""Issue 16 item 7: Keel's generic code names no churn column, model or service.

The churn example lives in feature_repo/ (its names: `feature_repo.example`), synthetic/ and
its own spec; keel/cli/ runs the example (its demo journey included), so it may name it.
Every directory is held to the wide check (no `churn` word, no `customer`/`customers` either):
the example's short route `/v1/predict` is built from the names the settings pass in.
"""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
CHURN_NAMES = re.compile(r'customer_id|churned|churn_probability|churn_v1|"churn"')
EVERY_CHURN_WORD = re.compile(
    CHURN_NAMES.pattern + r"|\bchurn\b(?! (example|repo)\b)|customers?\b", re.IGNORECASE
)
"""The example's names and its words: no docstring says churn or customer, except to point at
"the churn example" (or its repo), which Keel runs when there is no keel.yaml."""
CHECKED = {
    "training": EVERY_CHURN_WORD,
    "registry": EVERY_CHURN_WORD,
    "monitoring": EVERY_CHURN_WORD,
    "keel": EVERY_CHURN_WORD,
    "serving": EVERY_CHURN_WORD,
}
"""Each checked directory and what it may not hold."""
EXCEPT = (Path("keel/cli"),)
"""Relative to the root: the modules that run the example."""


def churn_name_hits(root: Path = ROOT) -> list[str]:
    """`file:line: text` of every churn name in the checked directories' Python files."""
    hits: list[str] = []
    for directory, names in CHECKED.items():
        for path in sorted((root / directory).rglob("*.py")):
            relative = path.relative_to(root)
            if any(relative == skip or skip in relative.parents for skip in EXCEPT):
                continue
            for number, line in enumerate(path.read_text().splitlines(), start=1):
                if names.search(line):
                    hits.append(f"{relative}:{number}: {line.strip()}")
    return hits


def test_generic_code_names_no_churn_name() -> None:
    hits = churn_name_hits()
    assert not hits, "churn names outside the example:\n" + "\n".join(hits)


def test_the_check_finds_a_churn_name(tmp_path: Path) -> None:
    """The grep is live: a churn name or word planted in a checked directory is reported by
    file:line, a pointer to "the churn example" is not, and nothing under keel/cli/ is."""
    for directory in CHECKED:
        (tmp_path / directory).mkdir()
    (tmp_path / "keel" / "cli").mkdir()
    (tmp_path / "training" / "leak.py").write_text('x = 1\nKEY = "customer_id"\n')
    (tmp_path / "training" / "words.py").write_text('"""Scores a customer."""\n')
    (tmp_path / "serving" / "words.py").write_text('"""Scores customers."""\n# churn\n')
    (tmp_path / "keel" / "pointer.py").write_text('"""Without keel.yaml: the churn example."""\n')
    (tmp_path / "keel" / "cli" / "demo_cmd.py").write_text('MODEL = "churn"\n')
    hits = churn_name_hits(tmp_path)
    assert hits == [
        'training/leak.py:2: KEY = "customer_id"',
        'training/words.py:1: """Scores a customer."""',
        'serving/words.py:1: """Scores customers."""',
        "serving/words.py:2: # churn",
    ]
