"""Checkpoints that pickle whole models (the YOLOR paper branch's and yolov7's ``train.py``), read
without their code and without running anything they name.

``torch.load(weights_only=True)`` does the unpickling: it builds only tensors, containers and the
globals it is told to allow. Every class the file names is checked against an allow-list (module
classes from the writing project, ``torch.nn.modules`` and ``pytorch_wavelets``; numpy's array
reconstruction) and replaced by an inert stand-in that only records its state; any other global
(``os.system``, ``builtins.eval``, ...) is refused by name before anything is built. The state dict
is then rebuilt from the recorded ``_parameters``, ``_buffers`` and ``_modules``."""
from __future__ import annotations

import importlib
import pickle
import re
import struct
from dataclasses import dataclass, field

import torch

from ...core.errors import WeightsError

# Where a pickled module class may come from: the writing project (models.yolo.Model,
# models.common.Conv, ...), torch's own layers, and the wavelet package YOLOR's DWT uses.
MODULE_PREFIXES = ("models.", "utils.", "torch.nn.modules.", "pytorch_wavelets.")
# numpy objects a checkpoint holds (best_fitness arrays): rebuilt by numpy itself, which runs no code.
NUMPY_GLOBALS = {"numpy.ndarray", "numpy.dtype", "numpy.core.multiarray._reconstruct",
                 "numpy._core.multiarray._reconstruct", "numpy.core.multiarray.scalar",
                 "numpy._core.multiarray.scalar"}
_NUMPY_DTYPE = re.compile(r"^numpy\.dtypes\.\w+DType$")


class Recorded:
    """An inert stand-in for a pickled class: it keeps the state it is given and does nothing else."""

    def __setstate__(self, state):
        self.__dict__["state"] = state if isinstance(state, dict) else {"args": state}

    def get(self, key, default=None):
        return self.__dict__.get("state", {}).get(key, default)

    @property
    def class_name(self) -> str:
        return f"{type(self).__module__}.{type(self).__qualname__}"


def _stand_in(name: str):
    module, _, qualname = name.rpartition(".")
    return type(qualname, (Recorded,), {"__module__": module, "__qualname__": qualname})


def _numpy_object(name: str):
    module, _, attr = name.rpartition(".")
    for candidate in (module, module.replace("numpy._core", "numpy.core"), module.replace("numpy.core", "numpy._core")):
        try:
            return getattr(importlib.import_module(candidate), attr)
        except (ImportError, AttributeError):
            continue
    return None


def allowed_global(name: str, path) -> tuple[object, str]:
    """(object, name) to allow for one global the file names, or WeightsError naming it."""
    if name in NUMPY_GLOBALS or _NUMPY_DTYPE.match(name):
        obj = _numpy_object(name)
        if obj is not None:
            return obj, name
    elif name.startswith(MODULE_PREFIXES) and re.fullmatch(r"[\w.]+", name):
        return _stand_in(name), name
    raise WeightsError(f"{path}: refused: the pickle names {name}, which is neither a model class nor numpy's "
                       "array reconstruction; nothing in the file was run")


def _numpy_dtype_classes() -> list[tuple[object, str]]:
    """numpy's dtype classes: ``numpy.dtype(...)`` returns instances of them, which the unpickler then
    fills in, so they are allowed with it although no file names them."""
    import numpy as np

    dtypes = getattr(np, "dtypes", None)
    return [(getattr(dtypes, n), f"numpy.dtypes.{n}") for n in dir(dtypes) if n.endswith("DType")] if dtypes else []


def _load(path, allowed: dict[str, tuple[object, str]]):
    extra = _numpy_dtype_classes() if any(n.startswith("numpy.") for n in allowed) else []
    with torch.serialization.safe_globals(list(allowed.values()) + extra):
        return torch.load(path, map_location="cpu", weights_only=True)


