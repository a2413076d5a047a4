"""SQuAD v2.0 exact match and F1 with the HasAns / NoAns breakdown (evaluate module, loaded by path).

Same inputs as the hub's `squad_v2` metric; numbers follow the official evaluate-v2.0.py
(an unanswerable question is scored against the empty answer). Scoring is gp_mrc.metrics.scoring.
"""

import datasets
import evaluate

from gp_mrc.metrics.aggregate import metric_info, squad_v2_scores

_CITATION = """\
@inproceedings{Rajpurkar2018SQuAD2,
  title={Know What You Don't Know: Unanswerable Questions for SQuAD},
  author={Pranav Rajpurkar and Robin Jia and Percy Liang},
  booktitle={ACL},
  year={2018}
}
"""

_DESCRIPTION = "SQuAD v2.0: exact match and token F1, overall and split into answerable / unanswerable questions."

_KWARGS_DESCRIPTION = """
Args:
    predictions: list of {"id": str, "prediction_text": str, "no_answer_probability": float};
        an empty prediction_text means "no answer".
    references: list of {"id": str, "answers": {"text": [str], "answer_start": [int]}};
        empty lists mark an unanswerable question.
    no_answer_threshold: a prediction whose no_answer_probability is above it counts as
        "no answer" (default 1.0: never, as the official script without a probability file).
Returns:
    {"exact", "f1", "total"} and, for each non-empty group, {"HasAns_exact", "HasAns_f1",
    "HasAns_total"} / {"NoAns_exact", "NoAns_f1", "NoAns_total"}; scores in percent (0-100).
"""


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class SquadV2(evaluate.Metric):
    def _info(self):
        return metric_info(
            _DESCRIPTION, _CITATION, _KWARGS_DESCRIPTION, "https://rajpurkar.github.io/SQuAD-explorer/", True
        )

    def _compute(self, predictions, references, no_answer_threshold=1.0):
        return squad_v2_scores(predictions, references, no_answer_threshold=no_answer_threshold)
