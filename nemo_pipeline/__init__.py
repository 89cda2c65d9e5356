"""nemo-pipeline: evaluate large language models on benchmarks, locally or on Slurm."""

__version__ = "0.1.0"

__all__ = ["__version__"]
