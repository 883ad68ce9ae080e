"""Evaluate image classifiers on ILSVRC (ImageNet) val and place them in its history."""

__version__ = "0.1.0"
