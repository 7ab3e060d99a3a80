"""The trainer: one CPU, one GPU, or many GPUs through torchrun (DDP), the same code.

SGD/Adam with parameter groups (no weight decay on biases, BatchNorm and implicit vectors),
warm-up, cosine or linear schedule, accumulation to a nominal batch of 64, EMA weights, mixed
precision (fp16 on CUDA, bf16 on CPUs with native bf16), validation every epoch, best/last
checkpoints written atomically, results.csv and plots, exact resume."""
from __future__ import annotations

import csv
import math
import os
import random
import time
from dataclasses import asdict, dataclass, field
from pathlib import Path

import numpy as np
import torch
import torch.distributed as dist
import torch.nn as nn
from tqdm import tqdm

from ...compiler.model import compile as compile_cfg
from ...compiler.model import model_from_checkpoint
from ...core import cpu
from ...core import checks
from ...core.errors import YolorCfgError
from ...core.files import claim_run_dir
from ..eval.coco import coco_from_labels
from ..eval.validate import check_can_score, run_validation
from ...compiler.io.checkpoint import load_state_dict, read_torch_file, save_checkpoint
from ...core.choices import BUILTIN_DATA
from .data import DataConfig, DetectionDataset, build_index, collate
from .hyp import check_hyp, load_hyp
from .loss import EmbeddingLoss, MultiLabelLoss, YoloLoss

NOMINAL_BATCH = 64


class TrainingError(YolorCfgError):
    """Training cannot go on (NaN loss, data that does not fit the network, ...)."""


@dataclass
class TrainOptions:
    cfg: str = ""
    data: str = "synth"
    epochs: int = 10
    batch: int = 16
    img: int = 256
    weights: str | None = None
    hyp: str | None = None
    device: str = "cpu"
    workers: int = 2
    project: str = "runs/train"
    name: str = "exp"
    exist_ok: bool = False
    resume: str | None = None
    seed: int = 0
    deterministic: bool = False
    optimizer: str = "sgd"
    linear_lr: bool = False
    sync_bn: bool = False
    amp: bool = True
    val_conf: float = 0.001
    val_iou: float = 0.65
    nominal_batch: int = NOMINAL_BATCH  # gradients are accumulated up to this batch size
    max_steps: int | None = None  # stop dead after this many optimizer steps, like a kill (tests)
    progress: bool = True
    hyp_overrides: dict = field(default_factory=dict)
    dialect: str | None = None  # override the dialect the cfg implies ("yolor" or "darknet")

    def check(self) -> None:
        """The command line's checks, for options built in Python too (UsageError)."""
        checks.int_in(self.epochs, "epochs", 1, 1_000_000)
        checks.int_in(self.batch, "batch", 1, checks.MAX_BATCH)
        checks.img_size(self.img, "training image size")
        checks.int_in(self.workers, "workers", 0, 256)
        checks.int_in(self.nominal_batch, "nominal batch (nbs)", 1, 1_000_000)
        checks.int_in(self.seed, "seed", 0)
        checks.probability(self.val_conf, "validation confidence threshold")
        checks.probability(self.val_iou, "validation IoU threshold")
        if self.max_steps is not None:
            checks.int_in(self.max_steps, "max_steps", 1)
        if self.dialect not in (None, "yolor", "darknet"):
            raise checks.UsageError(f"dialect {self.dialect!r}: use yolor or darknet")
        if self.optimizer not in ("sgd", "adam"):
            raise checks.UsageError(f"optimizer {self.optimizer!r}: use sgd or adam")
        checks.device(self.device)
        if self.resume not in (None, "", "auto"):
            checks.existing_file(self.resume, "--resume checkpoint")
        elif not self.resume:
            if not self.cfg:
                raise checks.UsageError("a cfg is needed (--cfg), unless resuming (--resume)")
            checks.existing_file(self.cfg, "cfg")
        for what, path in (("weights", self.weights), ("hyperparameter file", self.hyp)):
            if path:
                checks.existing_file(path, what)
        if str(self.data) not in BUILTIN_DATA:
            checks.existing_file(self.data, "data yaml")
        checks.output_dir(self.project, "project folder")


