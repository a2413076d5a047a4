"""BENCHMARKS.md against the study's result files: the summary's headline figures and the tables between markers are
what the lab's commands print from benchmarks/results (tests/test_docs.py checks the rest of the documents)."""

from __future__ import annotations

import re

from gp_mrc_lab.report import report
from gp_mrc_lab.reward_share import reward_share_table
from test_docs import BENCHMARKS, LEGACY_MARKERS, REWARD_BLOCK, STUDY_BLOCK, read


def study_table(study: str) -> str:
    """What `python scripts/study.py report --study STUDY` prints, less its `### STUDY` heading."""
    text = report(study)
    heading = f"### {study}\n\n"
    assert text.startswith(heading)
    return text[len(heading) :].strip()


def summary(text: str) -> str:
    return text.split("\n## ", 2)[1]


def paired(study: str, difference: str) -> str:
    """The mean of a paired-difference row of the study's report, signed as the summary writes it."""
    for line in report(study).splitlines():
        if line.startswith(f"| {difference} |"):
            mean_sd = line.split("|")[3].strip()
            return mean_sd if mean_sd.startswith("-") else "+" + mean_sd
    raise AssertionError(f"no row {difference!r} in the {study} report")


def test_the_summary_states_the_headline_figures_the_result_files_give():
    table = summary(read(BENCHMARKS))
    default = "`gp_sm_ad0__f1_added` (expected_f1@1) − `start_end_ad0` (expected_f1@0.25)"
    lead_4k = paired("squad_v1_4k", "`gp_sm_ad0__f1_added` (expected_f1@1) − `start_end_ad0` (expected_f1@0.5)")
    assert lead_4k == "+4.1 ± 1.4" and f"**{lead_4k} F1**" in table
    assert paired("squad_v1_16k", default) == "+1.7 ± 0.4" and "**+1.7 ± 0.4 F1**" in table
    assert paired("squad_v1_full", default) == "+0.3 ± 0.1" and "**+0.3 ± 0.1 F1**" in table
    assert "**EM +1.2** (77.4 against 76.2" in table
    zh = paired("cmrc_zh_2ep", "`gp_sm_ad0__f1_added` (expected_f1@0.5) − `start_end_ad0` (expected_f1@0.5)")
    assert zh == "+3.4 ± 2.0" and f"**{zh} F1**" in table
    pooled = reward_share_table().splitlines()
    assert "Pooled, expected_f1@1: **+0.25 F1**, standard error 0.04; positive in 26 of 27 pairs (9 studies)." in pooled
    assert "**+0.25 F1** pooled (standard error 0.04; positive in 26 of 27 pairs)" in table


def test_study_tables_between_markers_are_what_the_commands_print():
    text = read(BENCHMARKS)
    blocks = list(STUDY_BLOCK.finditer(text))
    assert {b["name"] for b in blocks} >= {"4k", "16k", "full", "zh", "zh 2ep", "v2", "v2from"}
    for block in blocks:
        command = block["command"] or ""
        found = re.search(r"--study (\S+)", command)
        study = found.group(1) if found else LEGACY_MARKERS[block["name"]]
        assert block["body"].strip() == study_table(study), f"<!-- {block['name']} tables --> is stale: rerun {study}"
    reward = REWARD_BLOCK.search(text)
    assert reward is not None and reward.group(1).strip() == reward_share_table().strip()
