"""Answering: the model over windows (predict.py), each window's top spans (window_topk.py), n-best spans and the
decoding that picks one (decoding.py), the `Reader` (reader.py; pipeline-style calls in pipeline_compat.py, one
question over many passages in passages.py, int8 in quantization.py), transformers' pipeline task (hf_pipeline.py),
and the predict command (command.py). Importing this package imports nothing heavy."""
