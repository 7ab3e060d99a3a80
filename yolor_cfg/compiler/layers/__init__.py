"""Layer kinds. Importing this package registers every kind (one module per family)."""
from . import conv, crop, embedding, head, implicit, misc, multilabel, pool, reorg, repconv, route  # noqa: F401
from .base import REGISTRY, LayerKind, Node, Shape, register  # noqa: F401
