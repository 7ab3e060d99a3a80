"""ncnn: a folder written by ``export --format ncnn`` (NAME.ncnn.param + NAME.ncnn.bin + metadata.json),
run on the CPU by the ``ncnn`` package, one image at a time (ncnn blobs have no batch axis)."""
from __future__ import annotations

from pathlib import Path

import numpy as np

from ...core.checks import UsageError
from .base import ArtifactInfo, Runtime, model_in_folder, read_sidecar, register

PARAM = ".ncnn.param"


def require_ncnn():
    try:
        import ncnn
    except ImportError:
        raise UsageError("ncnn is not installed: pip install 'yolor-cfg[ncnn]'") from None
    return ncnn


@register
class NcnnRuntime(Runtime):
    kind = "ncnn"
    describes = "an ncnn folder or .ncnn.param"

    def __init__(self, net, source: str, meta: dict[str, str], img_size=None, names=None, threads=None):
        self.net, self.threads = net, threads
        self.info = ArtifactInfo.from_metadata(meta, source, img_size, names, batch=None)
        self.outputs_named = [n for n in net.output_names()]

    @classmethod
    def accepts(cls, path: Path) -> bool:
        return path.name.endswith(PARAM) or (path.is_dir() and any(path.glob(f"*{PARAM}")))

    @classmethod
    def open(cls, path: Path, *, cfg=None, img_size=None, names=None, device="cpu", threads=None) -> "NcnnRuntime":
        ncnn = require_ncnn()
        param = model_in_folder(Path(path), PARAM, "ncnn")
        weights = param.with_name(param.name[: -len(PARAM)] + ".ncnn.bin")
        if not weights.is_file():
            raise UsageError(f"{param}: its weights file {weights.name} is missing")
        net = ncnn.Net()
        net.opt.use_vulkan_compute = False
        if threads:
            net.opt.num_threads = threads
        if net.load_param(str(param)) or net.load_model(str(weights)):
            raise UsageError(f"{param}: ncnn could not load this model (a foreign or damaged param/bin pair)")
        return cls(net, str(param), read_sidecar(param), img_size, names, threads)

    def kernels(self) -> str:
        return "ncnn CPU kernels (fp16 storage)" if self.info.precision == "fp16" else "ncnn CPU kernels (fp32)"

    def outputs(self, x: np.ndarray):
        import ncnn

        per_image = []
        for image in np.asarray(x, np.float32):
            pixels = np.ascontiguousarray(image)  # the Mat borrows this buffer: it must outlive the extraction
            with self.net.create_extractor() as ex:
                ex.input("in0", ncnn.Mat(pixels))
                found = []
                for name in self.outputs_named:
                    status, mat = ex.extract(name)
                    if status:
                        raise UsageError(f"ncnn could not compute {name} (status {status})")
                    found.append(np.array(mat))
            per_image.append(found)
        return [np.stack(outs) for outs in zip(*per_image)]