# Options a resumed run may change; every other one is the run's own.
RESUMABLE = ("resume", "workers", "progress", "device", "max_steps")


class ModelEMA:
    """YOLOR's exponential moving average of weights and buffers, on torch's ``AveragedModel``: each
    update blends in the model with weight 1 - d, d = decay * (1 - exp(-updates / 2000)) (a ramp, so early
    noisy weights fade fast); integer buffers are copied. ``ema`` is the averaged model."""

    def __init__(self, model: nn.Module, decay: float = 0.9999, updates: int = 0):
        from torch.optim.swa_utils import AveragedModel

        self.decay = decay
        self.averaged = AveragedModel(model, multi_avg_fn=self._blend, use_buffers=True)
        self.averaged.update_parameters(model)  # the start: a copy (AveragedModel counts it as one average)
        self.updates = updates
        self.ema = self.averaged.module.eval()
        for p in self.ema.parameters():
            p.requires_grad_(False)

    @property
    def updates(self) -> int:
        return int(self.averaged.n_averaged) - 1

    @updates.setter
    def updates(self, value: int) -> None:
        self.averaged.n_averaged.fill_(value + 1)

    def _blend(self, averaged: list, current: list, n_averaged) -> None:
        d = self.decay * (1 - math.exp(-int(n_averaged) / 2000))  # n_averaged = this update's number
        if averaged[0].dtype.is_floating_point:
            torch._foreach_lerp_(averaged, current, 1 - d)
        else:
            for a, c in zip(averaged, current):
                a.copy_(c)

    def update(self, model: nn.Module) -> None:
        with torch.no_grad():
            self.averaged.update_parameters(model)


def _param_groups(model: nn.Module, weight_decay: float):
    """(no decay: BatchNorm scales and what each layer kind declares in ``no_weight_decay``, decayed
    weights, biases), as YOLOR groups them."""
    decay, no_decay_bn, bias = [], [], []
    for node, layer in zip(model.graph.nodes, model.module_list):
        for module in layer.modules():
            for name, p in module.named_parameters(recurse=False):
                if not p.requires_grad:
                    continue
                if name == "bias":
                    bias.append(p)
                elif isinstance(module, nn.modules.batchnorm._BatchNorm) or (
                        module is layer and name in node.spec.no_weight_decay):
                    no_decay_bn.append(p)
                else:
                    decay.append(p)
    return no_decay_bn, decay, bias


def _unwrap(model):
    return model.module if isinstance(model, nn.parallel.DistributedDataParallel) else model


def resume_conflicts(given: TrainOptions, saved: dict) -> list[str]:
    """Options set (away from their defaults) that differ from the resumed run's, as 'name X (run: Y)'."""
    defaults = asdict(TrainOptions())
    out = []
    for key, value in asdict(given).items():
        if key in RESUMABLE or key in ("hyp_overrides", "exist_ok") or key not in saved:
            continue
        if value != defaults[key] and value != saved[key]:
            out.append(f"{key} {value} (run: {saved[key]})")
    return out


def _rng_state() -> dict:
    np_state = np.random.get_state()
    return {"torch": torch.get_rng_state(), "python": list(random.getstate()[1]) + [random.getstate()[0]],
            "numpy": [torch.from_numpy(np_state[1].astype(np.int64)), int(np_state[2]), int(np_state[3]), float(np_state[4])],
            "cuda": torch.cuda.get_rng_state_all() if torch.cuda.is_available() else []}


def _set_rng_state(state: dict) -> None:
    torch.set_rng_state(state["torch"])
    py = state["python"]
    random.setstate((py[-1], tuple(int(v) for v in py[:-1]), None))
    keys, pos, has_gauss, gauss = state["numpy"]
    np.random.set_state(("MT19937", keys.numpy().astype(np.uint32), pos, has_gauss, gauss))
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


