"""The study's markdown tables, rebuilt from the result files alone: per variant (mean ± sd over seeds), the
extra evaluation files, and paired same-seed differences."""

from __future__ import annotations

import statistics

from .results import load_results
from .studies import STUDIES
from .variants import VARIANTS


def mean_sd(xs: list[float]) -> str:
    if len(xs) == 1:
        return f"{xs[0]:.1f}"
    return f"{statistics.mean(xs):.1f} ± {statistics.stdev(xs):.1f}"


def metric(r: dict) -> str:
    """The F1 a study ranks by: SQuAD v2 result files carry best_f1 (the official dev-tuned null threshold)."""
    return "best_f1" if "best_f1" in r["decoding"]["argmax"] else "f1"


def f1_of(r: dict, decoding: str) -> float:
    return r["decoding"][decoding][metric(r)]


def best_decoding(results: list[dict], expected_f1_only: bool = False) -> str:
    """The decoding (argmax or expected_f1@T) with the highest mean dev F1 over a variant's seeds."""
    keys = [
        k for k in results[0]["decoding"] if k.startswith("expected_f1@") or (k == "argmax" and not expected_f1_only)
    ]
    return max(keys, key=lambda k: statistics.mean(f1_of(r, k) for r in results))


def best_temperature(results: list[dict]) -> str:
    """The expected-F1 temperature with the highest mean dev F1 over a variant's seeds."""
    return best_decoding(results, expected_f1_only=True)


def table_header(v2: bool, zh: bool) -> list[str]:
    """The per-variant table's heading lines (after a note on what F1 means for SQuAD v2.0)."""
    lines = []
    if v2:
        lines += [
            "SQuAD v2.0: F1 = the official best_f1 (the null threshold tuned on this dev set, as saved with "
            "the model); the last columns score argmax decoding: F1 at null threshold 0 (all, answerable, "
            "unanswerable questions), the F1 of the best non-null span on the answerable questions (the "
            "reader forced to answer) and the null odds' ranking AUC (unanswerable above answerable; 0.5 "
            "= chance).",
            "",
        ]
    return lines + [
        "| variant | seeds | EM | F1 | F1, expected-F1 decoding (T) | per-seed F1 (argmax / expected-F1) "
        f"| top-1 F1 = 0 | top-1 too short / too long | answer / gold {'characters' if zh else 'tokens'} "
        "| top p | train s (with trunk) |"
        + (" F1 at threshold 0 | HasAns F1 | NoAns F1 | HasAns span F1 | null AUC (%) |" if v2 else ""),
        "|---|---|---|---|---|---|---|---|---|---|---|" + ("---|---|---|---|---|" if v2 else ""),
    ]


def v2_cells(rs: list[dict]) -> str:
    """SQuAD v2.0's last cells of a variant's row: argmax F1 at null threshold 0 (all, answerable, unanswerable),
    the answerable questions' best-span F1 and the null odds' AUC."""
    diag = [r["decoding"]["diagnostics"] for r in rs]
    return (
        " "
        + " | ".join(
            mean_sd([r["decoding"]["argmax"].get(k, float("nan")) for r in rs])
            for k in ("f1", "HasAns_f1", "NoAns_f1", "HasAns_span_f1")
        )
        + " | "
        + mean_sd([100 * (d.get("null_auc") or float("nan")) for d in diag])
        + " |"
    )


