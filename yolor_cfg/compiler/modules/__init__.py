"""The PyTorch modules that layer kinds build (``LayerKind.build``).

Kept apart from ``layers/`` so that parsing, checking and shape inference never import torch:
a kind imports its modules inside ``build``."""
