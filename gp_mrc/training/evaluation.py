"""Evaluation during and after training: answer the dev questions, score them, write predictions and logs."""

from __future__ import annotations

import time
from typing import Any

from accelerate import Accelerator

from .config import TrainConfig
from ..inference.answers import first_answer
from ..inference.nbest_file import to_file
from ..inference.predict import answer_features, score_predictions, write_predictions
from ..metrics.aggregate import best_f1


def dev_tuned_null_threshold(
    predictions: dict[str, str], nbest: dict[str, list[dict]], null_diff: dict[str, float], examples: Any, lang: str
) -> tuple[float, float]:
    """(best F1 in percent, its threshold) over `examples` (SQuAD v2's best_f1): the question is answered with
    its non-null answer when null_diff ≤ threshold, "" otherwise."""
    golds = {ex["id"]: list(ex["answers"]["text"]) for ex in examples}
    answers = {q: predictions.get(q) or next((x["text"] for x in nbest.get(q, []) if x["text"]), "") for q in golds}
    return best_f1(answers, golds, null_diff, lang)


class Evaluator:
    """`evaluator(model, tag)` → EM/F1 (etc.) on the dev set; "final" scores every question and writes
    predictions.json / nbest_predictions.json, other tags score the first --intermediate_eval_samples only
    (cheap learning curves) and prefix their files with the tag. Keeps the time it took (training speed
    excludes it)."""

    def __init__(
        self,
        config: TrainConfig,
        accelerator: Accelerator,
        examples: Any,
        features: Any,
        pad_token_id: int,
        lang: str,
        metric: str,
    ):
        self.config, self.accelerator = config.eval, accelerator
        self.settings = config.inference.replace(lang=lang)  # decoded in the metric's language the data resolved to
        self.num_workers = config.data.dataloader_num_workers
        self.output_dir = config.run.output_dir
        self.examples, self.features = examples, features
        self.pad_token_id, self.metric = pad_token_id, metric
        self.seconds = 0.0
        self.last: tuple[dict, dict, dict] | None = None  # (predictions, nbest, null_diff) of the last call

    def _subset(self, tag: str) -> tuple[Any, Any]:
        n = self.config.intermediate_eval_samples
        if tag == "final" or not n or n >= len(self.examples):
            return self.examples, self.features
        examples = self.examples.select(range(n))
        return examples, self.features.filter(lambda x: x < n, input_columns="example_index")

    def __call__(self, model: Any, tag: str) -> dict[str, Any]:
        t0, c, acc = time.time(), self.config, self.accelerator
        examples, features = self._subset(tag)
        preds, nbest, null_diff = answer_features(
            model,
            examples,
            features,
            self.settings,
            pad_token_id=self.pad_token_id,
            batch_size=c.per_device_eval_batch_size,
            n_best_size=c.n_best_size,
            accelerator=acc,
            disable_progress=not acc.is_local_main_process,
            num_workers=self.num_workers,
        )
        results: dict[str, Any] = {}
        self.last = (preds, nbest, null_diff)
        # what scores is what a user gets from predict.py: the first answer by the one ranking rule, word-aligned
        preds = {ex["id"]: first_answer(nbest.get(ex["id"], []), preds.get(ex["id"]), ex["context"]) for ex in examples}
        if acc.is_main_process:
            if len(preds) != len(examples):
                raise RuntimeError(f"{len(preds)} predictions for {len(examples)} examples")
            results = score_predictions(preds, examples, self.metric)
            # the file holds the Reader's answer format (inference/nbest_file.py); `last` keeps the decoder's
            write_predictions(
                self.output_dir,
                preds,
                to_file(nbest),
                null_diff if self.settings.version_2_with_negative else None,
                prefix="" if tag == "final" else f"{tag}_",
            )
        model.train()
        self.seconds += time.time() - t0
        return results
