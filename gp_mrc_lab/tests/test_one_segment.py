"""gp_mrc_lab.one_segment: an encoder whose type-1 embedding equals type 0's reads a (question, passage) pair as
it reads the same pair with all-zero token_type_ids (issue #27 point 3, m3e-small)."""

from __future__ import annotations

import torch
from transformers import BertModel

from conftest import make_tiny_config
from gp_mrc_lab.one_segment import copy_type0_into_type1, type_embedding_norms


def test_type1_becomes_type0_so_segment_ids_no_longer_matter():
    torch.manual_seed(0)
    model = BertModel(make_tiny_config(50)).eval()
    ids = torch.tensor([[2, 7, 8, 3, 11, 12, 13, 3]])
    pair = torch.tensor([[0, 0, 0, 0, 1, 1, 1, 1]])
    with torch.no_grad():
        before = model(input_ids=ids, token_type_ids=pair).last_hidden_state
        zeros = model(input_ids=ids, token_type_ids=torch.zeros_like(pair)).last_hidden_state
    assert not torch.allclose(before, zeros)  # the segment ids did matter
    copy_type0_into_type1(model)
    norms = type_embedding_norms(model)
    assert norms[0] == norms[1]
    with torch.no_grad():
        after = model(input_ids=ids, token_type_ids=pair).last_hidden_state
    assert torch.equal(after, zeros)
