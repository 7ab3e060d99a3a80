"""yolor-cfg: a Darknet-style, config-driven model compiler for the YOLOR family.

``import yolor_cfg`` is cheap: the compiler (and torch) load on first use.
"""
from __future__ import annotations

import importlib

__version__ = "0.1.0"

_LAZY = {
    "compile": ("yolor_cfg.api", "compile"),
    "load": ("yolor_cfg.api", "load"),
    # the workflows are yolor_cfg.api.train/val/export/detect/benchmark: train, export, detect and
    # benchmark are also subpackage names here, which would shadow them
    "load_graph": ("yolor_cfg.compiler.graph", "load_graph"),
    "import_checkpoint": ("yolor_cfg.compiler.importer", "import_checkpoint"),
    "parse_text": ("yolor_cfg.compiler.frontend", "parse_text"),
    "CfgError": ("yolor_cfg.core.errors", "CfgError"),
    "WeightsError": ("yolor_cfg.core.errors", "WeightsError"),
    "YolorCfgError": ("yolor_cfg.core.errors", "YolorCfgError"),
}

__all__ = list(_LAZY) + ["__version__"]


def __getattr__(name: str):
    if name in _LAZY:
        module, attr = _LAZY[name]
        value = getattr(importlib.import_module(module), attr)
        globals()[name] = value
        return value
    raise AttributeError(f"module 'yolor_cfg' has no attribute {name!r}")
