"""Training: data, augmentation, the YOLOR loss and the trainer."""