class Trainer:
    def __init__(self, opt: TrainOptions):
        opt.check()
        self.opt = opt
        self.rank = int(os.environ.get("RANK", -1))
        self.local_rank = int(os.environ.get("LOCAL_RANK", -1))
        self.world = int(os.environ.get("WORLD_SIZE", 1))
        self.main = self.rank in (-1, 0)
        self.device = self._select_device()
        resume_ckpt = self._resume_checkpoint() if opt.resume else None
        if resume_ckpt is not None:  # the run goes on as it was started; only RESUMABLE options may change
            saved = resume_ckpt["train_options"]
            conflicts = resume_conflicts(opt, saved)
            if conflicts:
                raise checks.UsageError(
                    f"--resume continues {resume_ckpt['save_dir']} with the options it was started with, and these "
                    f"differ: {', '.join(conflicts)}; drop them, or start a new run from its weights "
                    f"(--weights {resume_ckpt['save_dir']}/weights/last.pt)")
            for key, value in saved.items():
                if key not in RESUMABLE:
                    setattr(opt, key, value)
            opt.exist_ok = True
        self.resume_ckpt = resume_ckpt
        self._seed(opt.seed)
        self.data = DataConfig.load(opt.data)
        check_hyp(dict(opt.hyp_overrides), "hyperparameter overrides")  # a file's values: checked in load_hyp
        self.hyp = load_hyp(opt.hyp) | dict(opt.hyp_overrides)
        if resume_ckpt is not None:
            self.hyp = dict(resume_ckpt["hyp"])
        # a new run's folder is claimed once data and model are known to be good (see train)
        self.save_dir = self._resumed_run_dir(resume_ckpt) if resume_ckpt is not None else None

    # ---- setup ----
    def _select_device(self) -> torch.device:
        dev = self.opt.device  # checked: cpu, or CUDA devices that exist
        if dev == "cpu":
            return torch.device("cpu")
        if self.local_rank >= 0:
            torch.cuda.set_device(self.local_rank)
            return torch.device("cuda", self.local_rank)
        return torch.device("cuda", int(dev.split(",")[0]))

    def _seed(self, seed: int) -> None:
        rank_seed = seed + max(self.rank, 0)
        random.seed(rank_seed)
        np.random.seed(rank_seed)
        torch.manual_seed(rank_seed)
        if self.opt.deterministic:
            torch.use_deterministic_algorithms(True, warn_only=True)
            torch.backends.cudnn.benchmark = False
            os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")

    def _resume_checkpoint(self) -> dict:
        path = Path(self.opt.resume) if self.opt.resume not in ("", "auto", None) else None
        if path is None:
            candidates = sorted(Path(self.opt.project).glob("*/weights/last.pt"), key=lambda p: p.stat().st_mtime)
            if not candidates:
                raise TrainingError(f"--resume: no runs with weights/last.pt under {self.opt.project}")
            path = candidates[-1]
        ckpt = read_torch_file(path)
        if not isinstance(ckpt, dict) or "train_options" not in ckpt:
            raise TrainingError(f"{path}: not a training checkpoint (it has no optimizer/epoch state to resume)")
        self.resume_path = path
        return ckpt

    def _resumed_run_dir(self, ckpt: dict) -> Path | None:
        """The folder a resumed run writes to: the run folder the checkpoint sits in (RUN/weights/last.pt),
        wherever the run was moved; None (a new folder claimed like a new run's) for a checkpoint outside
        one, so that a copy never writes into the folder it was copied from."""
        path = self.resume_path.resolve()
        recorded = Path(ckpt["save_dir"])
        if path.parent.name == "weights":
            own = path.parent.parent
            if own != recorded.resolve() and self.main:
                print(f"resume: the run was recorded in {recorded}; continuing in {own}, where its checkpoint is")
            return own
        self.opt.exist_ok = False
        if self.main:
            print(f"resume: {self.resume_path} is not inside a run's weights/ folder; continuing in a new run folder "
                  f"under {self.opt.project}")
        return None

    def _model(self):
        opt = self.opt
        if self.resume_ckpt is not None:
            model = model_from_checkpoint(self.resume_ckpt, "model_train", "resume")
        else:
            model = compile_cfg(opt.cfg, img_size=opt.img, dialect=opt.dialect)
            if opt.weights:
                reinitialised = model.load_weights(opt.weights, fit_classes=True)
                if reinitialised and self.main:
                    print(f"fine-tuning {opt.weights} to classes={model.num_classes}: every tensor that fits is "
                          f"loaded; {len(reinitialised)} class-dependent ones start fresh:\n  "
                          + "\n  ".join(reinitialised))
        if not model.heads:
            raise TrainingError(f"{opt.cfg}: the network has no [yolo] head to train")
        if model.graph.dialect.name != "yolor":
            raise TrainingError(
                f"{opt.cfg} compiles with the {model.graph.dialect.name} dialect ({model.graph.dialect_choice.reason}): "
                "its heads decode boxes Darknet's way (exp() sizes, scale_x_y offsets), but training here uses "
                "YOLOR's box parameterisation ((2 sigmoid)^2 x anchor, 2 sigmoid - 0.5), so the trained model would "
                "be scored with a decoder its loss never saw. Train it with Darknet, or, for a YOLOR network, give "
                "--dialect yolor (or dialect=yolor in its [net] section)")
        if model.num_classes != self.data.nc:
            raise TrainingError(f"{opt.cfg} has classes={model.num_classes} in its [yolo] layers but the data has "
                                f"nc={self.data.nc}; change classes= and the filters= before each head "
                                f"(len(mask) x (classes + 5))")
        return model.to(self.device)

    def _loaders(self):
        opt = self.opt
        train_index = build_index(self.data, "train")
        val_index = build_index(self.data, "val")
        if self.main:
            for split, idx in (("train", train_index), ("val", val_index)):
                print(f"{split}: {idx.summary()}")
        if not train_index.images:
            raise TrainingError("no usable training images (see the skipped list above)")
        check_can_score(val_index)  # every epoch is scored on it: refuse before the first one, not after
        self.num_ids = getattr(train_index, "num_ids", 0)  # identities to learn embeddings from (tracking data)
        self.train_set = DetectionDataset(train_index, opt.img, augment=True, hyp=self.hyp, seed=opt.seed)
        per_rank = max(opt.batch // self.world, 1)
        if self.rank >= 0:
            sampler = torch.utils.data.distributed.DistributedSampler(self.train_set, shuffle=True, seed=opt.seed)
        else:
            sampler = _EpochShuffle(len(self.train_set), opt.seed)
        self.sampler = sampler
        workers = min(opt.workers, os.cpu_count() or 1)
        self.train_loader = torch.utils.data.DataLoader(self.train_set, batch_size=per_rank, sampler=sampler,
                                                        num_workers=workers, collate_fn=collate, drop_last=False,
                                                        persistent_workers=False, pin_memory=self.device.type == "cuda")
        if self.main:
            val_set = DetectionDataset(val_index, opt.img, augment=False)
            self.val_loader = torch.utils.data.DataLoader(val_set, batch_size=per_rank * 2, shuffle=False,
                                                          num_workers=workers, collate_fn=collate)
            self.val_gt = coco_from_labels(val_index.images, val_index.labels, self.data.names)

    # ---- the run ----
    def train(self) -> dict:
        """Run the training; returns save_dir, best, last and the last validation metrics (or, when
        max_steps stopped it, save_dir and stopped_at_step)."""
        opt = self.opt
        if self.rank >= 0 and not dist.is_initialized():
            dist.init_process_group("nccl" if self.device.type == "cuda" else "gloo")
        self._loaders()
        model = self._model()
        if self.save_dir is None:
            # only rank 0 writes; the other ranks never touch the run folder
            self.save_dir = (claim_run_dir(opt.project, opt.name, opt.exist_ok) if self.main
                             else Path(opt.project) / opt.name)
        run = self._prepare_run(model)
        if self.main:
            run.weights_dir.mkdir(parents=True, exist_ok=True)
            print(f"training {opt.cfg} on {self.device}{f' x{self.world}' if self.world > 1 else ''}: "
                  f"{opt.epochs} epochs, batch {opt.batch} (accumulate {run.accumulate}), img {opt.img}, "
                  f"amp {run.amp_dtype}, results in {self.save_dir}")
        last_val = None
        self.t_start = time.time()
        for epoch in range(run.start_epoch, opt.epochs):
            started = time.time()
            mean_loss, stopped = self._train_epoch(run, epoch)
            if stopped:
                return {"save_dir": str(self.save_dir), "stopped_at_step": run.step}
            lrs = [g["lr"] for g in run.optimizer.param_groups]
            run.scheduler.step()
            if self.main:
                last_val = self._end_epoch(run, epoch, mean_loss, lrs, started)
        if self.main:
            plot_results(self.save_dir / "results.csv", self.save_dir / "results.png")
        if self.rank >= 0 and dist.is_initialized():
            dist.barrier()
            dist.destroy_process_group()
        return {"save_dir": str(self.save_dir), "best": str(run.weights_dir / "best.pt"),
                "last": str(run.weights_dir / "last.pt"), "metrics": last_val.metrics if last_val else {}}

    # ---- the steps of a run ----
    def _prepare_run(self, model: nn.Module) -> _Run:
        """Optimizer (three parameter groups), schedule, EMA, resumed state, DDP, losses and AMP."""
        opt, hyp = self.opt, self.hyp
        accumulate = max(round(opt.nominal_batch / opt.batch), 1)
        weight_decay = hyp["weight_decay"] * opt.batch * accumulate / opt.nominal_batch
        bn_weights, decayed, biases = _param_groups(model, weight_decay)
        if opt.optimizer == "adam":
            optimizer = torch.optim.Adam(bn_weights, lr=hyp["lr0"], betas=(hyp["momentum"], 0.999))
        else:
            optimizer = torch.optim.SGD(bn_weights, lr=hyp["lr0"], momentum=hyp["momentum"], nesterov=True)
        optimizer.add_param_group({"params": decayed, "weight_decay": weight_decay})
        optimizer.add_param_group({"params": biases})
        embedding_loss = self._embedding_loss(model)
        if embedding_loss is not None:  # the identity classifier trains with the model, outside it
            optimizer.add_param_group({"params": list(embedding_loss.parameters()), "weight_decay": weight_decay})
        if opt.linear_lr:
            lr_lambda = lambda x: (1 - x / opt.epochs) * (1.0 - hyp["lrf"]) + hyp["lrf"]  # noqa: E731
        else:
            lr_lambda = lambda x: ((1 + math.cos(x * math.pi / opt.epochs)) / 2) * (1 - hyp["lrf"]) + hyp["lrf"]  # noqa: E731
        scheduler = torch.optim.lr_scheduler.LambdaLR(optimizer, lr_lambda=lr_lambda)
        ema = ModelEMA(model) if self.main else None
        start_epoch, best_fitness = self._resume_state(optimizer, scheduler, ema)
        if opt.sync_bn and self.rank >= 0 and self.device.type == "cuda":
            model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
        if self.rank >= 0:
            model = nn.parallel.DistributedDataParallel(
                model, device_ids=[self.local_rank] if self.device.type == "cuda" else None,
                output_device=self.local_rank if self.device.type == "cuda" else None)
        amp_dtype = None
        if opt.amp and self.device.type == "cuda":
            amp_dtype = torch.float16
        elif opt.amp and self.device.type == "cpu" and cpu.has_native_bf16() and not opt.deterministic:
            amp_dtype = torch.bfloat16
        batches = len(self.train_loader)
        warmup = min(max(round(hyp["warmup_epochs"] * batches), 1), 1000) if hyp["warmup_epochs"] > 0 else 0
        loss_hyp = dict(hyp, cls=hyp["cls"] * self.data.nc / 80)  # YOLOR scales the class gain to the class count
        return _Run(model, ema, optimizer, scheduler, lr_lambda, torch.amp.GradScaler("cuda", enabled=amp_dtype == torch.float16),
                    amp_dtype, YoloLoss(_unwrap(model), loss_hyp), MultiLabelLoss(hyp), embedding_loss, accumulate,
                    warmup, start_epoch, best_fitness, self.save_dir / "weights")

    def _embedding_loss(self, model) -> EmbeddingLoss | None:
        """The identity loss when the model has an [embedding] layer and the data identities; a note when
        only one of them is there (the other part trains as it would alone)."""
        dims = [n.shape.c for n in model.graph.nodes if n.spec.aux_output == "embeddings"]
        if dims and self.num_ids > 1:
            loss = EmbeddingLoss(dims[0], self.num_ids, self.hyp["emb"]).to(self.device)
            if self.resume_ckpt is not None and "embedding_loss" in self.resume_ckpt:
                loss.load_state_dict(self.resume_ckpt["embedding_loss"])
            if self.main:
                print(f"embedding: {dims[0]}-d, trained to tell {self.num_ids} identities apart (gain emb "
                      f"{self.hyp['emb']:g})")
            return loss
        if dims and self.main:
            print("note: the [embedding] layer is not trained: the training data has no identities (list "
                  "MOTChallenge sequences or JDE label files in the data yaml)")
        return None

    def _resume_state(self, optimizer, scheduler, ema) -> tuple[int, float]:
        """(first epoch, best fitness so far): a resumed run's, with its optimizer, schedule, EMA and RNGs."""
        if self.resume_ckpt is None:
            return 0, -1.0
        ckpt = self.resume_ckpt
        optimizer.load_state_dict(ckpt["optimizer"])
        scheduler.load_state_dict(ckpt["scheduler"])
        if ema is not None:
            load_state_dict(ema.ema, ckpt["model"], "resume (EMA)")
            ema.updates = int(ckpt["ema_updates"])
        _set_rng_state(ckpt["rng"])
        start_epoch = int(ckpt["epoch"]) + 1
        if self.main:
            kept = ", ".join(f"{k} {getattr(self.opt, k)}" for k in ("cfg", "data", "epochs", "batch", "img", "hyp",
                                                                      "optimizer", "seed"))
            print(f"resuming {self.save_dir} from epoch {start_epoch} with the run's own options: {kept}")
        return start_epoch, float(ckpt["best_fitness"])

    def _warm_up(self, run: _Run, iteration: int, epoch: int) -> None:
        """Linear warm-up of the accumulation, the learning rates (biases from warmup_bias_lr) and momentum."""
        span = [0, run.warmup_iterations]
        hyp, opt = self.hyp, self.opt
        run.accumulate = max(1, round(np.interp(iteration, span, [1, opt.nominal_batch / opt.batch])))
        for j, group in enumerate(run.optimizer.param_groups):
            group["lr"] = float(np.interp(iteration, span, [hyp["warmup_bias_lr"] if j == 2 else 0.0,
                                                            group["initial_lr"] * run.lr_lambda(epoch)]))
            if "momentum" in group:
                group["momentum"] = float(np.interp(iteration, span, [hyp["warmup_momentum"], hyp["momentum"]]))

    def _train_epoch(self, run: _Run, epoch: int) -> tuple[torch.Tensor, bool]:
        """One pass over the training data: (mean loss items, whether max_steps stopped the run)."""
        opt, model = self.opt, run.model
        model.train()
        self.train_set.set_epoch(epoch)
        self.sampler.set_epoch(epoch)
        batches = len(self.train_loader)
        mean_loss = torch.zeros(4)
        run.optimizer.zero_grad()
        bar = tqdm(enumerate(self.train_loader), total=batches, disable=not (self.main and opt.progress),
                   desc=f"epoch {epoch + 1}/{opt.epochs}", leave=True)
        started, seen = time.time(), 0
        for i, (imgs, targets, paths, _) in bar:
            iteration = i + batches * epoch
            imgs = imgs.to(self.device, non_blocking=True).float() / 255
            targets = targets.to(self.device)
            if iteration <= run.warmup_iterations and run.warmup_iterations > 0:
                self._warm_up(run, iteration, epoch)
            with torch.autocast(device_type=self.device.type, dtype=run.amp_dtype, enabled=run.amp_dtype is not None):
                out = model(imgs)
            raw, aux = out if isinstance(out, tuple) else (out, {})
            mlc_logits = aux.get("multilabel")
            loss, items = run.detection_loss([r.float() for r in raw], targets[:, :6])
            if mlc_logits is not None:
                loss = loss + run.multilabel_loss(mlc_logits, targets[:, :6])
            if run.embedding_loss is not None:
                loss = loss + run.embedding_loss(aux["embeddings"], targets)
            if self.rank >= 0:
                loss = loss * self.world  # DDP averages gradients across ranks
            if not torch.isfinite(loss):
                raise TrainingError(
                    f"loss became {loss.item()} at epoch {epoch + 1}, step {i + 1} (batch of {paths[0]} ...); "
                    f"stopped; the last good checkpoint is {run.weights_dir / 'last.pt'}")
            run.scaler.scale(loss).backward()
            if iteration % run.accumulate == 0 or i == batches - 1:
                run.scaler.step(run.optimizer)
                run.scaler.update()
                run.optimizer.zero_grad()
                if run.ema is not None:
                    run.ema.update(_unwrap(model))
                run.step += 1
            mean_loss = (mean_loss * i + items.cpu()) / (i + 1)
            seen += imgs.shape[0]
            if self.main and opt.progress:
                mem = f"{torch.cuda.memory_reserved() / 1e9:.2g}G" if self.device.type == "cuda" else "cpu"
                bar.set_postfix(box=f"{mean_loss[0]:.4f}", obj=f"{mean_loss[1]:.4f}", cls=f"{mean_loss[2]:.4f}",
                                targets=targets.shape[0], mem=mem,
                                img_s=f"{seen * self.world / (time.time() - started):.1f}")
            if opt.max_steps is not None and run.step >= opt.max_steps:
                return mean_loss, True
        return mean_loss, False

    def _end_epoch(self, run: _Run, epoch: int, mean_loss: torch.Tensor, lrs: list[float], started: float):
        """Validate the EMA model, append results.csv, write last.pt (and best.pt when it is the best)."""
        opt = self.opt
        result = run_validation(run.ema.ema, self.val_loader, self.data.names, self.val_gt, opt.val_conf, opt.val_iou,
                                device=self.device, verbose=False, progress=opt.progress, autocast_dtype=run.amp_dtype)
        fitness = 0.1 * result.map50 + 0.9 * result.map
        row = {"epoch": epoch + 1, "box_loss": float(mean_loss[0]), "obj_loss": float(mean_loss[1]),
               "cls_loss": float(mean_loss[2]), "mAP50": result.map50, "mAP50_95": result.map,
               "AR100": result.metrics["AR100"], "mlc_mAP": result.metrics.get("mlc_mAP", ""),
               "lr0": lrs[0], "lr1": lrs[1], "lr2": lrs[2], "epoch_s": round(time.time() - started, 2)}
        results_csv = self.save_dir / "results.csv"
        new_file = not results_csv.exists() or epoch == 0
        with open(results_csv, "w" if new_file else "a", newline="") as f:
            writer = csv.DictWriter(f, fieldnames=list(row))
            if new_file:
                writer.writeheader()
            writer.writerow(row)
        print(f"epoch {epoch + 1}: mAP@0.5 {result.map50:.3f}  mAP@0.5:0.95 {result.map:.3f}  "
              f"loss {float(mean_loss[3]):.4f}  ({time.time() - self.t_start:.0f} s)")
        run.best_fitness = max(run.best_fitness, fitness)
        extra = {"epoch": epoch, "best_fitness": run.best_fitness, "optimizer": run.optimizer.state_dict(),
                 "scheduler": run.scheduler.state_dict(), "ema_updates": run.ema.updates, "hyp": dict(self.hyp),
                 "model_train": {k: v.detach().cpu() for k, v in _unwrap(run.model).state_dict().items()},
                 "rng": _rng_state(), "save_dir": str(self.save_dir),
                 "train_options": {k: v for k, v in asdict(opt).items() if k != "hyp_overrides"},
                 "metrics": result.metrics,
                 **({"embedding_loss": run.embedding_loss.state_dict()} if run.embedding_loss is not None else {})}
        save_checkpoint(run.ema.ema, run.weights_dir / "last.pt", self.data.names, **extra)
        if fitness >= run.best_fitness:
            save_checkpoint(run.ema.ema, run.weights_dir / "best.pt", self.data.names, **extra)
        return result


@dataclass
class _Run:
    """The state one training run carries from step to step."""

    model: nn.Module  # DDP-wrapped under torchrun
    ema: ModelEMA | None  # rank 0 only
    optimizer: torch.optim.Optimizer
    scheduler: torch.optim.lr_scheduler.LambdaLR
    lr_lambda: object
    scaler: torch.amp.GradScaler
    amp_dtype: torch.dtype | None
    detection_loss: YoloLoss
    multilabel_loss: MultiLabelLoss
    embedding_loss: EmbeddingLoss | None  # with an [embedding] layer and identities in the data
    accumulate: int  # batches per optimizer step (ramps up during warm-up)
    warmup_iterations: int
    start_epoch: int
    best_fitness: float
    weights_dir: Path
    step: int = 0  # optimizer steps taken


class _EpochShuffle(torch.utils.data.Sampler):
    """A shuffling sampler whose order depends only on (seed, epoch): resumable exactly."""

    def __init__(self, n: int, seed: int):
        self.n, self.seed, self.epoch = n, seed, 0

    def set_epoch(self, epoch: int) -> None:
        self.epoch = epoch

    def __iter__(self):
        g = torch.Generator().manual_seed(self.seed * 100003 + self.epoch)
        return iter(torch.randperm(self.n, generator=g).tolist())

    def __len__(self) -> int:
        return self.n


def plot_results(csv_path: Path, png_path: Path) -> None:
    """Losses and metrics per epoch, one panel each."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    if not csv_path.exists():
        return
    with open(csv_path) as f:
        rows = list(csv.DictReader(f))
    if not rows:
        return
    keys = ["box_loss", "obj_loss", "cls_loss", "mAP50", "mAP50_95", "AR100"]
    epochs = [int(r["epoch"]) for r in rows]
    fig, axes = plt.subplots(2, 3, figsize=(12, 6), dpi=100)
    for ax, key in zip(axes.ravel(), keys):
        ax.plot(epochs, [float(r[key]) for r in rows], marker=".", lw=2)
        ax.set_title(key)
        ax.set_xlabel("epoch")
        ax.grid(alpha=0.3)
    fig.tight_layout()
    fig.savefig(png_path)
    plt.close(fig)


def train(**kwargs) -> dict:
    """Python entry point: ``yolor_cfg.workflows.train.trainer.train(cfg=..., data=..., epochs=...)``."""
    return Trainer(TrainOptions(**kwargs)).train()
