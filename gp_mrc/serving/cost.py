"""What a request costs before it runs: the encoder windows each (question, passage) pair will take, counted with
the reader's own tokenizer and window settings (the request's overrides first). The service refuses a request
over its cost cap (413) and the batcher cuts the rest into chunks of windows (see batcher.py).

Counted as prepare_features cuts them: a window holds [CLS] question [SEP] passage [SEP]; the next window starts
`doc_stride` tokens before the previous one ended (transformers' overflowing tokens)."""

from __future__ import annotations

import copy
import math
import threading
from typing import Any

from ..settings import query_room


class WindowCounter:
    """Counts windows with a private copy of the tokenizer: a fast tokenizer is not safe to call from two threads
    at once ("Already borrowed"), and the reader's own runs in the model's thread."""

    def __init__(self, tokenizer: Any, settings: Any):
        self._tokenizer = copy.deepcopy(tokenizer)
        self._settings = settings
        self._lock = threading.Lock()

    def _ids(self, texts: list[str]) -> list[list[int]]:
        return self._tokenizer(texts, add_special_tokens=False, verbose=False)["input_ids"]

    def count(self, records: list[dict], overrides: dict[str, Any]) -> list[int]:
        """Per record, its windows under the reader's settings with `overrides` (Reader.answer's keywords)."""
        s = self._settings
        seq = overrides.get("max_seq_length") or s.max_seq_length
        stride = overrides.get("doc_stride") or s.doc_stride
        max_query = min(overrides.get("max_query_length") or s.max_query_length, max(1, query_room(seq, stride)))
        with self._lock:  # verbose=False: a passage longer than one window is the point here, not a warning
            questions = self._ids([r["question"] for r in records])
            passages = self._ids([r["context"] for r in records])
            special = self._tokenizer.num_special_tokens_to_add(pair=True)
        out = []
        for q, c in zip(questions, passages):
            room = seq - min(len(q), max_query) - special  # passage tokens per window
            step = room - stride  # settings with no room (step < 1) are refused by the reader itself
            out.append(1 if len(c) <= room or step < 1 else 1 + math.ceil((len(c) - room) / step))
        return out
