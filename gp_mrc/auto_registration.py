"""Make the "gp_mrc" model type known to transformers' Auto classes as soon as both are imported, so that
`import gp_mrc` then `AutoModel.from_pretrained(folder)` or `AutoModelForQuestionAnswering.from_pretrained(folder)`
works in either import order, while `import gp_mrc` alone (the command-line parsers, the data modules) still imports
neither torch nor transformers.

The registration itself lives in gp_mrc/models/modeling.py (it runs whenever that module is imported); this only
imports that module right away if transformers is already loaded, or right after transformers loads. The same
for the "extractive-question-answering" pipeline task (gp_mrc/inference/hf_pipeline.py) and `transformers.pipelines`.
"""

from __future__ import annotations

import importlib
import importlib.abc
import importlib.util
import sys
import warnings
from types import ModuleType
from typing import Any, Sequence

MODELING = "gp_mrc.models.modeling"
PIPELINE = "gp_mrc.inference.hf_pipeline"
# (what transformers module, then which gp_mrc module registers itself with it)
AFTER = (("transformers", MODELING), ("transformers.pipelines", PIPELINE))


def register_with_transformers() -> None:
    for target, module in AFTER:
        if target in sys.modules:
            importlib.import_module(module)
        elif not any(isinstance(f, _AfterTransformersImport) and f.target == target for f in sys.meta_path):
            sys.meta_path.insert(0, _AfterTransformersImport(target, module))


class _AfterTransformersImport(importlib.abc.MetaPathFinder):
    """Finds nothing itself: it wraps the real loader of `target` (a transformers module) to import `module`
    (gp_mrc's registration) after it."""

    def __init__(self, target: str = "transformers", module: str = MODELING):
        self.target, self.module = target, module

    def find_spec(self, name: str, path: Sequence[str] | None = None, target: ModuleType | None = None) -> Any:
        if name != self.target:
            return None
        sys.meta_path.remove(self)  # one shot; and the lookup below must not find this finder again
        spec = importlib.util.find_spec(name)
        if spec is None or spec.loader is None or not hasattr(spec.loader, "exec_module"):
            return spec
        exec_module = spec.loader.exec_module

        then = self.module

        def exec_then_register(module: ModuleType) -> None:
            exec_module(module)
            try:
                importlib.import_module(then)
            except Exception as e:  # never break `import transformers` itself; gp_mrc's own imports will fail loudly
                warnings.warn(f"gp_mrc could not register {then} with transformers: {e!r}")

        spec.loader.exec_module = exec_then_register
        return spec
