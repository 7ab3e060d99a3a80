"""Weights in and out. ``load_weights_into`` picks the format from the file's content."""
from .checkpoint import load_state_dict, load_weights_into, read_torch_file  # noqa: F401
