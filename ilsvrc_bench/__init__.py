"""ilsvrc-bench: evaluate image classifiers on ILSVRC (ImageNet) val and place them in the challenge's history."""

__version__ = "0.1.0"