def load_restricted(path) -> object:
    """The file's content, with every allowed class as a Recorded stand-in (both serialization formats)."""
    with open(path, "rb") as f:
        is_zip = f.read(4) == b"PK\x03\x04"
    if not is_zip:
        return load_legacy(path)
    allowed = {name: allowed_global(name, path) for name in torch.serialization.get_unsafe_globals_in_checkpoint(path)}
    try:
        return _load(path, allowed)
    except pickle.UnpicklingError as exc:
        raise WeightsError(f"{path}: not a readable checkpoint: {_reason(exc)}") from None


def _reason(exc: Exception) -> str:
    lines = [line.strip() for line in str(exc).splitlines() if line.strip() and "WeightsUnpickler" not in line]
    useful = [line for line in lines if not line.startswith(("Weights only load failed", "Check the documentation",
                                                             "Please file an issue", "(1)", "(2)"))]
    return (useful or lines or [type(exc).__name__])[0][:300]


# ---- the legacy (pre-zip) format: pickles, then raw storages (torch/serialization.py, _legacy_load) ----

LEGACY_MAGIC = 0x1950A86A20F9469CFC6C
# Globals a legacy file's pickles may name besides model classes and numpy: tensor and parameter
# rebuilding, storage types, and plain containers.
_STORAGE_DTYPES = {"Float": torch.float32, "Half": torch.float16, "Double": torch.float64, "BFloat16": torch.bfloat16,
                   "Long": torch.int64, "Int": torch.int32, "Short": torch.int16, "Char": torch.int8,
                   "Byte": torch.uint8, "Bool": torch.bool}
_TORCH_STORAGES = {f"torch.{t}Storage": getattr(torch, f"{t}Storage") for t in _STORAGE_DTYPES}
_DTYPE_OF_STORAGE = {getattr(torch, f"{t}Storage"): dtype for t, dtype in _STORAGE_DTYPES.items()}
_LEGACY_SAFE = {
    "torch._utils._rebuild_tensor_v2": torch._utils._rebuild_tensor_v2,
    "torch._utils._rebuild_parameter": torch._utils._rebuild_parameter,
    "collections.OrderedDict": __import__("collections").OrderedDict,
    "builtins.set": set, "builtins.frozenset": frozenset, "builtins.object": object,
    "copyreg._reconstructor": __import__("copyreg")._reconstructor,
    "torch.Size": torch.Size, **_TORCH_STORAGES,
    "_codecs.encode": __import__("codecs").encode,  # bytes in protocol-2 pickles (numpy array data)
}


_PY2_MODULES = {"__builtin__": "builtins", "copy_reg": "copyreg"}


class _RestrictedUnpickler(pickle.Unpickler):
    """pickle.Unpickler whose find_class answers only from the allow-list (stand-ins for model classes)."""

    def __init__(self, file, path, storages: dict):
        super().__init__(file)
        self.path, self.storages, self.stand_ins = path, storages, {}

    def find_class(self, module, name):
        module = _PY2_MODULES.get(module, module)  # protocol-2 pickles spell some modules the Python 2 way
        full = f"{module}.{name}"
        if full in _LEGACY_SAFE:
            return _LEGACY_SAFE[full]
        if full not in self.stand_ins:
            self.stand_ins[full] = allowed_global(full, self.path)[0]
        return self.stand_ins[full]

    def persistent_load(self, saved_id):
        kind, *data = saved_id
        if kind == "module":  # (class, source file, source): the class, as find_class gave it
            return data[0]
        if kind != "storage":
            raise WeightsError(f"{self.path}: refused: unknown persistent object {kind!r}")
        storage_type, key, _location, numel, view = data
        dtype = _DTYPE_OF_STORAGE[storage_type]
        if key not in self.storages:
            nbytes = numel * torch._utils._element_size(dtype)
            self.storages[key] = torch.storage.TypedStorage(wrap_storage=torch.UntypedStorage(nbytes), dtype=dtype,
                                                            _internal=True)
        storage = self.storages[key]
        if view is not None:
            _view_key, offset, size = view
            size_of = torch._utils._element_size(dtype)
            return torch.storage.TypedStorage(wrap_storage=storage._untyped_storage[offset * size_of:(offset + size) * size_of],
                                              dtype=dtype, _internal=True)
        return storage


