"""The names the command line, the settings and the library share (torch-free, so the parsers can import them)."""

OBJECTIVES = ("multilabel", "f1", "mixed")  # training.objective.objective_weights
GOLD_SPAN_LOSSES = ("multilabel", "softmax")  # training.objective.ObjectiveConfig.gold_span_loss
DECODINGS = ("argmax", "expected_f1")  # decoding.choose
BACKENDS = ("torch", "onnxruntime")  # what runs a model: inference.onnx_backend.resolve_backend
COMPILE_CHOICES = ("auto", "yes", "no")  # torch.compile the model: inference.compiled.resolve_compile
