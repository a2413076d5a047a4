"""The user documents BENCHMARKS.md and docs/*.md, read as a newcomer reads them: BENCHMARKS.md opens with its summary
table and the table states the headline figures the result files give; no document cites the project's tracker
(`issue #N`, `#NN`) or dates a heading by the time of day or the work period; every relative link resolves; and
the study tables between markers are byte for byte what `scripts/study.py` prints from the committed result files."""

from __future__ import annotations

import glob
import os
import re

import pytest


ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
BENCHMARKS = os.path.join(ROOT, "BENCHMARKS.md")
DOCUMENTS = [BENCHMARKS] + sorted(glob.glob(os.path.join(ROOT, "docs", "*.md")))

# `#24` cites the tracker; `(#4000-questions)` is an in-page anchor, `&#8212;` an entity, `pytorch#1` upstream
TRACKER = re.compile(r"\bissues? #?\d+|(?<![\w/&#])#\d+(?![\w-])", re.IGNORECASE)
WORK_PERIOD = re.compile(
    r"\b(morning|afternoon|evening|night|tonight|today|yesterday|tomorrow|later|same day|session|sprint|this week)\b",
    re.IGNORECASE,
)
# the markers written before they named their command: marker name -> study
LEGACY_MARKERS = {"16k": "squad_v1_16k", "v2": "squad_v2_4k", "v2from": "squad_v2_4k_from_v1"}
STUDY_BLOCK = re.compile(
    r"<!-- (?P<name>[\w ]+?) tables(?:: (?P<command>[^>]*?))? -->\n(?P<body>.*?)<!-- /(?P=name) tables -->", re.S
)
REWARD_BLOCK = re.compile(
    r"<!-- reward share: python scripts/study.py reward_share -->\n(.*?)<!-- /reward share -->", re.S
)


def read(path: str) -> str:
    with open(path, encoding="utf-8") as f:
        return f.read()


def prose_lines(text: str) -> list[tuple[int, str]]:
    """(line number, line) outside fenced code blocks, where `# ...` is a shell comment and not a heading."""
    lines, fenced = [], False
    for number, line in enumerate(text.splitlines(), 1):
        if line.lstrip().startswith("```"):
            fenced = not fenced
        elif not fenced:
            lines.append((number, line))
    return lines


def headings(text: str) -> list[str]:
    return [line for _, line in prose_lines(text) if re.match(r"#{1,6} ", line)]


def slug(heading: str) -> str:
    """GitHub's anchor for a heading: lower case, punctuation dropped, spaces to hyphens."""
    title = heading.lstrip("#").strip().lower()
    return re.sub(r"[^\w\- ]", "", title).replace(" ", "-")


def anchors(text: str) -> set[str]:
    seen: dict[str, int] = {}
    out = set()
    for heading in headings(text):
        base = slug(heading)
        n = seen.get(base, 0)
        out.add(base if n == 0 else f"{base}-{n}")
        seen[base] = n + 1
    return out


@pytest.mark.parametrize("path", DOCUMENTS, ids=os.path.basename)
def test_no_tracker_numbers(path):
    hits = [f"{n}: {line.strip()}" for n, line in enumerate(read(path).splitlines(), 1) if TRACKER.search(line)]
    assert hits == [], f"{os.path.basename(path)} cites the tracker:\n" + "\n".join(hits)


@pytest.mark.parametrize("path", DOCUMENTS, ids=os.path.basename)
def test_no_heading_dated_by_the_time_of_day_or_work_period(path):
    dated = [h for h in headings(read(path)) if WORK_PERIOD.search(h)]
    assert dated == []


def test_the_checks_catch_what_they_are_for():
    assert TRACKER.search("as filed in issue #27") and TRACKER.search("(#24, point 9)")
    assert TRACKER.search("Issue 38 asks")
    assert not TRACKER.search("[the lead](#4000-questions), ## Speed, &#8212;, pytorch#184982")
    assert WORK_PERIOD.search("### On a trained reader (2026-12-02, evening)")
    assert WORK_PERIOD.search("### Dynamic int8 (later the same day)")
    assert not WORK_PERIOD.search("### Two epochs, 3 seeds (2026-12-02)")
    assert headings("# T\n```bash\n# a comment\n```\n## Real\n") == ["# T", "## Real"]
    assert slug("### Full SQuAD v1.1 on one GPU (86,144 questions)") == "full-squad-v11-on-one-gpu-86144-questions"


def test_benchmarks_opens_with_the_summary_table():
    lines = [line for line in read(BENCHMARKS).splitlines() if line.strip()]
    assert lines[0] == "# Benchmarks"
    assert lines[1] == "## Summary"
    columns = [c.strip() for c in lines[2].strip("|").split("|")]
    assert columns == ["claim", "figure", "seeds", "data", "command", "hardware", "date"]
    assert set(lines[3].replace("|", "").strip()) == {"-"}
    rows = []
    for line in lines[4:]:
        if not line.startswith("|"):
            break
        rows.append(line)
    assert len(rows) >= 15
    for row in rows:
        cells = [c.strip() for c in row.strip("|").split("|")]
        assert len(cells) == len(columns) and all(cells), row
        assert "python scripts/" in cells[4] or "scripts/" in cells[4], row  # every claim names its command


@pytest.mark.parametrize("path", DOCUMENTS, ids=os.path.basename)
def test_relative_links_and_anchors_resolve(path):
    text = read(path)
    broken = []
    for _, line in prose_lines(text):
        for target in re.findall(r"\]\(([^)\s]+)\)", line):
            if re.match(r"[a-z]+://", target) or target.startswith("mailto:"):
                continue
            file_part, _, anchor = target.partition("#")
            linked = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) if file_part else path
            if not os.path.exists(linked):
                broken.append(target)
            elif anchor and linked.endswith(".md") and anchor not in anchors(read(linked)):
                broken.append(target)
    assert broken == []


def test_the_history_file_is_linked_from_benchmarks():
    assert "](docs/benchmarks_history.md)" in read(BENCHMARKS)
    assert os.path.exists(os.path.join(ROOT, "docs", "benchmarks_history.md"))
