"""The container each component of a job runs in: a plain dataclass, built without a Docker engine."""

from __future__ import annotations

from dataclasses import dataclass, field
from pathlib import Path

from nemo_pipeline.errors import ConfigError
from nemo_pipeline.jobs._graph import SANDBOX, Component, Job, JobGraph
from nemo_pipeline.jobs.docker._config import DockerClusterConfig
from nemo_pipeline.layout import REPO_ROOT, component_log

__all__ = ["ContainerSpec", "code_dir", "container_specs"]

LABEL = "nemo-pipeline"
CGROUP_ROOT = "/sys/fs/cgroup"
# What the sandbox's isolation layers need from its container (docs/CLUSTERS.md, "The sandbox in a container"):
# bubblewrap creates user, pid and network namespaces, which Docker's default seccomp profile refuses, and mounts a
# /proc for its pid namespace, which the kernel refuses while Docker masks paths of the container's /proc; per-run pids
# and memory limits need a writable cgroup tree (Docker mounts it read-only); and the host pid namespace keeps the
# uids and cgroup names the server derives from its pid distinct from every other sandbox server on the machine.
SANDBOX_SECURITY_OPT = ("seccomp=unconfined",)
SANDBOX_PID_MODE = "host"


@dataclass(frozen=True)
class ContainerSpec:
    """The arguments of `client.containers.run(...)` for one component (see `kwargs`)."""

    component: str
    name: str
    image: str
    command: tuple[str, ...]
    working_dir: str
    volumes: dict[str, dict[str, str]]  # host path -> {"bind": container path, "mode": "rw" | "ro"}
    environment: dict[str, str]
    network_mode: str
    labels: dict[str, str]
    gpus: int = 0
    shm_size: str | None = None
    log: str = ""  # host path of the component's log
    security_opt: tuple[str, ...] = ()
    pid_mode: str | None = None
    unmask_proc: bool = False  # no masked or read-only /proc paths (the CLI's --security-opt systempaths=unconfined)
    extra: dict[str, str] = field(default_factory=dict)

    def kwargs(self) -> dict[str, object]:
        """Keyword arguments for docker's `containers.run` (detach=True is added by the runner)."""
        from docker.types import DeviceRequest  # the [docker] extra; only called with an engine at hand

        args: dict[str, object] = {
            "image": self.image,
            "entrypoint": [self.command[0]],  # the image's own entrypoint would prefix our argv
            "command": list(self.command[1:]),
            "name": self.name,
            "working_dir": self.working_dir,
            "volumes": self.volumes,
            "environment": self.environment,
            "network_mode": self.network_mode,
            "labels": self.labels,
        }
        if self.shm_size:
            args["shm_size"] = self.shm_size
        if self.security_opt:
            args["security_opt"] = list(self.security_opt)
        if self.pid_mode:
            args["pid_mode"] = self.pid_mode
        if self.gpus:
            args["device_requests"] = [DeviceRequest(count=self.gpus, capabilities=[["gpu"]])]
        return args

    def to_json(self) -> dict[str, object]:
        """What `jobs/<job>.docker.json` records (also the dry run's output)."""
        return {
            "component": self.component,
            "name": self.name,
            "image": self.image,
            "command": list(self.command),
            "working_dir": self.working_dir,
            "volumes": self.volumes,
            "environment": self.environment,
            "network_mode": self.network_mode,
            "labels": self.labels,
            "gpus": self.gpus,
            "shm_size": self.shm_size,
            "security_opt": list(self.security_opt),
            "pid_mode": self.pid_mode,
            "unmask_proc": self.unmask_proc,
            "log": self.log,
        }


def code_dir(cluster: DockerClusterConfig) -> str:
    """Where the checkout holding `pipeline/` is mounted in each container."""
    return cluster.code_dir or str(REPO_ROOT)


def _image(cluster: DockerClusterConfig, job: Job, component: Component) -> str:
    image = cluster.images.get(component.name) or component.image or cluster.default_image
    if not image:
        raise ConfigError(
            f"job '{job.name}', component '{component.name}': no container image; name one under 'images:' "
            f"({component.name}: IMAGE) or set 'default_image:' in the docker cluster config"
        )
    return image


def _container_name(output_dir: Path, job: str, component: str) -> str:
    """Unique per run directory, readable in `docker ps`, and within Docker's allowed characters."""
    import hashlib

    run = hashlib.sha256(str(output_dir).encode()).hexdigest()[:8]
    safe = "".join(c if c.isalnum() or c in "_.-" else "-" for c in f"{job}-{component}")
    return f"np-{run}-{safe}"


def container_specs(cluster: DockerClusterConfig, graph: JobGraph, job: Job) -> list[ContainerSpec]:
    """One container per component; the job's GPUs go to its server components (names ending in 'server'), or to
    the main one when it has none. The output directory and the checkout are mounted at the paths the job's argv
    names, so commands built by the graph work unchanged inside the images."""
    if not job.components:
        raise ConfigError(f"job '{job.name}' has no components")
    layout = graph.layout(job)
    output_dir = str(Path(graph.output_dir).resolve())
    code = code_dir(cluster)
    volumes: dict[str, dict[str, str]] = {
        output_dir: {"bind": output_dir, "mode": "rw"},
        str(REPO_ROOT): {"bind": code, "mode": "ro"},
    }
    for mount in cluster.mounts:
        host, bind, *mode = mount.split(":")
        volumes[host] = {"bind": bind, "mode": mode[0] if mode else "rw"}
    servers = [c.name for c in job.components if c.name.endswith("server")]
    gpu_takers = set(servers or [job.main.name])
    environment = {"PYTHONPATH": code, "PYTHONUNBUFFERED": "1", **cluster.env}
    specs = []
    for component in job.components:
        sandbox = component.name == SANDBOX
        binds = {**volumes, CGROUP_ROOT: {"bind": CGROUP_ROOT, "mode": "rw"}} if sandbox else volumes
        specs.append(
            ContainerSpec(
                component=component.name,
                name=_container_name(Path(output_dir), job.name, component.name),
                image=_image(cluster, job, component),
                command=component.argv,
                working_dir=str(layout.root.resolve()),
                volumes=binds,
                environment={**environment, **component.env},
                network_mode=cluster.network_mode,
                labels={LABEL: "1", f"{LABEL}.run": output_dir, f"{LABEL}.job": job.name},
                gpus=job.gpus if component.name in gpu_takers else 0,
                shm_size=cluster.shm_size,
                log=str(component_log(layout.log_dir(job.file_stem).resolve(), component.name)),
                security_opt=SANDBOX_SECURITY_OPT if sandbox else (),
                pid_mode=SANDBOX_PID_MODE if sandbox else None,
                unmask_proc=sandbox,
            )
        )
    return specs
