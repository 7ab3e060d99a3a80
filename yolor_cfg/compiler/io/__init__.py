"""Weights in and out. ``load_weights_into`` picks the format from the file's content."""
from .checkpoint import load_state_dict, load_weights_into, read_checkpoint, read_torch_file, save_checkpoint
from .darknet_weights import DarknetHeader, load_darknet_weights, save_darknet_weights  # noqa: F401
