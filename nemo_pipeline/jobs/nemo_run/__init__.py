"""nemo-run backend (`backend: nemo-run`, the `[nemo-run]` extra): the job graph as one nemo-run experiment.

Importing this package registers the backend; nemo-run itself is imported only when a run is submitted.
"""

from nemo_pipeline.jobs.nemo_run._backend import NemoRunBackend, NemoRunHandle, nemo_run_backend
from nemo_pipeline.jobs.nemo_run._config import NemoRunClusterConfig

__all__ = ["NemoRunBackend", "NemoRunClusterConfig", "NemoRunHandle", "nemo_run_backend"]
