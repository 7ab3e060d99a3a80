"""Evaluation: NMS, COCO metrics (pycocotools), validation loop."""
