"""Convert a YOLOR paper-branch model YAML into a cfg: ``python tools/yaml2cfg.py IN.yaml OUT.cfg [--img S]``
(the same as ``yolor-cfg yaml2cfg``)."""
import sys

from yolor_cfg.cli import main

if __name__ == "__main__":
    sys.exit(main(["yaml2cfg", *sys.argv[1:]]))
