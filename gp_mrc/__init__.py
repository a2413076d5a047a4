"""gp_mrc: extractive reading comprehension with a GlobalPointer span head trained on the metric."""

__version__ = "0.1.0"