def load_legacy(path) -> object:
    """A legacy-format checkpoint, read with our restricted unpickler and the raw storages after it."""
    storages: dict = {}
    with open(path, "rb") as f:
        try:
            header = [_RestrictedUnpickler(f, path, storages).load() for _ in range(3)]
        except (pickle.UnpicklingError, EOFError, ValueError) as exc:
            raise WeightsError(f"{path}: not a PyTorch checkpoint ({exc})") from None
        if header[0] != LEGACY_MAGIC:
            raise WeightsError(f"{path}: not a PyTorch checkpoint (no legacy magic number)")
        try:
            result = _RestrictedUnpickler(f, path, storages).load()
            keys = _RestrictedUnpickler(f, path, storages).load()
        except (pickle.UnpicklingError, EOFError, AttributeError, TypeError, ValueError) as exc:
            raise WeightsError(f"{path}: not a readable checkpoint: {exc}") from None
        for key in keys:
            storage = storages[key]
            (count,) = struct.unpack("<q", f.read(8))
            nbytes = storage._untyped_storage.nbytes()
            data = f.read(nbytes)
            if count * torch._utils._element_size(storage.dtype) != nbytes or len(data) != nbytes:
                raise WeightsError(f"{path}: storage {key} is damaged or cut off ({len(data)} of {nbytes} bytes)")
            storage._untyped_storage.copy_(torch.frombuffer(bytearray(data), dtype=torch.uint8).untyped_storage())
    return result


@dataclass
class PickledModel:
    """What a whole-model checkpoint holds, read safely."""

    state_dict: dict[str, torch.Tensor]
    yaml: dict | None
    source_key: str  # 'ema' or 'model'
    class_name: str
    names: list[str] = field(default_factory=list)
    converted_fp16: int = 0  # tensors converted from float16 to float32
    epoch: int | None = None

    def describe(self) -> str:
        text = f"{self.class_name} from '{self.source_key}'"
        if self.converted_fp16:
            text += f"; {self.converted_fp16} float16 tensors converted to float32"
        return text


def _state_dict(module: Recorded, prefix: str = "") -> dict[str, torch.Tensor]:
    out = {}
    state = module.__dict__.get("state", {})
    skip = set(state.get("_non_persistent_buffers_set", ()) or ())
    for kind in ("_parameters", "_buffers"):
        for name, tensor in (state.get(kind) or {}).items():
            if isinstance(tensor, torch.Tensor) and not (kind == "_buffers" and name in skip):
                out[prefix + name] = tensor.detach()
    for name, child in (state.get("_modules") or {}).items():
        if isinstance(child, Recorded):
            out.update(_state_dict(child, f"{prefix}{name}."))
    return out


def is_pickled_model(obj) -> bool:
    return isinstance(obj, dict) and any(isinstance(obj.get(k), Recorded) for k in ("ema", "model"))


def read_pickled_model(path) -> PickledModel:
    """The model inside a whole-model checkpoint (``ema`` preferred over ``model``), as float32 tensors."""
    obj = load_restricted(path)
    if not is_pickled_model(obj):
        raise WeightsError(f"{path}: no pickled model under 'ema' or 'model'")
    return pickled_model(obj)


def pickled_model(obj: dict) -> PickledModel:
    """The model a whole-model checkpoint's content holds (``ema`` preferred over ``model``)."""
    key = "ema" if isinstance(obj.get("ema"), Recorded) else "model"
    model = obj[key]
    sd = _state_dict(model)
    halves = sum(t.dtype == torch.float16 for t in sd.values())
    sd = {k: v.float() if v.is_floating_point() else v for k, v in sd.items()}
    names = model.get("names")
    epoch = obj.get("epoch")
    return PickledModel(sd, model.get("yaml"), key, model.class_name,
                        list(names) if isinstance(names, (list, tuple)) else [], halves,
                        int(epoch) if isinstance(epoch, int) else None)
