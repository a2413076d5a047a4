"""Chinese exact match and F1 of the CMRC2018 official script (also used for DRCD and DuReader).

EM compares answers after lowercasing and removing the CMRC punctuation list; F1 uses the longest
common contiguous run of tokens (each CJK character is a token, other text is word-tokenized).
Same input format as the hub's `squad` metric. Scoring is gp_mrc.metrics.scoring.
"""

import datasets
import evaluate

from gp_mrc.metrics.aggregate import SQUAD_INPUTS_DOC, em_f1, metric_info

_CITATION = """\
@inproceedings{cui-emnlp2019-cmrc2018,
  title={A Span-Extraction Dataset for {C}hinese Machine Reading Comprehension},
  author={Cui, Yiming and Liu, Ting and Che, Wanxiang and Xiao, Li and Chen, Zhipeng and Ma, Wentao and Wang, Shijin and Hu, Guoping},
  booktitle={EMNLP-IJCNLP},
  year={2019}
}
"""

_DESCRIPTION = "CMRC2018: character-level exact match and longest-common-substring F1 for Chinese extractive QA."

_KWARGS_DESCRIPTION = (
    SQUAD_INPUTS_DOC
    + """Returns:
    {"exact_match": float, "f1": float} in percent (0-100) and "total" (number of questions).
"""
)


@evaluate.utils.file_utils.add_start_docstrings(_DESCRIPTION, _KWARGS_DESCRIPTION)
class Cmrc(evaluate.Metric):
    def _info(self):
        return metric_info(_DESCRIPTION, _CITATION, _KWARGS_DESCRIPTION, "https://github.com/ymcui/cmrc2018")

    def _compute(self, predictions, references):
        return em_f1(predictions, references, "zh")
