"""What every benchmark's profiles share: `run` checks the host first (carbon-launcher check),
so the lightweight stand-in JVMs get a simulated JDK and the small heap they really use."""
import pathlib

SIM_JDK_VERSION = "17.0.12"


def lightweight(root, profile):
    """`profile` with a simulated JDK under `root` and a 64 MiB heap, unless it sets its own."""
    jdk = pathlib.Path(root) / "jdk"
    (jdk / "bin").mkdir(parents=True, exist_ok=True)
    (jdk / "release").write_text(f'JAVA_VERSION="{SIM_JDK_VERSION}"\n')
    env = {"JAVA_OPTS": "-Xmx64m", **profile.get("env", {})}
    return {"java_home": str(jdk), **profile, "env": env}
