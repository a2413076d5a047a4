#!/usr/bin/env python
"""Build a small randomly initialised BERT with a character vocabulary taken from training files.

For Chinese benchmarks where no pretrained Chinese encoder is reachable: every CJK character is its own
token (BERT's basic tokenizer already splits them); Latin text falls back to single letters/digits.

    python scripts/build_char_encoder.py --train_files ../shared/data/cmrc2018/cmrc2018_trial.json \\
        --output_dir runs/char_encoder_zh
"""

import argparse
import collections
import os
import string
import sys

from transformers import BertConfig, BertModel, BertTokenizerFast

from gp_mrc.data.examples import DataError, load_examples

SPECIALS = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]"]


def build_vocab(texts: list[str], min_count: int, max_size: int) -> list[str]:
    counts = collections.Counter(ch.lower() for t in texts for ch in t if not ch.isspace())
    base = list(string.ascii_lowercase + string.digits + string.punctuation)
    chars = [c for c, n in counts.most_common() if n >= min_count and c not in base]
    vocab = SPECIALS + base + ["##" + c for c in string.ascii_lowercase + string.digits] + chars
    return vocab[:max_size]


def make_tokenizer(vocab: list[str]) -> BertTokenizerFast:
    tok = BertTokenizerFast(vocab={w: i for i, w in enumerate(vocab)}, do_lower_case=True)
    if len(tok) < len(vocab):  # transformers 4.x takes a vocab file
        import tempfile

        path = os.path.join(tempfile.mkdtemp(), "vocab.txt")
        with open(path, "w", encoding="utf-8") as f:
            f.write("\n".join(vocab) + "\n")
        tok = BertTokenizerFast(vocab_file=path, do_lower_case=True)
    return tok


def main() -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--train_files", nargs="+", required=True)
    p.add_argument("--output_dir", required=True)
    p.add_argument("--min_count", type=int, default=1)
    p.add_argument("--max_vocab", type=int, default=8000)
    p.add_argument("--hidden_size", type=int, default=256)
    p.add_argument("--num_layers", type=int, default=4)
    p.add_argument("--num_heads", type=int, default=4)
    p.add_argument("--max_position_embeddings", type=int, default=512)
    p.add_argument("--seed", type=int, default=0)
    args = p.parse_args()
    texts = []
    try:
        for path in args.train_files:
            ex = load_examples(path)
            texts += list(ex["context"]) + list(ex["question"])
    except DataError as e:
        print(f"error: {e}", file=sys.stderr)
        return 2
    vocab = build_vocab(texts, args.min_count, args.max_vocab)
    tokenizer = make_tokenizer(vocab)
    import torch

    torch.manual_seed(args.seed)
    config = BertConfig(
        vocab_size=len(tokenizer),
        hidden_size=args.hidden_size,
        num_hidden_layers=args.num_layers,
        num_attention_heads=args.num_heads,
        intermediate_size=4 * args.hidden_size,
        max_position_embeddings=args.max_position_embeddings,
    )
    BertModel(config, add_pooling_layer=False).save_pretrained(args.output_dir)
    tokenizer.save_pretrained(args.output_dir)
    unk = sum(tokenizer(texts[:200])["input_ids"][i].count(tokenizer.unk_token_id) for i in range(min(200, len(texts))))
    print(
        f"wrote {args.output_dir}: vocab {len(tokenizer)}, hidden {args.hidden_size} x {args.num_layers} layers; "
        f"[UNK] in the first 200 texts: {unk}"
    )
    return 0


if __name__ == "__main__":
    from gp_mrc.errors import run_script

    run_script(main)