def variant_row(key: str, rs: list[dict], length: tuple[str, str], v2: bool) -> str:
    """One variant's row over its seeds' result files (rs, by seed); length: the answer and gold length keys."""
    t = best_temperature(rs)
    em = [r["decoding"]["argmax"]["exact_match"] for r in rs]
    f1 = [f1_of(r, "argmax") for r in rs]
    ef = [f1_of(r, t) for r in rs]
    diag = [r["decoding"]["diagnostics"] for r in rs]
    secs = [r["timing"].get("train_seconds_with_trunk") or r["timing"]["train_seconds"] for r in rs]
    per_seed = ", ".join(f"{r['seed']}: {a:.1f} / {b:.1f}" for r, a, b in zip(rs, f1, ef))
    return (
        f"| {rs[0]['label']} (`{key}`) | {len(rs)} | {mean_sd(em)} | {mean_sd(f1)} | {mean_sd(ef)} "
        f"({t.split('@')[1]}) | {per_seed} | {statistics.mean(d['share_f1_zero'] for d in diag):.1%} | "
        f"{statistics.mean(d['share_too_short'] for d in diag):.1%} / "
        f"{statistics.mean(d['share_too_long'] for d in diag):.1%} | "
        f"{statistics.mean(d[length[0]] for d in diag):.2f} / "
        f"{diag[0][length[1]]:.2f} | {statistics.mean(d['mean_top_probability'] for d in diag):.2f} "
        f"| {statistics.mean(secs):.0f} |" + (v2_cells(rs) if v2 else "")
    )


def study_section(name: str, variants: dict[str, list[dict]]) -> list[str]:
    """One study's tables: per variant, the extra evaluation files, and the paired same-seed differences."""
    v2 = any(metric(r) == "best_f1" for rs in variants.values() for r in rs)
    zh = STUDIES[name].lang == "zh" if name in STUDIES else False
    length = ("mean_answer_chars", "mean_gold_chars") if zh else ("mean_answer_tokens", "mean_gold_tokens")
    lines = [f"### {name}", ""] + table_header(v2, zh)
    order = [k for k in VARIANTS if k in variants] + [k for k in variants if k not in VARIANTS]
    for key in order:
        lines.append(variant_row(key, sorted(variants[key], key=lambda r: r["seed"]), length, v2))
    lines += extra_table(variants)
    lines += [
        "",
        "Paired F1 differences (same seed):",
        "",
        "| difference | seeds | mean ± sd | per seed |",
        "|---|---|---|---|",
    ]
    for key, reference, decoding in comparisons(variants):
        lines += paired_difference(variants, key, reference, decoding)
    lines.append("")
    return lines


def report(study: str | None = None) -> str:
    lines = []
    by_study: dict[str, dict[str, list[dict]]] = {}
    for r in load_results(study):
        by_study.setdefault(r["study"], {}).setdefault(r["variant"], []).append(r)
    for name, variants in by_study.items():
        lines += study_section(name, variants)
    return "\n".join(lines)


def extra_table(variants: dict[str, list[dict]]) -> list[str]:
    """The extra evaluation files (out of domain), one column pair per file: F1 by argmax and by expected-F1
    decoding at the temperature the variant's headline dev set picked (so nothing is tuned on these files)."""
    names = sorted({n for rs in variants.values() for r in rs for n in r.get("extra", {})})
    if not names:
        return []
    first = next(r["extra"][n] for n in names for rs in variants.values() for r in rs if n in r.get("extra", {}))
    lines = [
        "",
        "Extra evaluation files (F1 argmax / expected-F1 at the headline dev set's temperature; EM argmax): "
        + "; ".join(
            f"{n}: `{next(r['extra'][n]['file'] for rs in variants.values() for r in rs if n in r.get('extra', {}))}`"
            for n in names
        )
        + f" ({first['questions']} questions in the first)",
        "",
        "| variant | seeds | " + " | ".join(f"{n} EM | {n} F1 (argmax / expected F1)" for n in names) + " |",
        "|---|---|" + "---|---|" * len(names),
    ]
    for key in [k for k in VARIANTS if k in variants] + [k for k in variants if k not in VARIANTS]:
        rs = [r for r in sorted(variants[key], key=lambda r: r["seed"]) if all(n in r.get("extra", {}) for n in names)]
        if not rs:
            continue
        t = best_temperature(variants[key])
        cells = []
        for n in names:
            dec = [r["extra"][n]["decoding"] for r in rs]
            cells += [
                mean_sd([d["argmax"]["exact_match"] for d in dec]),
                f"{mean_sd([d['argmax']['f1'] for d in dec])} / {mean_sd([d[t]['f1'] for d in dec])}",
            ]
        lines.append(f"| `{key}` | {len(rs)} | " + " | ".join(cells) + " |")
    return lines


