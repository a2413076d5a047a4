"""SQuAD v1.1 exact match and F1 (evaluate module kept in the package, loaded by path offline).

Same inputs and outputs as the hub's `squad` metric; scoring is gp_mrc.metrics.scoring (official v1.1
normalization), so training rewards and this metric cannot drift apart.
"""

import datasets
import evaluate

from gp_mrc.metrics.aggregate import SQUAD_INPUTS_DOC, em_f1, metric_info

_CITATION = """\
@inproceedings{Rajpurkar2016SQuAD10,
  title={SQuAD: 100,000+ Questions for Machine Comprehension of Text},
  author={Pranav Rajpurkar and Jian Zhang and Konstantin Lopyrev and Percy Liang},
  booktitle={EMNLP},
  year={2016}
}
"""

_DESCRIPTION = "SQuAD v1.1: exact match and token F1 after lowercasing and removing punctuation and articles."

_KWARGS_DESCRIPTION = (
    SQUAD_INPUTS_DOC
    + """Returns:
    {"exact_match": float, "f1": float}, both in percent (0-100); the max over gold answers,
    averaged over references.
"""
)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Squad(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, _CITATION, _KWARGS_DESCRIPTION, "https://rajpurkar.github.io/SQuAD-explorer/")

    def _compute(self, predictions, references):
        scores = em_f1(predictions, references, "en")
        return {"exact_match": scores["exact_match"], "f1": scores["f1"]}
