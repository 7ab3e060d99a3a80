"""The choices and defaults the command line offers, in a module that imports nothing heavy, so
that ``yolor-cfg --help`` and argument errors answer without loading torch or onnx. The modules that
implement them import these names from here (one place each)."""
from __future__ import annotations

BUILTIN_DATA = ("synth", "synth-tracks")  # --data names of the built-in synthetic sets (detection, tracking)
INT8_CALIBRATION_IMAGES = 300
INT8_MAX_DROP = 1.0  # mAP@0.5 points
INT8_SEARCH_MODES = ("auto", "always", "off")  # auto: search when the first try misses the budget
INT8_CALIBRATION_METHODS = ("minmax", "percentile", "entropy")
# the benchmark's PyTorch rows; the export formats add theirs (deploy.formats.benchmark_rows)
BENCHMARK_TORCH_BACKENDS = ("eager", "fused", "fused-lowp", "compile")
BENCHMARK_TORCH_DEFAULTS = ("eager", "fused", "fused-lowp")
BENCHMARK_ALIASES = {"fused-bf16": "fused-lowp", "fused-fp16": "fused-lowp"}