def same_recipe(key: str, marker: str) -> str | None:
    """The variant "<key> without <marker>" ("gp_sm_ad0__f1_added", "_ad0" → "gp_sm__f1_added"), if defined."""
    other = key.replace(marker, "", 1)
    return other if marker in key and other in VARIANTS else None


def comparisons(variants: dict[str, list[dict]]) -> list[tuple[str, str, str | None]]:
    """(variant, reference, decoding) rows of the paired table: every GlobalPointer variant against the start/end
    reader (each at its best decoding); a branch against its trunk (the reward against none; same decoding), any
    other GlobalPointer against its `versus`, else the multilabel one (same decoding); each attention-dropout-0
    variant against its recipe at the encoder's dropout, each fp32 one against bf16 (best decoding)."""
    rows: list[tuple[str, str, str | None]] = []
    for key in variants:
        if key.startswith("start_end"):
            continue
        ad0 = "_ad0" in key
        rows.append((key, "start_end_ad0" if ad0 else "start_end", None))
        v = VARIANTS.get(key)
        reference = (v and (v.versus or v.parent)) or ("gp_ml_ad0" if ad0 else "gp_ml")
        if key != reference:
            rows += [(key, reference, "expected_f1@1"), (key, reference, "argmax")]
    for marker in ("_ad0", "_fp32"):  # attention dropout 0 against the encoder's; fp32 against bf16 (issue #10)
        rows += [(k, same_recipe(k, marker), None) for k in VARIANTS if k in variants and same_recipe(k, marker)]
    return rows


def paired_difference(
    variants: dict[str, list[dict]], key: str, reference: str, same_decoding: str | None
) -> list[str]:
    """The row "variant − reference" (none if they share no seed): F1 differences on the seeds both have, mean ±
    sd of the per-seed differences. same_decoding: both decoded that way (e.g. "expected_f1@1"); None: each with
    its own best decoding (the temperature with the best mean dev F1 over its seeds, argmax included)."""
    ref = {r["seed"]: r for r in variants.get(reference, [])}
    rs = variants.get(key, [])
    common = sorted(r["seed"] for r in rs if r["seed"] in ref)
    if not common:
        return []
    mine = {r["seed"]: r for r in rs}
    if same_decoding:
        ka = kb = same_decoding
    else:
        ka, kb = best_decoding([mine[s] for s in common]), best_decoding([ref[s] for s in common])
    diffs = [f1_of(mine[s], ka) - f1_of(ref[s], kb) for s in common]
    return [
        f"| `{key}` ({ka}) − `{reference}` ({kb}) | {len(common)} | {mean_sd(diffs)} | "
        + ", ".join(f"{s}: {d:+.1f}" for s, d in zip(common, diffs))
        + " |"
    ]


def compact(study: str) -> str:
    """The README's table: one row per variant, mean ± sd over seeds."""
    variants: dict[str, list[dict]] = {}
    for r in load_results(study):
        variants.setdefault(r["variant"], []).append(r)
    lines = ["| variant | seeds | EM | F1 | F1, expected-F1 decoding (T) |", "|---|---|---|---|---|"]
    for key in [k for k in VARIANTS if k in variants]:
        rs = variants[key]
        t = best_temperature(rs)
        lines.append(
            f"| {rs[0]['label']} | {len(rs)} | {mean_sd([r['decoding']['argmax']['exact_match'] for r in rs])}"
            f" | {mean_sd([f1_of(r, 'argmax') for r in rs])} | "
            f"{mean_sd([f1_of(r, t) for r in rs])} ({t.split('@')[1]}) |"
        )
    return "\n".join(lines)
